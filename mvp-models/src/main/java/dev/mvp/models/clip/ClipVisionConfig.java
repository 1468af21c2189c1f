package dev.mvp.models.clip;

import dev.mvp.models.io.Weights;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;

import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of OpenAI CLIP's vision tower ({@code clip.model.VisionTransformer}).
 *
 * <pre>
 * model      image patch width layers heads output
 * ViT-B/32     224    32   768     12    12    512
 * ViT-B/16     224    16   768     12    12    512   (MVP's teacher)
 * ViT-L/14     224    14  1024     24    16    768
 * </pre>
 *
 * @param imageSize input side in pixels ({@code input_resolution})
 * @param patchSize patch side in pixels (conv1's kernel and stride)
 * @param width     token dimension
 * @param layers    residual attention blocks
 * @param heads     attention heads; OpenAI always uses {@code width / 64}
 * @param outputDim dimension of the joint image-text space ({@code proj} is [width, outputDim])
 */
public record ClipVisionConfig(int imageSize, int patchSize, int width, int layers, int heads, int outputDim) {

    private static final Pattern BLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.attn\\.in_proj_weight");

    public ClipVisionConfig {
        if (imageSize < 1 || patchSize < 1 || width < 1 || layers < 1 || heads < 1 || outputDim < 1) {
            throw new IllegalArgumentException("every CLIP vision size must be positive: " + sizes(imageSize, patchSize,
                    width, layers, heads, outputDim));
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of patch size " + patchSize);
        }
        if (width % heads != 0) throw new IllegalArgumentException("width " + width + " is not divisible by " + heads + " heads");
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
     * The configuration of the checkpoint's tensors {@code prefix + "conv1.weight"}, ... read from their shapes as
     * OpenAI's {@code build_model} does: width and patch from {@code conv1.weight}, the grid from
     * {@code positional_embedding}, the depth from the count of {@code in_proj_weight}s, the output dimension from
     * {@code proj}, and heads = width / 64.
     *
     * @throws WeightFormatException naming the file and the tensor when a shape does not fit the layout
     */
    public static ClipVisionConfig inferFrom(Weights file, String prefix) {
        long[] conv = shape(file, prefix + "conv1.weight", 4);
        if (conv[1] != 3 || conv[2] != conv[3]) {
            throw inconsistent(file, prefix + "conv1.weight", conv, "expected [width, 3, patch, patch]");
        }
        int width = Math.toIntExact(conv[0]), patch = Math.toIntExact(conv[2]);

        long[] pos = shape(file, prefix + "positional_embedding", 2);
        long grid = Math.round(Math.sqrt(pos[0] - 1));
        if (pos[0] < 2 || grid * grid + 1 != pos[0] || pos[1] != width) {
            throw inconsistent(file, prefix + "positional_embedding", pos, "expected [1 + grid^2, " + width + "]");
        }

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
        if (width % 64 != 0) {
            throw inconsistent(file, prefix + "conv1.weight", conv, "width " + width
                    + " is not a multiple of 64, and OpenAI CLIP has heads = width / 64");
        }
        return new ClipVisionConfig(Math.toIntExact(grid * patch), patch, width, layers, width / 64, Math.toIntExact(proj[1]));
    }

    /** Patches per side. */
    public int gridSize() {
        return imageSize / patchSize;
    }

    /** Patches per image. */
    public int numPatches() {
        return gridSize() * gridSize();
    }

    /** Per-head dimension. */
    public int headDim() {
        return width / heads;
    }

    @Override public String toString() {
        return sizes(imageSize, patchSize, width, layers, heads, outputDim);
    }

    private static String sizes(int imageSize, int patchSize, int width, int layers, int heads, int outputDim) {
        return "width " + width + ", layers " + layers + ", heads " + heads + ", patch " + patchSize + ", image "
                + imageSize + ", output " + outputDim;
    }

    private static long[] shape(Weights file, String name, int rank) {
        TensorInfo info = file.info(name);
        long[] shape = info.shape();
        if (shape.length != rank) throw inconsistent(file, name, shape, "expected " + rank + " dimensions");
        return shape;
    }

    private static WeightFormatException inconsistent(Weights file, String name, long[] shape, String expected) {
        return WeightFormatException.of(file.path(), name, "shape " + Arrays.toString(shape)
                + " does not fit CLIP's vision tower (" + expected + ")");
    }
}
