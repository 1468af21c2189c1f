package dev.mvp.eval.segment;

import dev.mvp.data.OpenCvResize;
import dev.mvp.data.RgbImage;

/**
 * mmseg 0.x's keep-ratio {@code Resize} as BEiT's ADE20K configs use it ({@code img_scale=(2048, 512)}, i.e.
 * {@code (4S, S)} for crop size S), with mmcv's default cv2 backend.
 * <pre>
 * training  Resize(img_scale=(2048, 512), ratio_range=(0.5, 2.0)):  random_sample_ratio gives the scale
 *           (int(2048 r), int(512 r)), whole pixels; then mmcv.imrescale(img, scale)
 * test      MultiScaleFlipAug(img_scale=(2048, 512)) + Resize(keep_ratio=True): mmcv.imrescale(img, (2048, 512))
 * imrescale rescale_size: factor = min(max(scale) / max(h, w), min(scale) / min(h, w)) (double),
 *           new size (int(w * factor + 0.5), int(h * factor + 0.5)); imresize = cv2.resize, INTER_LINEAR for the
 *           image, INTER_NEAREST for the segmentation map ({@link OpenCvResize}, bit for bit)
 * </pre>
 */
public final class MmsegResize {
    private MmsegResize() {}

    /** mmcv's {@code rescale_size((w, h), (edgeA, edgeB))}: {@code {newW, newH}} (at least 1 each). */
    public static int[] rescaleSize(int w, int h, int edgeA, int edgeB) {
        double factor = Math.min((double) Math.max(edgeA, edgeB) / Math.max(h, w), (double) Math.min(edgeA, edgeB) / Math.min(h, w));
        return new int[] {Math.max(1, (int) (w * factor + 0.5)), Math.max(1, (int) (h * factor + 0.5))};
    }

    /** The training size at ratio {@code r}: the scale {@code (int(4S r), int(S r))}, then {@link #rescaleSize}. */
    public static int[] trainSize(int w, int h, int s, double r) {
        return rescaleSize(w, h, (int) (4 * s * r), (int) (s * r));
    }

    /** The test size: {@link #rescaleSize} to {@code (4S, S)}. */
    public static int[] testSize(int w, int h, int s) {
        return rescaleSize(w, h, 4 * s, s);
    }

    /** The image resize: cv2's INTER_LINEAR ({@code image} itself when the size does not change). */
    public static RgbImage image(RgbImage image, int w, int h) {
        return OpenCvResize.linear(image, w, h);
    }
}
