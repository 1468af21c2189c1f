package dev.mvp.models.clip;

import dev.mvp.models.io.Weights;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;

import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of CLIP's vision tower (OpenAI's {@code clip.model.VisionTransformer}, Hugging Face's
 * {@code CLIPVisionTransformer} and open_clip's {@code VisionTransformer} are the same network).
 *
 * <pre>
 * model      image patch width layers heads output
 * ViT-B/32     224    32   768     12    12    512
 * ViT-B/16     224    16   768     12    12    512   (MVP's teacher)
 * ViT-L/14     224    14  1024     24    16    768
 * </pre>
 *
 * @param imageSize    the checkpoint's input side in pixels ({@code input_resolution}); the tower also runs at
 *                     other multiples of the patch size, with interpolated position embeddings
 * @param patchSize    patch side in pixels (conv1's kernel and stride)
 * @param width        token dimension
 * @param layers       residual attention blocks
 * @param heads        attention heads; OpenAI always uses {@code width / 64}
 * @param outputDim    dimension of the joint image-text space ({@code proj} is [width, outputDim]); 0 for a tower
 *                     without projection (Hugging Face's {@code CLIPVisionModel})
 * @param activation   the MLP's non-linearity: QuickGELU for OpenAI's weights, exact GELU for most others
 * @param layerNormEps epsilon of every LayerNorm (1e-5 in all released CLIP models)
 */
public record ClipVisionConfig(int imageSize, int patchSize, int width, int layers, int heads, int outputDim,
                               Activation activation, double layerNormEps) {

    /** OpenAI's and open_clip's LayerNorm epsilon (PyTorch's default), also Hugging Face's default. */
    public static final double DEFAULT_LAYER_NORM_EPS = 1e-5;

    private static final Pattern BLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.attn\\.in_proj_weight");

    /** The MLP's non-linearity. */
    public enum Activation {
        /** {@code x * sigmoid(1.702 x)}: OpenAI's CLIP (and open_clip's {@code -quickgelu} models). */
        QUICK_GELU("quick_gelu"),
        /** The exact, erf-based GELU: open_clip's default, LAION-trained weights. */
        GELU("gelu");

        private final String hfName;

        Activation(String hfName) {
            this.hfName = hfName;
        }

        /** The name Hugging Face's {@code hidden_act} uses. */
        public String hfName() {
            return hfName;
        }

        /** From Hugging Face's {@code hidden_act}: {@code quick_gelu} or {@code gelu}; empty for anything else. */
        public static java.util.Optional<Activation> ofHfName(String name) {
            for (Activation a : values()) if (a.hfName.equals(name)) return java.util.Optional.of(a);
            return java.util.Optional.empty();
        }

        @Override public String toString() {
            return hfName;
        }
    }

    public ClipVisionConfig {
        if (imageSize < 1 || patchSize < 1 || width < 1 || layers < 1 || heads < 1 || outputDim < 0) {
            throw new IllegalArgumentException("every CLIP vision size must be positive (the output dim may be 0): "
                    + sizes(imageSize, patchSize, width, layers, heads, outputDim));
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of patch size " + patchSize);
        }
        if (width % heads != 0) throw new IllegalArgumentException("width " + width + " is not divisible by " + heads + " heads");
        java.util.Objects.requireNonNull(activation, "activation");
        if (!(layerNormEps > 0) || !Double.isFinite(layerNormEps)) {
            throw new IllegalArgumentException("layer-norm eps must be positive, got " + layerNormEps);
        }
    }

    /** OpenAI's architecture: QuickGELU, LayerNorm eps 1e-5. */
    public ClipVisionConfig(int imageSize, int patchSize, int width, int layers, int heads, int outputDim) {
        this(imageSize, patchSize, width, layers, heads, outputDim, Activation.QUICK_GELU, DEFAULT_LAYER_NORM_EPS);
    }

    /** OpenAI's ViT-B/16, MVP's teacher. */
    public static ClipVisionConfig vitB16() {
        return new ClipVisionConfig(224, 16, 768, 12, 12, 512);
    }

    /** OpenAI's ViT-L/14. */
    public static ClipVisionConfig vitL14() {
        return new ClipVisionConfig(224, 14, 1024, 24, 16, 768);
    }

    /**
     * The configuration of the checkpoint's tensors {@code prefix + "conv1.weight"}, ... (OpenAI's names, which
     * open_clip shares) read from their shapes as OpenAI's {@code build_model} does: width and patch from
     * {@code conv1.weight}, the grid from {@code positional_embedding}, the depth from the count of
     * {@code in_proj_weight}s, the output dimension from {@code proj}, and heads = width / 64; QuickGELU and eps 1e-5.
     *
     * @throws WeightFormatException naming the file and the tensor when a shape does not fit the layout or a tensor
     *                               the configuration needs is missing
     */
    public static ClipVisionConfig inferFrom(Weights file, String prefix) {
        long[] conv = shape(file, prefix + "conv1.weight", 4);
        if (conv[1] != 3 || conv[2] != conv[3]) {
            throw inconsistent(file, prefix + "conv1.weight", conv, "expected [width, 3, patch, patch]");
        }
        int width = Math.toIntExact(conv[0]), patch = Math.toIntExact(conv[2]);
        int grid = grid(file, prefix + "positional_embedding", width);

        long[] proj = shape(file, prefix + "proj", 2);
        if (proj[0] != width) throw inconsistent(file, prefix + "proj", proj, "expected [" + width + ", output dim]");

        int layers = 0;
        for (String name : file.names()) {
            if (!name.startsWith(prefix)) continue;
            Matcher m = BLOCK.matcher(name.substring(prefix.length()));
            if (m.matches()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        if (layers == 0) {
            throw WeightFormatException.of(file.path(), prefix + "transformer.resblocks.0.attn.in_proj_weight",
                    "missing: the checkpoint has no transformer blocks");
        }
        return new ClipVisionConfig(grid * patch, patch, width, layers, headsOf(file, prefix + "conv1.weight", conv, 64),
                Math.toIntExact(proj[1]));
    }

    /** Patches per side at the checkpoint's own size. */
    public int gridSize() {
        return imageSize / patchSize;
    }

    /** Patches per image at the checkpoint's own size. */
    public int numPatches() {
        return gridSize() * gridSize();
    }

    /** Per-head dimension. */
    public int headDim() {
        return width / heads;
    }

    /** Whether the tower ends with a projection {@code proj} into the joint image-text space. */
    public boolean hasProjection() {
        return outputDim > 0;
    }

    /** The dimension of the per-token features: {@code outputDim}, or {@code width} without a projection. */
    public int featureDim() {
        return hasProjection() ? outputDim : width;
    }

    /** This configuration with another activation. */
    public ClipVisionConfig withActivation(Activation activation) {
        return new ClipVisionConfig(imageSize, patchSize, width, layers, heads, outputDim, activation, layerNormEps);
    }

    /** This configuration with another LayerNorm epsilon. */
    public ClipVisionConfig withLayerNormEps(double eps) {
        return new ClipVisionConfig(imageSize, patchSize, width, layers, heads, outputDim, activation, eps);
    }

    /** This configuration with another head count. */
    public ClipVisionConfig withHeads(int heads) {
        return new ClipVisionConfig(imageSize, patchSize, width, layers, heads, outputDim, activation, layerNormEps);
    }

    /** e.g. {@code width 768, layers 12, heads 12, patch 16, image 224, output 512, quick_gelu}. */
    @Override public String toString() {
        return sizes(imageSize, patchSize, width, layers, heads, outputDim) + ", " + activation
                + (layerNormEps == DEFAULT_LAYER_NORM_EPS ? "" : ", eps " + layerNormEps);
    }

    private static String sizes(int imageSize, int patchSize, int width, int layers, int heads, int outputDim) {
        return "width " + width + ", layers " + layers + ", heads " + heads + ", patch " + patchSize + ", image "
                + imageSize + ", " + (outputDim == 0 ? "no projection" : "output " + outputDim);
    }

    // ---- shape checks shared by the layout adapters ------------------------------------------------------------------

    /** The grid side of a position embedding {@code [1 + grid^2, width]}. */
    static int grid(Weights file, String name, int width) {
        long[] pos = shape(file, name, 2);
        long grid = Math.round(Math.sqrt(Math.max(pos[0] - 1, 0)));
        if (pos[0] < 2 || grid * grid + 1 != pos[0] || pos[1] != width) {
            throw inconsistent(file, name, pos, "expected [1 + grid^2, " + width + "]");
        }
        return Math.toIntExact(grid);
    }

    /** {@code width / headWidth}, refusing a width that is not a multiple of it. */
    static int headsOf(Weights file, String name, long[] shape, int headWidth) {
        int width = Math.toIntExact(shape[0]);
        if (headWidth < 1 || width % headWidth != 0) {
            throw inconsistent(file, name, shape, "width " + width + " is not a multiple of the head width " + headWidth
                    + ", and CLIP has heads = width / " + headWidth);
        }
        return width / headWidth;
    }

    static long[] shape(Weights file, String name, int rank) {
        TensorInfo info = file.info(name);
        long[] shape = info.shape();
        if (shape.length != rank) throw inconsistent(file, name, shape, "expected " + rank + " dimensions");
        return shape;
    }

    static WeightFormatException inconsistent(Weights file, String name, long[] shape, String expected) {
        return WeightFormatException.of(file.path(), name, "shape " + Arrays.toString(shape)
                + " does not fit CLIP's vision tower (" + expected + ")");
    }
}
