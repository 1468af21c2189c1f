package dev.mvp.eval.segment;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.data.RgbImage;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * mmsegmentation's test-time procedure for a model that takes {@code S x S} crops:
 * <pre>
 * resize, keeping the aspect ratio, to mmcv's rescale_size(4S, S) with cv2's bilinear   (mmseg Resize (2048, 512) at S = 512)
 * SLIDE: S x S windows with the given stride over the resized image (mmseg slide_inference: the last window of a
 *        row/column is aligned to the border), logits summed and divided by the per-pixel window count
 * WHOLE: the resized image squeezed to S x S (a ViT needs its input size), one forward pass
 * logits resized bilinearly (align_corners=False) to the original image size, then argmax
 * </pre>
 * The image resize is cv2's INTER_LINEAR, bit for bit, as mmcv runs it ({@link MmsegResize}).
 */
public final class SegInference {
    private SegInference() {}

    /** Whole-image or sliding-window inference. */
    public enum Mode {
        WHOLE, SLIDE;

        public static Mode parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "whole" -> WHOLE;
                case "slide" -> SLIDE;
                default -> throw new IllegalArgumentException("unknown inference mode '" + s + "' (expected whole or slide)");
            };
        }
    }

    /** The keep-ratio test resize of an {@code w x h} image for crop size {@code s}: {@code {newW, newH}} ({@link MmsegResize#testSize}). */
    public static int[] testSize(int w, int h, int s) {
        return MmsegResize.testSize(w, h, s);
    }

    /**
     * Class predictions at the original resolution ({@code [h * w]}, row-major) for {@code image}.
     *
     * @param model  maps normalised images {@code [B, 3, S, S]} to logits {@code [B, K, S, S]}; called inside a
     *               PointerScope and no-grad
     * @param stride window stride for SLIDE (mmseg's ADE20K configs: 341 for S = 512, i.e. about 2S/3)
     */
    public static int[] predict(Function<Tensor, Tensor> model, RgbImage image, int s, Mode mode, int stride, int batch,
                                ImageNormalization normalization) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor logits = logits(model, image, s, mode, stride, batch, normalization);   // [1, K, H, W]
            return toInts(logits.argmax(new LongOptional(1), false).reshape(new long[] {-1}));
        }
    }

    /** The logits at the original resolution, {@code [1, K, h, w]}, in the caller's scope. */
    public static Tensor logits(Function<Tensor, Tensor> model, RgbImage image, int s, Mode mode, int stride, int batch,
                                ImageNormalization normalization) {
        int[] size = mode == Mode.WHOLE ? new int[] {s, s} : testSize(image.width(), image.height(), s);
        int rw = size[0], rh = size[1];
        RgbImage resized = MmsegResize.image(image, rw, rh);
        Tensor img = planar(resized, normalization);                                  // [1, 3, rh, rw]
        Tensor summed;
        if (mode == Mode.WHOLE) {
            summed = model.apply(img);
        } else {
            if (stride < 1 || stride > s) throw new IllegalArgumentException("stride must be in [1, " + s + "], got " + stride);
            List<int[]> windows = windows(rh, rw, s, stride);
            Tensor counts = torch.zeros(new long[] {1, 1, rh, rw});
            summed = null;
            for (int start = 0; start < windows.size(); start += batch) {
                int n = Math.min(batch, windows.size() - start);
                TensorVector crops = new TensorVector();
                for (int i = 0; i < n; i++) {
                    int[] win = windows.get(start + i);
                    crops.push_back(img.narrow(2, win[0], s).narrow(3, win[1], s));
                }
                Tensor out = model.apply(torch.cat(crops, 0));                       // [n, K, s, s]
                if (summed == null) summed = torch.zeros(new long[] {1, out.size(1), rh, rw});
                for (int i = 0; i < n; i++) {
                    int[] win = windows.get(start + i);
                    summed.narrow(2, win[0], s).narrow(3, win[1], s).add_(out.narrow(0, i, 1));
                    counts.narrow(2, win[0], s).narrow(3, win[1], s).add_(new Scalar(1));
                }
            }
            summed = summed.div(counts);
        }
        if (summed.size(2) == image.height() && summed.size(3) == image.width()) return summed;
        return torch.upsample_bilinear2d(summed, new long[] {image.height(), image.width()}, false);
    }

    /** mmseg's window grid: top-left corners {@code {y, x}}; the last row/column is moved back to fit. */
    public static List<int[]> windows(int h, int w, int s, int stride) {
        if (h < s || w < s) throw new IllegalArgumentException("image " + w + "x" + h + " is smaller than the window " + s);
        int hGrids = Math.max(h - s + stride - 1, 0) / stride + 1, wGrids = Math.max(w - s + stride - 1, 0) / stride + 1;
        List<int[]> out = new ArrayList<>();
        for (int hi = 0; hi < hGrids; hi++) {
            for (int wi = 0; wi < wGrids; wi++) {
                int y2 = Math.min(hi * stride + s, h), x2 = Math.min(wi * stride + s, w);
                out.add(new int[] {Math.max(y2 - s, 0), Math.max(x2 - s, 0)});
            }
        }
        return out;
    }

    /** {@code [1, 3, h, w]} float32, normalised. */
    static Tensor planar(RgbImage image, ImageNormalization n) {
        int w = image.width(), h = image.height(), plane = w * h;
        float[] out = new float[3 * plane];
        byte[] px = image.pixels();
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) out[c * plane + i] = normalized(n, c, px[3 * i + c] & 0xFF);
        }
        return Tensors.ofFloats(out, 1, 3, h, w);
    }

    private static float normalized(ImageNormalization n, int c, int v) {
        float x = v / 255f;
        return switch (n) {
            case ImageNormalization.MeanStd m -> (x - m.mean()[c]) / m.std()[c];
            case ImageNormalization.Affine f -> f.a() * x + f.b();
        };
    }

    static int[] toInts(Tensor t) {
        long[] l = Tensors.toLongs(t);
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) out[i] = (int) l[i];
        return out;
    }
}
