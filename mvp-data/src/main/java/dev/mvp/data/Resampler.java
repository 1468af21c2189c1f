package dev.mvp.data;

import dev.mvp.api.Interpolation;

import java.util.Objects;

/**
 * PIL's {@code Image.resize} for 8-bit RGB, bit for bit: what torchvision's {@code resized_crop} does to a PIL image
 * ({@code img.crop(box).resize(size, filter)}), so the crop's border pixels are the last ones the filter sees.
 *
 * <p>Port of Pillow's {@code Resample.c} (unchanged from 7.0 to 11): a separable two-pass convolution, horizontal
 * first, over only the rows the vertical pass needs. Each output pixel's filter support is scaled by the reduction
 * factor when shrinking (antialiasing); the weights, computed in double precision, are normalised to sum 1, then
 * rounded to 22-bit fixed point; each pass accumulates in 32-bit integers and rounds and clamps to 8 bits, so the
 * intermediate image is 8-bit as in PIL. A pass whose size does not change is skipped, as PIL skips it. Filters:
 * triangle of radius 1 ({@link Interpolation#BILINEAR}), Keys' cubic with {@code a = -0.5} and radius 2
 * ({@link Interpolation#BICUBIC}) and Lanczos' windowed sinc {@code sinc(x) sinc(x / 3)} on {@code [-3, 3)}
 * ({@link Interpolation#LANCZOS}; {@code sin} is {@link StrictMath#sin}, fdlibm, where PIL calls the C library's:
 * both are within one ulp, and a last-bit difference could only change a 22-bit fixed-point weight whose value
 * lies within about 1e-9 of a rounding boundary).
 *
 * <p>An instance keeps scratch buffers between calls, so it is not thread-safe: use one per thread.
 */
public final class Resampler {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final int HALF = 1 << (PRECISION_BITS - 1);

    private final Coefficients horizontal = new Coefficients();
    private final Coefficients vertical = new Coefficients();
    private byte[] temp = new byte[0];
    private int[] rowSums = new int[0];

    /** A new resampler with empty scratch buffers. */
    public Resampler() {}

    /**
     * Resizes the region {@code box} of {@code image} to {@code outWidth x outHeight} (the box's flip is ignored).
     *
     * @return a new image
     */
    public RgbImage resize(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter) {
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(outWidth, outHeight), 3)];
        resizeInto(image, box, outWidth, outHeight, filter, out);
        return new RgbImage(outWidth, outHeight, out);
    }

    /**
     * Resizes the region {@code box} of {@code image} to {@code outWidth x outHeight} interleaved RGB bytes written
     * to {@code out[0 .. 3 * outWidth * outHeight)} (the box's flip is ignored).
     */
    public void resizeInto(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter, byte[] out) {
        Objects.requireNonNull(filter, "filter");
        box.checkInside(image.width(), image.height());
        if (outWidth < 1 || outHeight < 1) {
            throw new IllegalArgumentException("output size must be positive, got " + outWidth + "x" + outHeight);
        }
        if (out.length < 3L * outWidth * outHeight) {
            throw new IllegalArgumentException("output buffer of " + out.length + " bytes < 3 x " + outWidth + "x" + outHeight);
        }
        boolean needHorizontal = outWidth != box.width();
        boolean needVertical = outHeight != box.height();
        horizontal.compute(box.width(), outWidth, filter);
        vertical.compute(box.height(), outHeight, filter);

        byte[] src = image.pixels();
        int srcStride = 3 * image.width();
        int srcOffset = box.top() * srcStride + 3 * box.left();
        if (needHorizontal) {
            // Only the source rows the vertical pass reads.
            int firstRow = vertical.bounds[0];
            int lastRow = vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1];
            int rows = lastRow - firstRow;
            byte[] target = needVertical ? ensureTemp(3 * outWidth * rows) : out;
            horizontalPass(src, srcOffset + firstRow * srcStride, srcStride, rows, target, outWidth);
            if (needVertical) {
                verticalPass(target, -firstRow * 3 * outWidth, 3 * outWidth, out, outWidth, outHeight);
            }
        } else if (needVertical) {
            verticalPass(src, srcOffset, srcStride, out, outWidth, outHeight);
        } else {
            for (int y = 0; y < outHeight; y++) {
                System.arraycopy(src, srcOffset + y * srcStride, out, 3 * y * outWidth, 3 * outWidth);
            }
        }
    }

    private void horizontalPass(byte[] src, int offset, int stride, int rows, byte[] dst, int outWidth) {
        int[] bounds = horizontal.bounds;
        int[] k = horizontal.weights;
        int ksize = horizontal.ksize;
        int d = 0;
        for (int y = 0; y < rows; y++) {
            int row = offset + y * stride;
            for (int xx = 0; xx < outWidth; xx++) {
                int s = row + 3 * bounds[2 * xx];
                int taps = bounds[2 * xx + 1];
                int kBase = xx * ksize;
                int r = HALF, g = HALF, b = HALF;
                for (int x = 0; x < taps; x++, s += 3) {
                    int w = k[kBase + x];
                    r += (src[s] & 0xFF) * w;
                    g += (src[s + 1] & 0xFF) * w;
                    b += (src[s + 2] & 0xFF) * w;
                }
                dst[d++] = clip8(r);
                dst[d++] = clip8(g);
                dst[d++] = clip8(b);
            }
        }
    }

    /**
     * The vertical pass. Rows are accumulated one filter tap at a time over a whole output row (cache-friendly);
     * integer sums do not depend on the order of the terms, so the result equals PIL's pixel-by-pixel loop.
     */
    private void verticalPass(byte[] src, int offset, int stride, byte[] dst, int outWidth, int outHeight) {
        int[] bounds = vertical.bounds;
        int[] k = vertical.weights;
        int ksize = vertical.ksize;
        int n = 3 * outWidth;
        int[] sums = ensureRowSums(n);
        for (int yy = 0; yy < outHeight; yy++) {
            java.util.Arrays.fill(sums, 0, n, HALF);
            int first = bounds[2 * yy];
            int taps = bounds[2 * yy + 1];
            for (int y = 0; y < taps; y++) {
                int w = k[yy * ksize + y];
                int row = offset + (first + y) * stride;
                for (int i = 0; i < n; i++) sums[i] += (src[row + i] & 0xFF) * w;
            }
            int d = yy * n;
            for (int i = 0; i < n; i++) dst[d + i] = clip8(sums[i]);
        }
    }

    private static byte clip8(int v) {
        if (v <= 0) return 0;
        if (v >= 255 << PRECISION_BITS) return (byte) 255;
        return (byte) (v >> PRECISION_BITS);
    }

    private byte[] ensureTemp(int n) {
        if (temp.length < n) temp = new byte[n];
        return temp;
    }

    private int[] ensureRowSums(int n) {
        if (rowSums.length < n) rowSums = new int[n];
        return rowSums;
    }

    /** PIL's {@code precompute_coeffs} followed by {@code normalize_coeffs_8bpc}, for a box of {@code [0, inSize)}. */
    static final class Coefficients {
        int ksize;
        int[] bounds = new int[0];   // per output pixel: first input pixel, number of taps
        int[] weights = new int[0];  // per output pixel: ksize fixed-point weights
        private double[] scratch = new double[0];

        void compute(int inSize, int outSize, Interpolation filter) {
            double support0 = switch (filter) {
                case BILINEAR -> 1.0;
                case BICUBIC -> 2.0;
                case LANCZOS -> 3.0;
            };
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = support0 * filterScale;
            ksize = (int) Math.ceil(support) * 2 + 1;
            if (bounds.length < 2 * outSize) bounds = new int[2 * outSize];
            if (weights.length < outSize * ksize) weights = new int[outSize * ksize];
            if (scratch.length < ksize) scratch = new double[ksize];
            double ss = 1.0 / filterScale;
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double sum = 0.0;
                for (int x = 0; x < xmax; x++) {
                    double w = filter((x + xmin - center + 0.5) * ss, filter);
                    scratch[x] = w;
                    sum += w;
                }
                int base = xx * ksize;
                for (int x = 0; x < ksize; x++) {
                    double w = x < xmax ? (sum != 0.0 ? scratch[x] / sum : scratch[x]) : 0.0;
                    weights[base + x] = (int) (w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
                }
                bounds[2 * xx] = xmin;
                bounds[2 * xx + 1] = xmax;
            }
        }

        private static double filter(double x, Interpolation filter) {
            return switch (filter) {
                case BILINEAR -> {
                    if (x < 0.0) x = -x;
                    yield x < 1.0 ? 1.0 - x : 0.0;
                }
                case BICUBIC -> {
                    if (x < 0.0) x = -x;
                    final double a = -0.5;
                    if (x < 1.0) yield ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    if (x < 2.0) yield (((x - 5) * x + 8) * x - 4) * a;
                    yield 0.0;
                }
                // PIL's lanczos_filter: the interval is half-open and not mirrored, as there
                case LANCZOS -> -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
            };
        }

        private static double sinc(double x) {
            if (x == 0.0) return 1.0;
            x = x * Math.PI;
            return StrictMath.sin(x) / x;
        }
    }
}
