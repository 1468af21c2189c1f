package dev.mvp.models.clip;

import java.util.Locale;

/**
 * How a checkpoint names the tensors of CLIP's vision tower. All three are mapped onto one internal model
 * ({@link ClipVisionTransformer}, which uses OpenAI's names) by {@link ClipCheckpoint}.
 */
public enum ClipLayout {
    /**
     * OpenAI's {@code clip.model.CLIP} state dict: {@code visual.conv1.weight}, {@code visual.class_embedding},
     * {@code visual.positional_embedding}, {@code visual.ln_pre.*}, {@code visual.transformer.resblocks.N.attn.in_proj_*}
     * (q, k, v fused), {@code visual.ln_post.*}, {@code visual.proj}; with or without the {@code visual.} prefix; as a
     * TorchScript archive (OpenAI's released {@code .pt} files), a {@code torch.save} file or safetensors. QuickGELU.
     */
    OPENAI("openai"),
    /**
     * Hugging Face transformers' {@code CLIPModel} / {@code CLIPVisionModel(WithProjection)}: {@code vision_model.*}
     * with {@code embeddings.{class_embedding, patch_embedding, position_embedding}}, {@code pre_layrnorm},
     * {@code encoder.layers.N.self_attn.{q,k,v,out}_proj}, {@code layer_norm1/2}, {@code mlp.fc1/fc2},
     * {@code post_layernorm}, and {@code visual_projection.weight} ([output, width]) when there is a projection. The
     * activation and LayerNorm epsilon come from the {@code config.json} next to the weights.
     */
    HF("hf"),
    /**
     * open_clip's {@code CLIP}: OpenAI's names ({@code visual.*}), in training checkpoints under {@code state_dict}
     * with DistributedDataParallel's {@code module.} prefix. The activation comes from the {@code open_clip_config.json}
     * next to the weights ({@code model_cfg.quick_gelu}; open_clip's default, exact GELU, without one).
     */
    OPEN_CLIP("open_clip");

    private final String id;

    ClipLayout(String id) {
        this.id = id;
    }

    /** {@code openai}, {@code hf} or {@code open_clip}: the command line's name. */
    public String id() {
        return id;
    }

    /**
     * The layout named {@code openai}, {@code hf} (or {@code huggingface}) or {@code open_clip} (or {@code openclip}),
     * case-insensitive.
     *
     * @throws IllegalArgumentException for any other name
     */
    public static ClipLayout parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT).replace('-', '_')) {
            case "openai" -> OPENAI;
            case "hf", "huggingface", "hugging_face" -> HF;
            case "open_clip", "openclip" -> OPEN_CLIP;
            default -> throw new IllegalArgumentException("unknown CLIP layout '" + name + "' (expected openai, hf or open_clip)");
        };
    }

    @Override public String toString() {
        return id;
    }
}
