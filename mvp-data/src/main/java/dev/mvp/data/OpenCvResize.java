package dev.mvp.data;

/**
 * OpenCV 4.6's {@code cv2.resize} of 8-bit images, bit for bit: {@code INTER_LINEAR} ({@link #linear}) and
 * {@code INTER_NEAREST} ({@link #nearest}), what mmcv's {@code imresize}/{@code imrescale} run for mmseg's
 * {@code Resize} ('bilinear' for images, 'nearest' for segmentation maps). Unlike PIL's filters ({@link Resampler}),
 * OpenCV's bilinear resize never widens its two-tap kernel when shrinking (no antialiasing).
 *
 * <p>Port of {@code modules/imgproc/src/resize.cpp} as Debian's build runs it (x86-64, no IPP, no custom HAL):
 * <ul>
 * <li>same size: a copy. {@code scale_x = 1 / (dst_w / src_w)} in double, likewise for y.</li>
 * <li>source exactly twice the output in both directions ({@code |scale - 2| < DBL_EPSILON}): OpenCV switches to
 *     {@code INTER_AREA}'s fast path, {@code (a + b + c + d + 2) >> 2} over each 2 x 2 block.</li>
 * <li>otherwise {@code resizeGeneric_} with 11-bit fixed-point weights ({@code INTER_RESIZE_COEF_BITS}): per output
 *     column {@code fx = (float) ((dx + 0.5) * scale_x - 0.5)}, {@code sx = floor(fx)}, {@code fx -= sx}; columns
 *     left of the image take {@code sx = 0, fx = 0}, columns at or past the last source column take that column
 *     times 2048; weights {@code round((1 - fx) * 2048)} and {@code round(fx * 2048)} (float, half to even, so they
 *     need not sum to 2048). The horizontal pass keeps exact int sums {@code S[sx] a0 + S[sx + 1] a1}. Rows are
 *     computed the same way but not clamped: a row above or below the image reads the border row twice with the
 *     weights as computed. The vertical pass is OpenCV's {@code uchar} specialisation of {@code VResizeLinear}
 *     (and its SIMD twin {@code VResizeLinearVec_32s8u}, which gives the same bytes):
 *     {@code ((b0 * (H0 >> 4)) >> 16) + ((b1 * (H1 >> 4)) >> 16) + 2) >> 2}, not a rounding of the exact sum.</li>
 * <li>{@code INTER_NEAREST} ({@code resizeNN}): {@code sx = min(floor(dx * (1 / (dst_w / src_w))), src_w - 1)},
 *     likewise for rows; no half-pixel offset (that is {@code INTER_NEAREST_EXACT}).</li>
 * </ul>
 * Checked against {@code cv2.resize} 4.6 through {@code tools/fixtures/make_cv_resize_fixtures.py}
 * ({@code OpenCvResizeTest}).
 */
public final class OpenCvResize {
    private static final int COEF_SCALE = 1 << 11;
    private static final double DBL_EPSILON = Math.ulp(1.0);

    private OpenCvResize() {}

    /** {@code cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)}; the image itself when the size is equal. */
    public static RgbImage linear(RgbImage image, int width, int height) {
        if (width == image.width() && height == image.height()) return image;
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        linear(image.pixels(), image.width(), image.height(), 3, out, width, height);
        return new RgbImage(width, height, out);
    }

    /** {@code cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)}; the image itself when the size is equal. */
    public static RgbImage nearest(RgbImage image, int width, int height) {
        if (width == image.width() && height == image.height()) return image;
        int[] xs = nearestIndices(image.width(), width), ys = nearestIndices(image.height(), height);
        byte[] src = image.pixels(), out = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        for (int y = 0; y < height; y++) {
            int row = ys[y] * image.width();
            for (int x = 0; x < width; x++) System.arraycopy(src, 3 * (row + xs[x]), out, 3 * (y * width + x), 3);
        }
        return new RgbImage(width, height, out);
    }

    /**
     * {@code INTER_NEAREST} of a single-channel map ({@code values[y * srcWidth + x]}), e.g. a segmentation label
     * map; a new array.
     */
    public static int[] nearest(int[] values, int srcWidth, int srcHeight, int width, int height) {
        checkSizes(srcWidth, srcHeight, width, height);
        if (values.length != srcWidth * srcHeight) {
            throw new IllegalArgumentException(srcWidth + "x" + srcHeight + " map with " + values.length + " values");
        }
        if (width == srcWidth && height == srcHeight) return values.clone();
        int[] xs = nearestIndices(srcWidth, width), ys = nearestIndices(srcHeight, height);
        int[] out = new int[Math.multiplyExact(width, height)];
        for (int y = 0; y < height; y++) {
            int row = ys[y] * srcWidth, o = y * width;
            for (int x = 0; x < width; x++) out[o + x] = values[row + xs[x]];
        }
        return out;
    }

    /** resizeNN's source index of every output index: {@code min(floor(d * (1 / (dst / src))), src - 1)}. */
    static int[] nearestIndices(int src, int dst) {
        double inverse = 1.0 / ((double) dst / src);
        int[] out = new int[dst];
        for (int d = 0; d < dst; d++) out[d] = Math.min((int) Math.floor(d * inverse), src - 1);
        return out;
    }

    /**
     * {@code INTER_LINEAR} of interleaved 8-bit pixels with {@code channels} (1, 3 or 4) values each:
     * {@code src[(y * srcWidth + x) * channels + c]} into {@code dst[0 .. width * height * channels)}.
     */
    public static void linear(byte[] src, int srcWidth, int srcHeight, int channels, byte[] dst, int width, int height) {
        checkSizes(srcWidth, srcHeight, width, height);
        if (channels != 1 && channels != 3 && channels != 4) {
            // OpenCV's 2-channel area path rounds differently; nothing here needs it
            throw new IllegalArgumentException("1, 3 or 4 channels, got " + channels);
        }
        if (src.length < (long) srcWidth * srcHeight * channels || dst.length < (long) width * height * channels) {
            throw new IllegalArgumentException("buffers too small for " + srcWidth + "x" + srcHeight + " -> " + width + "x"
                    + height + " x " + channels);
        }
        if (width == srcWidth && height == srcHeight) {
            System.arraycopy(src, 0, dst, 0, srcWidth * srcHeight * channels);
            return;
        }
        double scaleX = 1.0 / ((double) width / srcWidth), scaleY = 1.0 / ((double) height / srcHeight);
        double iScaleX = Math.rint(scaleX), iScaleY = Math.rint(scaleY);
        if (Math.abs(scaleX - iScaleX) < DBL_EPSILON && Math.abs(scaleY - iScaleY) < DBL_EPSILON && iScaleX == 2 && iScaleY == 2) {
            halve(src, srcWidth, channels, dst, width, height);
            return;
        }
        int n = width * channels;
        // per output value (column x channel): the two source offsets within a row and their weights
        int[] x0 = new int[n], x1 = new int[n], a0 = new int[n], a1 = new int[n];
        for (int dx = 0; dx < width; dx++) {
            float fx = (float) ((dx + 0.5) * scaleX - 0.5);
            int sx = (int) Math.floor(fx);
            fx -= sx;
            boolean pastEnd = false;
            if (sx < 0) {
                fx = 0;
                sx = 0;
            }
            if (sx + 1 >= srcWidth) {
                pastEnd = true;                      // OpenCV's xmax: S[sx] * 2048
                fx = 0;
                sx = srcWidth - 1;
            }
            int w0 = pastEnd ? COEF_SCALE : weight(1f - fx), w1 = pastEnd ? 0 : weight(fx);
            int s1 = Math.min(sx + 1, srcWidth - 1);
            for (int c = 0; c < channels; c++) {
                int i = dx * channels + c;
                x0[i] = sx * channels + c;
                x1[i] = s1 * channels + c;
                a0[i] = w0;
                a1[i] = w1;
            }
        }
        int[][] slot = {new int[n], new int[n]};
        int[] slotRow = {-1, -1};
        for (int dy = 0; dy < height; dy++) {
            float fy = (float) ((dy + 0.5) * scaleY - 0.5);
            int sy = (int) Math.floor(fy);
            fy -= sy;
            int b0 = weight(1f - fy), b1 = weight(fy);
            int r0 = clamp(sy, srcHeight), r1 = clamp(sy + 1, srcHeight);
            int[] h0 = row(src, srcWidth * channels, r0, r1, slot, slotRow, x0, x1, a0, a1);
            int[] h1 = row(src, srcWidth * channels, r1, r0, slot, slotRow, x0, x1, a0, a1);
            int o = dy * n;
            for (int i = 0; i < n; i++) {
                dst[o + i] = (byte) ((((b0 * (h0[i] >> 4)) >> 16) + ((b1 * (h1[i] >> 4)) >> 16) + 2) >> 2);
            }
        }
    }

    /** The horizontal pass of source row {@code r}, from a cache of two rows that keeps row {@code keep}. */
    private static int[] row(byte[] src, int stride, int r, int keep, int[][] slot, int[] slotRow,
                             int[] x0, int[] x1, int[] a0, int[] a1) {
        if (slotRow[0] == r) return slot[0];
        if (slotRow[1] == r) return slot[1];
        int e = slotRow[0] == keep ? 1 : 0;
        int[] h = slot[e];
        int base = r * stride;
        for (int i = 0; i < h.length; i++) {
            h[i] = (src[base + x0[i]] & 0xFF) * a0[i] + (src[base + x1[i]] & 0xFF) * a1[i];
        }
        slotRow[e] = r;
        return h;
    }

    /** {@code saturate_cast<short>(w * INTER_RESIZE_COEF_SCALE)}: a float product, rounded half to even. */
    private static int weight(float w) {
        return (int) Math.rint(w * (float) COEF_SCALE);
    }

    private static int clamp(int v, int size) {
        return v < 0 ? 0 : Math.min(v, size - 1);
    }

    /** resizeAreaFast_ at scale 2 (ResizeAreaFastVec's fast mode for 1, 3 and 4 channels). */
    private static void halve(byte[] src, int srcWidth, int channels, byte[] dst, int width, int height) {
        int stride = srcWidth * channels;
        for (int dy = 0; dy < height; dy++) {
            int top = 2 * dy * stride, bottom = top + stride, o = dy * width * channels;
            for (int dx = 0; dx < width; dx++) {
                for (int c = 0; c < channels; c++) {
                    int i = 2 * dx * channels + c;
                    int sum = (src[top + i] & 0xFF) + (src[top + i + channels] & 0xFF)
                            + (src[bottom + i] & 0xFF) + (src[bottom + i + channels] & 0xFF);
                    dst[o + dx * channels + c] = (byte) ((sum + 2) >> 2);
                }
            }
        }
    }

    private static void checkSizes(int srcWidth, int srcHeight, int width, int height) {
        if (srcWidth < 1 || srcHeight < 1 || width < 1 || height < 1) {
            throw new IllegalArgumentException("sizes must be positive: " + srcWidth + "x" + srcHeight + " -> " + width + "x" + height);
        }
    }
}
