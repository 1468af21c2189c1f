package dev.mvp.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Which parts a pre-training recipe is assembled from, by name: a paper's preset, and at most one part swapped per
 * flag, so that an ablation is one argument ({@code --recipe mvp --masking random}) and changes nothing else.
 * {@link Recipes#build(PretrainConfig, RecipeSpec)} turns it into a {@link dev.mvp.api.Recipe}.
 *
 * <p>The presets ({@link Preset}) fix the tokenizer (the target), the masking, the student backbone, the head (always
 * one linear layer per token into the target space, as MVP, BEiT and MaskFeat use) and the loss. Optimisation
 * settings (learning rate, betas, epochs, batch) are the run's ({@link PretrainConfig}), not the recipe's: each
 * preset's javadoc lists the paper's values so that a faithful run can pass them.
 *
 * @param preset      the preset the parts start from
 * @param tokenizer   the target, or {@code null} for the preset's
 * @param masking     the masking strategy, or {@code null} for the preset's
 * @param backbone    the student, or {@code null} for the preset's
 * @param loss        the loss, or {@code null} for the preset's
 * @param maskPatches masked patches at a 14x14 grid (scaled by area on other grids), or {@code null} for the preset's
 */
public record RecipeSpec(Preset preset, TokenizerPart tokenizer, MaskingPart masking, BackbonePart backbone,
                         LossPart loss, Integer maskPatches) {

    public RecipeSpec {
        Objects.requireNonNull(preset, "preset");
        if (maskPatches != null && (maskPatches < 0 || maskPatches > 196)) {
            throw new InvalidRecipeException("--mask-patches must be in [0, 196] (a count at 14x14), got " + maskPatches);
        }
    }

    /** A preset with none of its parts swapped. */
    public static RecipeSpec of(Preset preset) {
        return new RecipeSpec(preset, null, null, null, null, null);
    }

    /** {@link #of(Preset)} by name, e.g. {@code mvp} or {@code mae-style-blockwise}. */
    public static RecipeSpec of(String preset) {
        return of(Preset.parse(preset));
    }

    public RecipeSpec withTokenizer(TokenizerPart part) {
        return new RecipeSpec(preset, part, masking, backbone, loss, maskPatches);
    }

    public RecipeSpec withMasking(MaskingPart part) {
        return new RecipeSpec(preset, tokenizer, part, backbone, loss, maskPatches);
    }

    public RecipeSpec withBackbone(BackbonePart part) {
        return new RecipeSpec(preset, tokenizer, masking, part, loss, maskPatches);
    }

    public RecipeSpec withLoss(LossPart part) {
        return new RecipeSpec(preset, tokenizer, masking, backbone, part, maskPatches);
    }

    public RecipeSpec withMaskPatches(Integer count) {
        return new RecipeSpec(preset, tokenizer, masking, backbone, loss, count);
    }

    /** The tokenizer used: the swapped one or the preset's. */
    public TokenizerPart resolvedTokenizer() {
        return tokenizer != null ? tokenizer : preset.tokenizer;
    }

    public MaskingPart resolvedMasking() {
        return masking != null ? masking : preset.masking;
    }

    public BackbonePart resolvedBackbone() {
        return backbone != null ? backbone : preset.backbone;
    }

    public LossPart resolvedLoss() {
        return loss != null ? loss : preset.loss;
    }

    public int resolvedMaskPatches() {
        return maskPatches != null ? maskPatches : preset.maskPatches;
    }

    /** The parts that differ from the preset's, as {@code flag -> value} (empty for the preset as published). */
    public Map<String, String> overrides() {
        Map<String, String> m = new LinkedHashMap<>();
        if (tokenizer != null && tokenizer != preset.tokenizer) m.put("tokenizer", tokenizer.id);
        if (masking != null && masking != preset.masking) m.put("masking", masking.id);
        if (backbone != null && backbone != preset.backbone) m.put("backbone", backbone.id);
        if (loss != null && loss != preset.loss) m.put("loss", loss.id);
        if (maskPatches != null && maskPatches != preset.maskPatches) m.put("mask-patches", maskPatches.toString());
        return m;
    }

    /**
     * The recipe's name as logs and {@code config.json} show it: the preset, and each swapped part with the value it
     * replaced, e.g. {@code mvp --masking random (preset: beit)}.
     */
    public String name() {
        List<String> parts = new ArrayList<>();
        parts.add(preset.id);
        Map<String, String> o = overrides();
        o.forEach((flag, value) -> parts.add("--" + flag + " " + value + " (preset: " + presetValue(flag) + ")"));
        return String.join(" ", parts);
    }

    /**
     * {@link #name()} and the resolved parts, as the recipe's name in logs and {@code config.json}, e.g.
     * {@code maskfeat: tokenizer hog, masking beit (78 at 14x14), backbone vit, loss mse}.
     */
    public String label() {
        return name() + ": tokenizer " + resolvedTokenizer().id + ", masking " + resolvedMasking().id
                + (resolvedMasking() == MaskingPart.NONE ? "" : " (" + resolvedMaskPatches() + " at 14x14)")
                + ", backbone " + resolvedBackbone().id + ", loss " + resolvedLoss().id;
    }

    /**
     * The resolved parts by name, for configuration files: {@code recipe, tokenizer, masking, mask-patches, backbone,
     * loss, overrides} ({@code config.json} shows it next to the spec; it is not read back).
     */
    @JsonProperty(value = "resolved", access = JsonProperty.Access.READ_ONLY)
    public Map<String, String> resolved() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("recipe", preset.id);
        m.put("tokenizer", resolvedTokenizer().id);
        m.put("masking", resolvedMasking().id);
        m.put("mask-patches", Integer.toString(resolvedMaskPatches()));
        m.put("backbone", resolvedBackbone().id);
        m.put("loss", resolvedLoss().id);
        m.put("overrides", overrides().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(",")));
        return m;
    }

    private String presetValue(String flag) {
        return switch (flag) {
            case "tokenizer" -> preset.tokenizer.id;
            case "masking" -> preset.masking.id;
            case "backbone" -> preset.backbone.id;
            case "loss" -> preset.loss.id;
            default -> Integer.toString(preset.maskPatches);
        };
    }

    // ---- the presets -------------------------------------------------------------------------------------------

    /**
     * The methods, named after their papers. Optimisation values are listed for reference; they are set on the run
     * ({@link PretrainConfig}), whose defaults are MVP's.
     */
    public enum Preset {
        /**
         * MVP (Wei et al. 2022, "MVP: Multimodality-guided Visual Pre-training"): the frozen vision tower of CLIP
         * ViT-B/16 as the teacher (per-token features in CLIP's joint space, CLS included), BEiT's blockwise masking of
         * 75 of 196 patches, a ViT student, one linear head, and equation 9: minus the mean cosine over the CLS token
         * and all patch tokens. Paper settings: ViT-B/16 at 224, 300 epochs, batch 2048, AdamW lr 1.5e-3, weight decay
         * 0.05, BEiT's schedule (10 warm-up epochs, cosine to 1e-5) and gradient clipping 3.0.
         */
        MVP("mvp", TokenizerPart.CLIP, MaskingPart.BEIT, 75, BackbonePart.VIT, LossPart.COSINE),
        /**
         * BEiT (Bao et al. 2022): the d-VAE of DALL-E as the tokenizer (8192 visual tokens from a 112-pixel view, 8
         * times the student's grid), blockwise masking of 75 of 196 patches (at least 16 per block, aspect 0.3..1/0.3),
         * BEiT's ViT (q/v biases, layer scale 0.1, one relative position bias shared by all blocks, no absolute
         * position embedding, stochastic depth 0.1), a linear head onto the codebook and cross-entropy on the masked
         * patches. BEiT's settings (its README's pre-training command and paper): batch 2048, lr 1.5e-3 after a
         * linear warm-up, cosine decay, weight decay 0.05, gradient clipping 3.0, layer scale 0.1.
         */
        BEIT("beit", TokenizerPart.DALLE, MaskingPart.BEIT, 75, BackbonePart.BEIT, LossPart.CROSS_ENTROPY),
        /**
         * MVP's tokenizer ablation with DINO's self-supervised ViT-B/16 as the teacher instead of CLIP (its
         * final-normed per-token features, 768 dimensions): everything else as {@link #MVP}.
         */
        DINO_GUIDED("dino-guided", TokenizerPart.DINO, MaskingPart.BEIT, 75, BackbonePart.VIT, LossPart.COSINE),
        /**
         * MaskFeat (Wei et al. 2022, "Masked Feature Prediction"): HOG targets (9 orientation bins, 8x8-pixel cells,
         * per colour channel, L2-normalised per cell, Gaussian-weighted gradients: 108 values per 16-pixel patch),
         * blockwise masking of 40% (78 of 196 patches, as mmpretrain's MaskFeat configuration), a ViT student with a
         * linear head, and the mean squared error on the masked patches. mmpretrain's ViT-B settings: 300 epochs,
         * batch 2048, AdamW beta (0.9, 0.999), lr 2e-4 x 8, weight decay 0.05, gradient clipping 0.02,
         * RandomResizedCrop scale (0.5, 1).
         */
        MASKFEAT("maskfeat", TokenizerPart.HOG, MaskingPart.BEIT, 78, BackbonePart.VIT, LossPart.MSE),
        /**
         * MAE's target and masking (He et al. 2022): the normalised pixels of each masked patch (norm_pix_loss: per-patch
         * mean and variance, eps 1e-6), MAE's uniformly random masking of 75% (147 of 196 patches), mean squared
         * error on the masked patches. The student is this library's ViT with mask tokens in the encoder and a linear
         * head (as SimMIM), not MAE's encoder-decoder. MAE's settings: 800-1600 epochs, batch 4096, AdamW beta
         * (0.9, 0.95), base lr 1.5e-4 per 256 images, weight decay 0.05, 40 warm-up epochs, RandomResizedCrop (0.2, 1).
         */
        MAE_STYLE_RANDOM("mae-style-random", TokenizerPart.PIXELS, MaskingPart.RANDOM, 147, BackbonePart.VIT, LossPart.PIXEL_MSE),
        /** {@link #MAE_STYLE_RANDOM} with BEiT's blockwise masking of the same 147 patches: MAE's Table 1(f) ablation. */
        MAE_STYLE_BLOCKWISE("mae-style-blockwise", TokenizerPart.PIXELS, MaskingPart.BEIT, 147, BackbonePart.VIT, LossPart.PIXEL_MSE);

        /** The name on the command line (and in {@code config.json}). */
        @JsonValue
        public final String id;
        public final TokenizerPart tokenizer;
        public final MaskingPart masking;
        public final int maskPatches;
        public final BackbonePart backbone;
        public final LossPart loss;

        Preset(String id, TokenizerPart tokenizer, MaskingPart masking, int maskPatches, BackbonePart backbone, LossPart loss) {
            this.id = id;
            this.tokenizer = tokenizer;
            this.masking = masking;
            this.maskPatches = maskPatches;
            this.backbone = backbone;
            this.loss = loss;
        }

        /** By name; {@code mae-style} is {@link #MAE_STYLE_RANDOM}, MAE's own masking. */
        @JsonCreator
        public static Preset parse(String name) {
            String n = name.toLowerCase(Locale.ROOT).strip();
            if (n.equals("mae-style") || n.equals("mae")) return MAE_STYLE_RANDOM;
            for (Preset p : values()) if (p.id.equals(n)) return p;
            throw new InvalidRecipeException("unknown recipe '" + name + "' (expected " + ids(values()) + ", or mae-style)");
        }
    }

    // ---- the parts ---------------------------------------------------------------------------------------------

    /** What the student predicts. */
    public enum TokenizerPart {
        /** CLIP's vision tower, per-token features (needs CLIP weights, or {@code random} for a wiring check). */
        CLIP("clip", true),
        /** DINO's ViT, final-normed per-token features (needs DINO weights). */
        DINO("dino", true),
        /** DALL-E's d-VAE encoder, visual token ids (needs its encoder.pkl). */
        DALLE("dalle", true),
        /** MaskFeat's HOG, 9 bins, 8x8 cells, Gaussian window 16. */
        HOG("hog", false),
        /** MAE's raw patchified pixels (the loss may normalise them per patch). */
        PIXELS("pixels", false),
        /** Pixels normalised per patch by the tokenizer. */
        PIXELS_NORM("pixels-norm", false);

        @JsonValue
        public final String id;
        /** Whether this tokenizer has weights, given with {@code --teacher FILE}. */
        public final boolean hasWeights;

        TokenizerPart(String id, boolean hasWeights) {
            this.id = id;
            this.hasWeights = hasWeights;
        }

        @JsonCreator
        public static TokenizerPart parse(String name) {
            return find(values(), name, "tokenizer", p -> p.id);
        }
    }

    /** How patches are hidden from the student. */
    public enum MaskingPart {
        /** BEiT's blockwise generator: at most the target, usually exactly it. */
        BEIT("beit"),
        /** BEiT's generator topped up with random patches to exactly the target (not in BEiT). */
        BEIT_TOPUP("beit-topup"),
        /** MAE's uniformly random patches, exactly the target. */
        RANDOM("random"),
        /** Nothing masked (only for losses over all patches). */
        NONE("none");

        @JsonValue
        public final String id;

        MaskingPart(String id) {
            this.id = id;
        }

        @JsonCreator
        public static MaskingPart parse(String name) {
            if (name.equalsIgnoreCase("blockwise")) return BEIT;
            return find(values(), name, "masking", p -> p.id);
        }
    }

    /** The student network. */
    public enum BackbonePart {
        /** timm's plain ViT: fused qkv bias, learned absolute positions, no layer scale. */
        VIT("vit"),
        /** BEiT's pre-training ViT: q/v biases, layer scale, shared relative position bias, stochastic depth 0.1. */
        BEIT("beit");

        @JsonValue
        public final String id;

        BackbonePart(String id) {
            this.id = id;
        }

        @JsonCreator
        public static BackbonePart parse(String name) {
            return find(values(), name, "backbone", p -> p.id);
        }
    }

    /** How predictions are compared with targets. */
    public enum LossPart {
        /** MVP's equation 9: the CLS token and all patch tokens. */
        COSINE("cosine"),
        /** EVA: cosine over the masked patches only, no CLS term. */
        COSINE_MASKED("cosine-masked"),
        /** BEiT: cross-entropy over the codebook on the masked patches. */
        CROSS_ENTROPY("cross-entropy"),
        /** MaskDistill: smooth-L1 (beta 2) to LayerNorm-normalised targets on the masked patches. */
        SMOOTH_L1("smooth-l1"),
        /** MaskFeat: mean squared error to the raw targets on the masked patches. */
        MSE("mse"),
        /** Mean squared error to LayerNorm-normalised targets on the masked patches. */
        MSE_LN("mse-ln"),
        /** MILAN: {@code 2 - 2 cos} on the masked patches. */
        MILAN("2-2cos"),
        /** MAE: mean squared error to per-patch normalised pixels on the masked patches (norm_pix_loss). */
        PIXEL_MSE("pixel-mse"),
        /** MAE without norm_pix_loss: mean squared error to the raw pixels on the masked patches. */
        PIXEL_MSE_RAW("pixel-mse-raw");

        @JsonValue
        public final String id;

        LossPart(String id) {
            this.id = id;
        }

        @JsonCreator
        public static LossPart parse(String name) {
            if (name.equalsIgnoreCase("milan")) return MILAN;
            return find(values(), name, "loss", p -> p.id);
        }

        /** Whether this loss compares masked patches only (and so needs a mask that hides something). */
        public boolean maskedOnly() {
            return this != COSINE;
        }
    }

    private static <E extends Enum<E>> E find(E[] values, String name, String what, java.util.function.Function<E, String> id) {
        String n = name.toLowerCase(Locale.ROOT).strip();
        for (E e : values) if (id.apply(e).equals(n)) return e;
        throw new InvalidRecipeException("unknown " + what + " '" + name + "' (expected "
                + Arrays.stream(values).map(id).collect(Collectors.joining(", ")) + ")");
    }

    private static String ids(Preset[] presets) {
        return Arrays.stream(presets).map(p -> p.id).collect(Collectors.joining(", "));
    }
}
