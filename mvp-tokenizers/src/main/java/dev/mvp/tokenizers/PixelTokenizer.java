package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;

/**
 * MAE's target: the image's own pixels, cut into patches ({@code patchify} in MAE's {@code models_mae.py}).
 *
 * <ul>
 *   <li>{@link #inputSpec()}: {@code imageSize} pixels, bicubic, ImageNet mean and std (MAE computes its target
 *       from the normalised image the encoder sees).</li>
 *   <li>{@link #targetSpec()}: {@code Features(p * p * 3, includesCls = false)}; {@link #targets} returns float32
 *       [B, N, p * p * 3], patches row-major, each patch's values ordered (pixel row, pixel column, channel) as
 *       MAE's {@code einsum('nchpwq->nhwpqc')}.</li>
 *   <li>With {@code normalizePerPatch}, each patch is mapped to {@code (t - mean) / sqrt(var + 1e-6)} with its own
 *       mean and unbiased variance: the target of MAE's {@code --norm_pix_loss}. Leave it off when the loss
 *       normalises (as {@code NormalizedPixelLoss.mae()} does), or the targets are normalised twice.</li>
 * </ul>
 * No weights; runs on whatever device the images are on. Stateless and thread-safe.
 */
public final class PixelTokenizer implements Tokenizer {
    private static final double EPS = 1e-6;

    private final int imageSize;
    private final int patchSize;
    private final boolean normalizePerPatch;

    /**
     * @param imageSize         input side in pixels (a multiple of {@code patchSize})
     * @param patchSize         patch side in pixels, the student's
     * @param normalizePerPatch per-patch mean/variance normalisation of the targets (MAE's norm_pix_loss)
     */
    public PixelTokenizer(int imageSize, int patchSize, boolean normalizePerPatch) {
        if (patchSize < 1 || imageSize < patchSize || imageSize % patchSize != 0) {
            throw new IllegalArgumentException("pixel targets: image size " + imageSize
                    + " must be a positive multiple of the patch size " + patchSize);
        }
        if (normalizePerPatch && patchSize * patchSize * 3 < 2) {
            throw new IllegalArgumentException("pixel targets: per-patch normalisation needs at least 2 values per patch");
        }
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        this.normalizePerPatch = normalizePerPatch;
    }

    /** Raw patchified pixels, MAE's {@code patchify(imgs)}. */
    public static PixelTokenizer raw(int imageSize, int patchSize) {
        return new PixelTokenizer(imageSize, patchSize, false);
    }

    /** Per-patch normalised pixels, MAE's target with {@code --norm_pix_loss}. */
    public static PixelTokenizer normalized(int imageSize, int patchSize) {
        return new PixelTokenizer(imageSize, patchSize, true);
    }

    public int patchSize() {
        return patchSize;
    }

    public boolean normalizePerPatch() {
        return normalizePerPatch;
    }

    @Override public String name() {
        return "pixels(patch " + patchSize + ", image " + imageSize + (normalizePerPatch ? ", per-patch normalised" : ", raw") + ")";
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(imageSize, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.Features(patchSize * patchSize * 3, false);
    }

    @Override public int gridSize() {
        return imageSize / patchSize;
    }

    /**
     * @param images floating [B, 3, S, S] (S = {@code imageSize}), prepared as {@link #inputSpec()} says
     * @return float32 [B, N, p * p * 3], a new tensor in the caller's scope, on the images' device
     */
    @Override public Tensor targets(Tensor images) {
        TargetMaps.checkImages("PixelTokenizer", images, imageSize);
        long b = images.size(0), g = gridSize(), p = patchSize;
        return TargetMaps.scoped(() -> {
            Tensor x = images.to(org.bytedeco.pytorch.global.torch.ScalarType.Float)
                    .reshape(new long[] {b, 3, g, p, g, p})
                    .permute(new long[] {0, 2, 4, 3, 5, 1})
                    .reshape(new long[] {b, g * g, p * p * 3});
            if (normalizePerPatch) {
                Tensor mean = x.mean(new long[] {-1}, true, new ScalarTypeOptional());
                Tensor var = x.var(new long[] {-1}, true, true);
                x = x.sub(mean).div(var.add(Tensors.scalar(EPS)).sqrt());
            }
            return x.contiguous();
        });
    }
}
