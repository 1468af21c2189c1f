package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Locale;
import java.util.Objects;

/**
 * MaskFeat's target: histograms of oriented gradients, computed as MaskFeat's {@code HOGLayerC}
 * (SlowFast {@code slowfast/models/operators.py}; mmpretrain's {@code HOGGenerator} is the same code) with
 * tensor operations on the images' device.
 *
 * <p>Per channel of the normalised image: reflect padding by 1; Sobel gradients by {@code conv2d} with the fixed
 * kernels {@code kx = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]} and {@code ky = kx^T} (cross-correlation, so
 * {@code gx} is left minus right and {@code gy} top minus bottom); magnitude {@code |(gx, gy)|}; phase
 * {@code atan2(gx, gy) / pi * bins} put in bin {@code floor(phase) mod bins} (unsigned orientation: 180 / bins degrees
 * per bin, an edge and its reverse share a bin); magnitudes weighted by a normalised 2-D Gaussian of
 * {@code gaussianWindow} pixels (std {@code gaussianWindow / 2}, MaskFeat's {@code get_gkern}) tiled over the image;
 * summed per {@code cellSize x cellSize} cell and bin (a scatter-add into the bins); each cell's histogram
 * L2-normalised per channel ({@code F.normalize}, eps 1e-12).
 *
 * <p>Targets ({@link #targetSpec()} {@code Features(3 * bins * (patch / cell)^2, includesCls = false)}): float32
 * [B, N, 3 * bins * u * u] with u = patch / cell, patches row-major, each patch's values ordered (channel, bin, cell
 * row, cell column) as MaskFeat's {@code _get_hog_label_2d}: 108 values per 16-pixel patch with MaskFeat's 9 bins
 * and 8-pixel cells.
 *
 * <p>Precision: the gradients, phases and histograms are computed in float64 and returned as float32. For float32
 * inputs of normalised images the float64 gradients are exact, so a gradient whose direction is exactly vertical
 * ({@code gx = 0}) always lands in bin 0, as HOGLayerC's formula says. HOGLayerC itself runs in float32, where
 * rounding noise in {@code conv2d} decides whether such a gradient lands in bin 0 or bin {@code bins - 1}
 * (tools/fixtures/make_target_fixtures.py measures how often); this class computes the formula, not the noise.
 * Gradients that are vertical only up to the rounding of the normalised input still depend on that rounding, as in
 * MaskFeat.
 *
 * <p>{@link #inputSpec()}: {@code imageSize} pixels, bicubic, ImageNet mean and std, as MaskFeat feeds HOGLayerC the
 * normalised image (per-channel affine maps change the histograms only through that rounding: the L2
 * normalisation removes the scale, the gradient the offset). No weights; stateless and thread-safe.
 */
public final class HogTokenizer implements Tokenizer {
    private static final double NORMALIZE_EPS = 1e-12;

    /**
     * @param imageSize      input side in pixels
     * @param patchSize      the student's patch side; a multiple of {@code cellSize}
     * @param bins           orientation bins over 180 degrees (MaskFeat: 9)
     * @param cellSize       cell side in pixels (MaskFeat: 8)
     * @param gaussianWindow side of the Gaussian weighting window tiled over the image, 0 = none (MaskFeat's image
     *                       models: 16, std 8; SlowFast's MaskMViT: none)
     */
    public record Config(int imageSize, int patchSize, int bins, int cellSize, int gaussianWindow) {
        public Config {
            require(patchSize >= 1 && imageSize >= patchSize && imageSize % patchSize == 0,
                    "image size " + imageSize + " must be a positive multiple of the patch size " + patchSize);
            require(bins >= 2, "need at least 2 orientation bins, got " + bins);
            require(cellSize >= 1 && patchSize % cellSize == 0,
                    "cells of " + cellSize + " pixels must tile a patch of " + patchSize + " pixels");
            require(gaussianWindow >= 0 && (gaussianWindow == 0 || imageSize % gaussianWindow == 0),
                    "the Gaussian window " + gaussianWindow + " must tile the image of " + imageSize + " pixels (0 = none)");
        }

        /** MaskFeat's image setting: 9 bins, 8-pixel cells, Gaussian window 16 (mmpretrain's MaskFeat config). */
        public static Config maskFeat(int imageSize, int patchSize) {
            return new Config(imageSize, patchSize, 9, 8, 16);
        }

        /** Values per patch: 3 channels x bins x (patch / cell)^2. */
        public int dim() {
            int u = patchSize / cellSize;
            return 3 * bins * u * u;
        }

        private static void require(boolean ok, String message) {
            if (!ok) throw new IllegalArgumentException("HOG targets: " + message);
        }
    }

    private final Config config;

    public HogTokenizer(Config config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /** See {@link Config#maskFeat(int, int)}. */
    public static HogTokenizer maskFeat(int imageSize, int patchSize) {
        return new HogTokenizer(Config.maskFeat(imageSize, patchSize));
    }

    public Config config() {
        return config;
    }

    @Override public String name() {
        return String.format(Locale.ROOT, "hog(%d bins, %dx%d cells, gaussian window %s, patch %d, image %d)", config.bins(),
                config.cellSize(), config.cellSize(), config.gaussianWindow() == 0 ? "none" : Integer.toString(config.gaussianWindow()),
                config.patchSize(), config.imageSize());
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(config.imageSize(), Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.Features(config.dim(), false);
    }

    @Override public int gridSize() {
        return config.imageSize() / config.patchSize();
    }

    /**
     * @param images floating [B, 3, S, S] (S = {@code imageSize}), prepared as {@link #inputSpec()} says
     * @return float32 [B, N, 3 * bins * u * u], a new tensor in the caller's scope, on the images' device
     */
    @Override public Tensor targets(Tensor images) {
        TargetMaps.checkImages("HogTokenizer", images, config.imageSize());
        return TargetMaps.scoped(() -> compute(images));
    }

    private Tensor compute(Tensor images) {
        int s = config.imageSize(), bins = config.bins(), cell = config.cellSize();
        int cellsPerSide = s / cell, g = gridSize(), u = config.patchSize() / cell;
        long b = images.size(0);
        Device device = images.device();

        Tensor x = images.to(device, ScalarType.Double);
        Tensor padded = torch.reflection_pad2d(x, new long[] {1, 1, 1, 1});
        Tensor kx = sobel(false).to(device, ScalarType.Double), ky = sobel(true).to(device, ScalarType.Double);
        long[] one = {1, 1}, zero = {0, 0};
        Tensor gx = torch.conv2d(padded, kx, new TensorOptional(), one, zero, one, 3);
        Tensor gy = torch.conv2d(padded, ky, new TensorOptional(), one, zero, one, 3);

        Tensor magnitude = gx.mul(gx).add(gy.mul(gy)).sqrt();
        if (config.gaussianWindow() > 0) {
            int reps = s / config.gaussianWindow();
            magnitude = magnitude.mul(gaussian(config.gaussianWindow()).to(device, ScalarType.Double).repeat(new long[] {reps, reps}));
        }
        Tensor phase = torch.atan2(gx, gy).div(Tensors.scalar(Math.PI)).mul(Tensors.scalar(bins));
        Tensor bin = torch.remainder(phase.floor(), Tensors.scalar(bins)).to(ScalarType.Long);
        // gx = 0 means a phase of exactly 0 or +-bins: bin 0 (what the division gives anyway, made explicit)
        bin = bin.masked_fill(gx.eq(Tensors.scalar(0)), Tensors.scalar(0));

        // flat index of (image, channel, cell, bin) for every pixel, then one scatter-add of the weighted magnitudes
        long cells = (long) cellsPerSide * cellsPerSide;
        Tensor cellOfRow = torch.arange(new Scalar((long) s), new TensorOptions(ScalarType.Long)).floor_divide(new Scalar((long) cell));
        Tensor cellIndex = cellOfRow.mul(new Scalar((long) cellsPerSide)).reshape(new long[] {s, 1}).add(cellOfRow.reshape(new long[] {1, s}));
        Tensor plane = torch.arange(new Scalar(b * 3), new TensorOptions(ScalarType.Long)).mul(new Scalar(cells)).reshape(new long[] {b, 3, 1, 1});
        Tensor flat = plane.add(cellIndex).to(device, ScalarType.Long).mul(new Scalar((long) bins)).add(bin).reshape(new long[] {-1});
        Tensor histogram = torch.zeros(new long[] {b * 3 * cells * bins}, new TensorOptions(ScalarType.Double)).to(device, ScalarType.Double)
                .index_add(0, flat, magnitude.reshape(new long[] {-1}))
                .reshape(new long[] {b, 3, cellsPerSide, cellsPerSide, bins});

        Tensor norm = histogram.mul(histogram).sum(new long[] {-1}, true, new ScalarTypeOptional()).sqrt();
        histogram = histogram.div(norm.clamp_min(Tensors.scalar(NORMALIZE_EPS)));

        // [B, 3, g*u, g*u, bins] -> [B, g, g, 3, bins, u, u] -> [B, N, 3 * bins * u * u]
        return histogram.reshape(new long[] {b, 3, g, u, g, u, bins})
                .permute(new long[] {0, 2, 4, 1, 6, 3, 5})
                .reshape(new long[] {b, (long) g * g, config.dim()})
                .to(ScalarType.Float).contiguous();
    }

    /** HOGLayerC's {@code weight_x} ([3, 1, 3, 3], one kernel per channel) or its transpose {@code weight_y}. */
    private static Tensor sobel(boolean transpose) {
        float[] k = {1, 0, -1, 2, 0, -2, 1, 0, -1};
        float[] w = new float[27];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) w[c * 9 + i * 3 + j] = transpose ? k[j * 3 + i] : k[i * 3 + j];
        }
        return Tensors.ofFloats(w, 3, 1, 3, 3);
    }

    /**
     * MaskFeat's {@code get_gkern(size, size // 2)}: {@code exp(-0.5 ((n - mean) / std)^2)} for n = 0 .. size-1, outer
     * product, normalised to sum 1; computed in float32 as the reference registers it.
     */
    static Tensor gaussian(int size) {
        int std = size / 2;
        float mean = (size - 1) / 2f;
        float[] w = new float[size];
        for (int i = 0; i < size; i++) {
            float n = (i - mean) / std;
            w[i] = (float) Math.exp(-0.5f * n * n);
        }
        float[] k = new float[size * size];
        for (int i = 0; i < size; i++) for (int j = 0; j < size; j++) k[i * size + j] = w[i] * w[j];
        Tensor kernel = Tensors.ofFloats(k, size, size);
        return kernel.div(kernel.sum());
    }
}
