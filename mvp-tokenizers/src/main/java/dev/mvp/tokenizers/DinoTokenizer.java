package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.PositionResampling;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A frozen DINO Vision Transformer (facebookresearch/dino) as a teacher: the targets are the final-normed features of
 * every token, {@code get_intermediate_layers(x, n=1)[0]} in DINO's code.
 *
 * <p>The network is DINO's {@code vit_tiny/small/base}: timm's ViT arithmetic ({@link VisionTransformer}, reused),
 * pre-LN blocks, fused qkv with bias, exact (erf) GELU, LayerNorm eps 1e-6, a learned position embedding for the CLS
 * token and the checkpoint's grid. At another input size the position embedding is interpolated once, at load, the
 * way DINO's {@code interpolate_pos_encoding} does it on every forward ({@link PositionResampling.Style#DINO}: bicubic
 * with the scale factor {@code (g' + 0.1) / g}).
 *
 * <p><b>Layouts.</b> DINO's released backbones ({@code dino_vitbase16_pretrain.pth}: {@code torch.save} of a plain
 * state dict) and timm's ({@code vit_base_patch16_224.dino}) share one naming: {@code cls_token}, {@code pos_embed},
 * {@code patch_embed.proj.weight/bias}, {@code blocks.N.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2.*},
 * {@code norm.weight/bias}. DINO's training checkpoints ({@code checkpoint.pth},
 * {@code *_full_checkpoint.pth}) nest it: {@code teacher} holds {@code backbone.*} (and the projection head
 * {@code head.*}, ignored), {@code student} holds {@code module.backbone.*}. Any file {@link Weights#open} reads
 * works (safetensors, {@code torch.save} zip or legacy), fp32, fp16 or bf16; a key path picks the nested dict (by
 * default the top level, else {@code teacher}), and the prefix before {@code cls_token} is found by itself.
 *
 * <p>The architecture comes from the shapes, except the number of heads, which a checkpoint does not record: DINO's
 * models all use heads of 64 channels (3, 6, 12 heads for widths 192, 384, 768), the default.
 *
 * <ul>
 *   <li>{@link #inputSpec()}: {@code imageSize} pixels (the checkpoint's own, 224, unless another was asked for),
 *       bicubic, ImageNet's mean and std (DINO's transforms).</li>
 *   <li>{@link #targetSpec()}: {@code Features(width, includesCls = true)}; {@link #targets} returns float32
 *       [B, 1 + N, width] (768 for ViT-B/16).</li>
 * </ul>
 * Weights are float32 in memory. Build it outside any {@link PointerScope}; {@link #close()} frees the weights.
 */
public final class DinoTokenizer implements Tokenizer {
    /** Channels per attention head in every DINO ViT. */
    public static final int HEAD_DIM = 64;
    private static final double LAYER_NORM_EPS = 1e-6;

    private final VisionTransformer model;
    private final String source;
    private boolean closed;

    /**
     * How to read a DINO checkpoint.
     *
     * @param keyPath   where the state dict is in a {@code torch.save} checkpoint ({@code teacher}, {@code student});
     *                  empty: the top level, else the first of {@code state_dict, model, teacher, module}
     * @param imageSize input side in pixels (a multiple of the patch size); 0: the checkpoint's own
     * @param heads     attention heads; 0: {@code width / 64}, as in every DINO ViT
     */
    public record Options(String keyPath, int imageSize, int heads) {
        /** The checkpoint's own input size, DINO's head count, the state dict found automatically. */
        public static final Options DEFAULT = new Options("", 0, 0);

        public Options {
            java.util.Objects.requireNonNull(keyPath, "keyPath");
            if (imageSize < 0 || heads < 0) {
                throw new IllegalArgumentException("image size and heads must be >= 0 (0 = from the checkpoint), got "
                        + imageSize + " and " + heads);
            }
        }

        public Options withKeyPath(String path) {
            return new Options(path, imageSize, heads);
        }

        public Options withImageSize(int size) {
            return new Options(keyPath, size, heads);
        }

        public Options withHeads(int h) {
            return new Options(keyPath, imageSize, h);
        }
    }

    private DinoTokenizer(VisionTransformer model, String source) {
        this.model = model;
        this.source = source;
    }

    /** {@link #load(Path, Options)} with {@link Options#DEFAULT}. */
    public static DinoTokenizer load(Path file) {
        return load(file, Options.DEFAULT);
    }

    /**
     * Loads a DINO backbone from a weight file.
     *
     * @throws WeightFormatException one line naming the file (and the tensor): not a weight file, no state dict at
     *                               the key path, no {@code cls_token}, a missing or unexpected tensor, a shape that
     *                               does not fit
     * @throws IllegalArgumentException if the image size is not a multiple of the patch size, or the heads do not
     *                                  divide the width
     */
    public static DinoTokenizer load(Path file, Options options) {
        try (Weights weights = Weights.open(file, options.keyPath())) {
            return load(weights, options);
        }
    }

    /** As {@link #load(Path, Options)} from open weights (their key path already chosen; they stay open). */
    public static DinoTokenizer load(Weights weights, Options options) {
        String prefix = keyPrefix(weights);
        VitConfig config = inferConfig(weights, prefix, options);
        VisionTransformer vit = VisionTransformer.create(config);
        String source = weights.path() + (prefix.isEmpty() ? "" : " (" + prefix + "*)");
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> backbone = new LinkedHashMap<>();
            for (String name : weights.names()) {
                if (name.startsWith(prefix)) backbone.put(name.substring(prefix.length()), weights.tensor(name));
            }
            VitCheckpoints.copyInto(vit, backbone, source, PositionResampling.Style.DINO, true);
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
        // frozen; no eval(): with no stochastic depth the mode changes nothing, and Module.train() is a virtual call
        // into every child's Java peer, some of which (VisionTransformer's containers) may be garbage-collected
        // (docs/LIBTORCH-NOTES.md, Modules)
        try (PointerScope scope = new PointerScope()) {
            for (Tensor p : StateDict.of(vit).values()) p.requires_grad_(false);
        }
        return new DinoTokenizer(vit, source);
    }

    /**
     * The prefix before the backbone's names: {@code ""} (released backbones, timm), {@code backbone.} (a training
     * checkpoint's teacher), {@code module.backbone.} (its student), or whatever stands before the one
     * {@code cls_token}.
     */
    public static String keyPrefix(Weights weights) {
        List<String> found = new ArrayList<>();
        for (String name : weights.names()) {
            if (name.equals("cls_token") || name.endsWith(".cls_token")) found.add(name.substring(0, name.length() - 9));
        }
        if (found.size() == 1) return found.getFirst();
        throw WeightFormatException.of(weights.path(), found.isEmpty()
                ? "no tensor 'cls_token': not a DINO / timm Vision Transformer"
                : "several backbones (" + found + "cls_token): choose one with a key path");
    }

    /** The architecture {@code weights} hold under {@code prefix}, with the options' input size and heads. */
    static VitConfig inferConfig(Weights weights, String prefix, Options options) {
        long[] cls = shape(weights, prefix, "cls_token");
        if (cls.length != 3 || cls[0] != 1 || cls[1] != 1) throw badShape(weights, prefix + "cls_token", cls, "[1, 1, width]");
        int width = Math.toIntExact(cls[2]);
        long[] proj = shape(weights, prefix, "patch_embed.proj.weight");
        if (proj.length != 4 || proj[0] != width || proj[1] != 3 || proj[2] != proj[3]) {
            throw badShape(weights, prefix + "patch_embed.proj.weight", proj, "[" + width + ", 3, p, p]");
        }
        int patch = Math.toIntExact(proj[2]);
        long[] pos = shape(weights, prefix, "pos_embed");
        int grid = pos.length == 3 && pos[0] == 1 && pos[2] == width ? squareRoot(pos[1] - 1) : -1;
        if (grid < 1) throw badShape(weights, prefix + "pos_embed", pos, "[1, 1 + g*g, " + width + "]");
        int depth = 0;
        while (weights.contains(prefix + "blocks." + depth + ".norm1.weight")) depth++;
        if (depth == 0) throw WeightFormatException.of(weights.path(), prefix + "blocks.0.norm1.weight", "missing");
        long[] fc1 = shape(weights, prefix, "blocks.0.mlp.fc1.weight");
        if (fc1.length != 2 || fc1[1] != width) throw badShape(weights, prefix + "blocks.0.mlp.fc1.weight", fc1, "[hidden, " + width + "]");
        int heads = options.heads() > 0 ? options.heads() : Math.max(1, width / HEAD_DIM);
        int imageSize = options.imageSize() > 0 ? options.imageSize() : grid * patch;
        VitConfig.QkvBias bias = weights.contains(prefix + "blocks.0.attn.qkv.bias") ? VitConfig.QkvBias.QKV : VitConfig.QkvBias.NONE;
        return new VitConfig(imageSize, patch, width, depth, heads, fc1[0] / (double) width, bias, LAYER_NORM_EPS, 0,
                VitConfig.RelativePosition.NONE, true, 0, VitConfig.Pooling.CLS, 0, VitConfig.AttentionKernel.SDPA);
    }

    /** e.g. {@code dino-vit(width 768, depth 12, heads 12, patch 16, image 224) from dino_vitbase16_pretrain.pth}. */
    @Override public String name() {
        VitConfig c = model.config();
        return "dino-vit(width " + c.width() + ", depth " + c.depth() + ", heads " + c.heads() + ", patch " + c.patchSize()
                + ", image " + c.imageSize() + ") from " + source;
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(model.config().imageSize(), Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.Features(model.config().width(), true);
    }

    @Override public int gridSize() {
        return model.config().gridSize();
    }

    /**
     * The final-normed features of every token, without autograd.
     *
     * @param images float32 [B, 3, S, S] prepared as {@link #inputSpec()} says
     * @return float32 [B, 1 + N, width] (CLS first, then the patches row-major), a new tensor in the caller's scope
     */
    @Override public Tensor targets(Tensor images) {
        if (closed) throw new IllegalStateException(name() + " is closed");
        Tensor features;
        try (NoGradGuard noGrad = new NoGradGuard(); InferenceMode inference = new InferenceMode()) {
            features = model.forward(images, null);
        }
        // an inference tensor cannot be saved for backward by a loss: the copy made outside inference mode can
        return features.clone();
    }

    /** The backbone (frozen; its configuration, attention maps). */
    public VisionTransformer model() {
        return model;
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        model.close();
    }

    private static long[] shape(Weights weights, String prefix, String name) {
        if (!weights.contains(prefix + name)) {
            throw WeightFormatException.of(weights.path(), prefix + name, "missing: not a DINO / timm Vision Transformer");
        }
        TensorInfo info = weights.info(prefix + name);
        return info.shape();
    }

    private static WeightFormatException badShape(Weights weights, String name, long[] shape, String expected) {
        return WeightFormatException.of(weights.path(), name, "shape " + Arrays.toString(shape) + " is not " + expected);
    }

    private static int squareRoot(long v) {
        if (v < 1) return -1;
        long r = Math.round(Math.sqrt((double) v));
        return r * r == v ? (int) r : -1;
    }
}
