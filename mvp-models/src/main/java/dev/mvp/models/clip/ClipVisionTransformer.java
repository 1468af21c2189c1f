package dev.mvp.models.clip;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.PositionResampling;
import dev.mvp.models.io.Weights;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.nn.LayerNorm;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import java.util.random.RandomGenerator;

/**
 * CLIP's vision tower (OpenAI's {@code clip.model.VisionTransformer}), frozen, returning a feature for every token.
 *
 * <pre>
 * images [B,3,S,S] -> conv1 (p x p, stride p, no bias) -> [B,N,W]
 *   prepend class_embedding, add positional_embedding [1+N, W], ln_pre
 *   transformer.resblocks.i: x + attn(ln_1(x)), then x + mlp(ln_2(x))
 *       attn = multi-head self-attention, fused in_proj [3W, W] (q, k, v) and out_proj
 *       mlp  = c_fc (W -> 4W), activation (QuickGELU x * sigmoid(1.702 x), or GELU), c_proj (4W -> W)
 *   -> {@link #lastBlockTokens}: [B, 1+N, W]
 *   ln_post on every token, then @ proj [W, D] when the tower has a projection
 *   -> {@link #forward}: [B, 1+N, D] (D = W without projection)   (OpenAI's forward keeps only token 0 of this)
 * </pre>
 * LayerNorms (eps from the configuration, 1e-5 in released models) compute in float32, as CLIP's do. Note that
 * {@code ln_post} goes over every token here, where Hugging Face's {@code CLIPVisionTransformer} applies its
 * {@code post_layernorm} to the pooled class token only: MVP's per-token targets need it everywhere.
 *
 * <p><b>Input size.</b> S may be any multiple of the patch size. At the checkpoint's own size the position
 * embeddings are used as they are; otherwise the patch position embeddings are resampled as a g x g image to the
 * new grid with PyTorch's bicubic interpolation ({@code align_corners=False}, no antialiasing), the class position
 * kept apart: what Hugging Face's {@code interpolate_pos_encoding=True} computes.
 *
 * <p><b>Names.</b> Parameters are registered under OpenAI's state-dict names without the {@code visual.} prefix
 * ({@code conv1.weight}, {@code class_embedding}, {@code transformer.resblocks.0.attn.in_proj_weight}, ...,
 * {@code ln_post.bias}, {@code proj}), so loading is a name-by-name copy; other layouts are renamed onto these by
 * {@link ClipCheckpoint}. Every parameter has {@code requires_grad} false: this is a teacher.
 *
 * <p>Build it outside any {@link PointerScope} (its weights are long-lived); it holds float32 weights whatever the
 * file stored, and is released with {@link #close()}.
 */
public final class ClipVisionTransformer extends Module {
    private final ClipVisionConfig config;
    private final Tensor conv1;
    private final Tensor classEmbedding;
    private final Tensor positionalEmbedding;
    private final LayerNorm lnPre;
    private final List<ResidualAttentionBlock> blocks = new ArrayList<>();
    private final LayerNorm lnPost;
    /** [width, outputDim], or null for a tower without projection. */
    private final Tensor proj;
    /**
     * The plain container modules ({@code conv1}, {@code transformer}, {@code resblocks}), held so that their Java
     * objects stay reachable: libtorch calls back into a Java-made module for {@code train()}/{@code eval()}, and one
     * that was garbage-collected makes that call fail with a NullPointerException (docs/LIBTORCH-NOTES.md).
     */
    private final List<Module> containers = new ArrayList<>();

    private ClipVisionTransformer(ClipVisionConfig config) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("build the CLIP vision tower outside any PointerScope: its weights are "
                    + "long-lived and would be freed with the scope");
        }
        this.config = config;
        int w = config.width(), p = config.patchSize();
        double eps = config.layerNormEps();
        conv1 = parameter(keep(containers, register_module("conv1", new Module())), "weight", w, 3, p, p);
        classEmbedding = parameter(this, "class_embedding", w);
        positionalEmbedding = parameter(this, "positional_embedding", 1 + config.numPatches(), w);
        lnPre = register_module("ln_pre", new LayerNorm(w, eps));
        Module resblocks = keep(containers, new Module());
        for (int i = 0; i < config.layers(); i++) {
            blocks.add(resblocks.register_module(Integer.toString(i),
                    new ResidualAttentionBlock(w, config.heads(), eps, config.activation())));
        }
        keep(containers, register_module("transformer", new Module())).register_module("resblocks", resblocks);
        lnPost = register_module("ln_post", new LayerNorm(w, eps));
        proj = config.hasProjection() ? parameter(this, "proj", w, config.outputDim()) : null;

        TensorVector params = parameters(true);
        for (long i = 0; i < params.size(); i++) params.get(i).requires_grad_(false);
        java.lang.ref.Reference.reachabilityFence(params); // its elements point into it (docs/LIBTORCH-NOTES.md)
    }

    /** A tower with every weight zero (LayerNorms at identity): fill it with {@link StateDict#load}. */
    public static ClipVisionTransformer create(ClipVisionConfig config) {
        return new ClipVisionTransformer(config);
    }

    /**
     * A randomly initialised tower, identical for identical seeds on every machine (values drawn in Java). The
     * distributions are CLIP's: {@code class_embedding}, {@code positional_embedding} and {@code proj} normal with
     * std width^-0.5; per block (CLIP's {@code initialize_parameters}) in_proj std width^-0.5, out_proj and c_proj
     * std width^-0.5 (2 layers)^-0.5, c_fc std (2 width)^-0.5; conv1 and the MLP biases PyTorch's default
     * uniform(+-1/sqrt(fan_in)); attention biases zero, LayerNorms at identity.
     */
    public static ClipVisionTransformer random(ClipVisionConfig config, long seed) {
        ClipVisionTransformer model = new ClipVisionTransformer(config);
        model.initialize(new SplittableRandom(seed));
        return model;
    }

    /**
     * Loads a checkpoint in any of the layouts {@link ClipCheckpoint} detects (OpenAI's state dict or TorchScript
     * archive, Hugging Face's {@code CLIPModel}/{@code CLIPVisionModel}, open_clip's), stored in any floating dtype
     * and converted to float32. The configuration is read from the shapes and the files next to the weights.
     *
     * @throws WeightFormatException naming the file and the tensor: not a weight file, a missing tensor, a shape that
     *                               does not fit the inferred configuration, an unexpected tensor
     */
    public static ClipVisionTransformer load(Path path) {
        return load(path, null);
    }

    /** As {@link #load(Path)}, reading the file as {@code layout} (null: detect it). */
    public static ClipVisionTransformer load(Path path, ClipLayout layout) {
        try (ClipCheckpoint checkpoint = ClipCheckpoint.open(path, layout)) {
            return load(checkpoint);
        }
    }

    /** As {@link #load(Path)}, from an open file (which stays open; the model owns copies of the weights). */
    public static ClipVisionTransformer load(Weights file) {
        return load(ClipCheckpoint.of(file, null)); // not closed: that would close the caller's file
    }

    /** A tower built for the checkpoint's configuration, holding float32 copies of its weights. */
    public static ClipVisionTransformer load(ClipCheckpoint checkpoint) {
        ClipVisionTransformer model = new ClipVisionTransformer(checkpoint.config());
        try {
            StateDict.load(model, checkpoint.weights(), checkpoint.prefix());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    /** {@code "visual."} for OpenAI's full-model keys, {@code ""} for a vision-only file. */
    public static String keyPrefix(Weights file) {
        if (file.contains("visual.conv1.weight")) return "visual.";
        if (file.contains("conv1.weight")) return "";
        throw WeightFormatException.of(file.path(), "visual.conv1.weight", "missing (nor 'conv1.weight'): not an "
                + "OpenAI CLIP vision-transformer checkpoint");
    }

    public ClipVisionConfig config() {
        return config;
    }

    /**
     * MVP's targets: {@code ln_post(x) @ proj} for the class token and every patch token ({@code ln_post(x)} alone
     * for a tower without projection).
     *
     * @param images float32 [B, 3, S, S], S a multiple of the patch size, normalised as the checkpoint expects
     * @return float32 [B, 1 + (S/p)^2, featureDim], in the caller's scope
     */
    public Tensor forward(Tensor images) {
        return project(lastBlockTokens(images));
    }

    /** The last block's output, before {@code ln_post}: float32 [B, 1 + (S/p)^2, width], in the caller's scope. */
    public Tensor lastBlockTokens(Tensor images) {
        int grid = checkImages(images);
        long b = images.size(0);
        int p = config.patchSize(), w = config.width();
        Tensor x = torch.conv2d(images, conv1, new TensorOptional(), new long[] {p, p}, new long[] {0, 0},
                new long[] {1, 1}, 1);                                 // [B, W, g, g]
        x = x.flatten(2, 3).transpose(1, 2);                           // [B, N, W]
        Tensor cls = classEmbedding.expand(new long[] {b, 1, w});
        x = torch.cat(new TensorVector(cls, x), 1).add(positionalEmbedding(grid));
        x = lnPre.forward(x);
        for (ResidualAttentionBlock block : blocks) x = block.forward(x);
        return x;
    }

    /** {@code ln_post(tokens) @ proj} (without {@code proj} if the tower has none): [B, T, width] to [B, T, featureDim]. */
    public Tensor project(Tensor tokens) {
        Tensor normed = lnPost.forward(tokens);
        return proj == null ? normed : normed.matmul(proj);
    }

    /**
     * The position embeddings for a {@code grid x grid} input: the checkpoint's own at its grid, else resampled as
     * Hugging Face's {@code interpolate_pos_encoding} does. [1 + grid^2, W] or [1, 1 + grid^2, W], in the caller's scope.
     */
    private Tensor positionalEmbedding(int grid) {
        if (grid == config.gridSize()) return positionalEmbedding;
        return PositionResampling.absolute(positionalEmbedding.unsqueeze(0), grid, PositionResampling.Style.BEIT);
    }

    /** Checks the batch; returns its patch grid side. */
    private int checkImages(Tensor images) {
        long[] s = Tensors.shape(images);
        int p = config.patchSize();
        if (s.length != 4 || s[1] != 3 || s[2] != s[3] || s[2] < p || s[2] % p != 0
                || images.scalar_type().intern() != ScalarType.Float) {
            throw new IllegalArgumentException("CLIP vision tower expects float32 images [B, 3, S, S] with S a multiple "
                    + "of the patch size " + p + " (the checkpoint's is " + config.imageSize() + "), got "
                    + images.scalar_type().intern() + " " + Arrays.toString(s));
        }
        return Math.toIntExact(s[2] / p);
    }

    /** {@code x + attn(ln_1(x))}, then {@code x + mlp(ln_2(x))}: OpenAI's {@code ResidualAttentionBlock}. */
    static final class ResidualAttentionBlock extends Module {
        private static final double QUICK_GELU = 1.702;

        private final int heads;
        private final ClipVisionConfig.Activation activation;
        private final Tensor inProjWeight;
        private final Tensor inProjBias;
        private final Tensor outProjWeight;
        private final Tensor outProjBias;
        private final LayerNorm ln1;
        private final Tensor cFcWeight;
        private final Tensor cFcBias;
        private final Tensor cProjWeight;
        private final Tensor cProjBias;
        private final LayerNorm ln2;
        private final List<Module> containers = new ArrayList<>();

        ResidualAttentionBlock(int width, int heads, double eps, ClipVisionConfig.Activation activation) {
            this.heads = heads;
            this.activation = activation;
            Module attn = keep(containers, register_module("attn", new Module()));
            inProjWeight = parameter(attn, "in_proj_weight", 3L * width, width);
            inProjBias = parameter(attn, "in_proj_bias", 3L * width);
            Module outProj = keep(containers, attn.register_module("out_proj", new Module()));
            outProjWeight = parameter(outProj, "weight", width, width);
            outProjBias = parameter(outProj, "bias", width);
            ln1 = register_module("ln_1", new LayerNorm(width, eps));
            Module mlp = keep(containers, register_module("mlp", new Module()));
            Module cFc = keep(containers, mlp.register_module("c_fc", new Module()));
            cFcWeight = parameter(cFc, "weight", 4L * width, width);
            cFcBias = parameter(cFc, "bias", 4L * width);
            Module cProj = keep(containers, mlp.register_module("c_proj", new Module()));
            cProjWeight = parameter(cProj, "weight", width, 4L * width);
            cProjBias = parameter(cProj, "bias", width);
            ln2 = register_module("ln_2", new LayerNorm(width, eps));
        }

        Tensor forward(Tensor x) {
            x = x.add(attention(ln1.forward(x)));
            return x.add(mlp(ln2.forward(x)));
        }

        /**
         * nn.MultiheadAttention(x, x, x), as explicit matmul-softmax like the student's attention (for a forward pass
         * at ViT-B/16 size, libtorch's SDPA was within 10% of it on this CPU: about 1% of the whole forward).
         */
        private Tensor attention(Tensor x) {
            long b = x.size(0), t = x.size(1), c = x.size(2);
            Tensor qkv = torch.linear(x, inProjWeight, new TensorOptional(inProjBias))
                    .reshape(new long[] {b, t, 3, heads, c / heads})
                    .permute(new long[] {2, 0, 3, 1, 4});              // [3, B, H, T, C/H]
            Tensor q = qkv.select(0, 0).div(Tensors.scalar(Math.sqrt((double) c / heads)));
            Tensor k = qkv.select(0, 1);
            Tensor v = qkv.select(0, 2);
            Tensor weights = torch.softmax(q.matmul(k.transpose(-2, -1)), -1);
            Tensor out = weights.matmul(v).transpose(1, 2).reshape(new long[] {b, t, c});
            return torch.linear(out, outProjWeight, new TensorOptional(outProjBias));
        }

        /** c_fc, QuickGELU or GELU, c_proj. */
        private Tensor mlp(Tensor x) {
            Tensor h = torch.linear(x, cFcWeight, new TensorOptional(cFcBias));
            h = switch (activation) {
                case QUICK_GELU -> h.mul(torch.sigmoid(h.mul(Tensors.scalar(QUICK_GELU))));
                case GELU -> torch.gelu(h);
            };
            return torch.linear(h, cProjWeight, new TensorOptional(cProjBias));
        }
    }

    // ---- initialisation -------------------------------------------------------------------------------------------

    private void initialize(RandomGenerator rng) {
        int w = config.width(), p = config.patchSize();
        double scale = Math.pow(w, -0.5);
        double attnStd = scale;
        double projStd = scale * Math.pow(2.0 * config.layers(), -0.5);
        double fcStd = Math.pow(2.0 * w, -0.5);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            fill(conv1, uniform(rng, 1 / Math.sqrt(3.0 * p * p)));
            fill(classEmbedding, normal(rng, scale));
            fill(positionalEmbedding, normal(rng, scale));
            for (ResidualAttentionBlock block : blocks) {
                fill(block.inProjWeight, normal(rng, attnStd));
                fill(block.outProjWeight, normal(rng, projStd));
                fill(block.cFcWeight, normal(rng, fcStd));
                fill(block.cFcBias, uniform(rng, 1 / Math.sqrt(w)));
                fill(block.cProjWeight, normal(rng, projStd));
                fill(block.cProjBias, uniform(rng, 1 / Math.sqrt(4.0 * w)));
            }
            if (proj != null) fill(proj, normal(rng, scale));
        }
    }

    private static DoubleSupplier normal(RandomGenerator rng, double std) {
        return () -> std * rng.nextGaussian();
    }

    private static DoubleSupplier uniform(RandomGenerator rng, double bound) {
        return () -> rng.nextDouble(-bound, bound);
    }

    private static void fill(Tensor t, DoubleSupplier values) {
        float[] data = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < data.length; i++) data[i] = (float) values.getAsDouble();
        t.copy_(Tensors.ofFloats(data, Tensors.shape(t)));
    }

    /** A zero float32 parameter registered on {@code owner} (keep this handle, not register_parameter's). */
    /** Adds {@code m} to {@code kept} and returns it (see {@link #containers}). */
    private static Module keep(List<Module> kept, Module m) {
        kept.add(m);
        return m;
    }

    private static Tensor parameter(Module owner, String name, long... shape) {
        Tensor t = torch.zeros(shape);
        owner.register_parameter(name, t, false);
        return t;
    }
}
