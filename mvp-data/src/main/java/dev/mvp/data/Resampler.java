package dev.mvp.data;

import dev.mvp.api.Interpolation;

import java.util.Arrays;
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
 * <p>The same integer sums as PIL's loops, computed in another order so that the JIT can vectorise them (integer
 * addition does not depend on the order of the terms, so every sum, and so every output byte, is PIL's): taps whose
 * fixed-point weight is 0 are left out (they add nothing); the horizontal pass transposes a strip of source rows
 * into one array per source column and accumulates each output column over all the strip's rows at once; the
 * vertical pass accumulates a whole output row one tap at a time. {@link #resizeToPlanar} also mirrors and
 * normalises on the way out, with no intermediate image. On RandomResizedCrop boxes of imagenet-sample photos this
 * takes about half the CPU time of the loop-for-loop port it replaced (docs/DATA.md).
 *
 * <p>An instance keeps scratch buffers between calls (about 4 bytes per value of the horizontal pass's output, plus
 * at most 512 KiB for a strip), so it is not thread-safe: use one per thread.
 */
public final class Resampler {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final int HALF = 1 << (PRECISION_BITS - 1);

    /** The horizontal pass transposes at most this many source samples at a time (512 KiB of ints)... */
    private static final int STRIP_SAMPLES = 1 << 17;
    /** ...but at least this many rows, however wide the crop. */
    private static final int MIN_STRIP_ROWS = 16;

    private final Coefficients horizontal = new Coefficients();
    private final Coefficients vertical = new Coefficients();
    private int[][] rows = new int[0][];     // the horizontal pass's output rows, 3 x output width values each
    private int[][] columns = new int[0][];  // per source column of a strip: its pixels, row after row
    private int[][] strip = new int[0][];    // per output column of a strip: its sums, then values, row after row
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
        if (out.length < 3L * outWidth * outHeight) {
            check(image, box, outWidth, outHeight, filter);
            throw new IllegalArgumentException("output buffer of " + out.length + " bytes < 3 x " + outWidth + "x" + outHeight);
        }
        run(image, box, outWidth, outHeight, filter, out, null);
    }

    /**
     * Resizes the region {@code box} of {@code image} to {@code outWidth x outHeight} and writes it, mirrored
     * left-right when {@code box.flip()}, through each normaliser as planar float32: {@code outs[i][c * outWidth *
     * outHeight + y * outWidth + x]}. Equal, value for value, to {@link #resizeInto} followed by
     * {@link PixelNormalizer#toPlanar} with each normaliser, without the intermediate image.
     */
    void resizeToPlanar(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter,
                        PixelNormalizer[] normalizers, float[][] outs) {
        if (normalizers.length != outs.length) {
            throw new IllegalArgumentException(normalizers.length + " normalisers for " + outs.length + " outputs");
        }
        for (float[] o : outs) {
            if (o.length < 3L * outWidth * outHeight) {
                check(image, box, outWidth, outHeight, filter);
                throw new IllegalArgumentException("output of " + o.length + " floats < 3 x " + outWidth + "x" + outHeight);
            }
        }
        run(image, box, outWidth, outHeight, filter, null, new PlanarSink(normalizers, outs, box.flip(), outWidth, outHeight));
    }

    private static void check(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter) {
        Objects.requireNonNull(filter, "filter");
        box.checkInside(image.width(), image.height());
        if (outWidth < 1 || outHeight < 1) {
            throw new IllegalArgumentException("output size must be positive, got " + outWidth + "x" + outHeight);
        }
    }

    /** Where output rows go: to {@code bytes} (interleaved, row after row) or through {@code sink}. */
    private void run(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter, byte[] bytes,
                     PlanarSink sink) {
        check(image, box, outWidth, outHeight, filter);
        boolean needHorizontal = outWidth != box.width();
        boolean needVertical = outHeight != box.height();
        if (needHorizontal) horizontal.compute(box.width(), outWidth, filter);
        if (needVertical) vertical.compute(box.height(), outHeight, filter);
        int n = 3 * outWidth;

        byte[] src = image.pixels();
        int srcStride = 3 * image.width();
        int srcOffset = box.top() * srcStride + 3 * box.left();
        if (needHorizontal) {
            // Only the source rows the vertical pass reads.
            int firstRow = needVertical ? vertical.firstNeeded : 0;
            int lastRow = needVertical ? vertical.lastNeeded : outHeight;
            // rows for the sink are planar and already mirrored: the vertical pass works column by column, so it
            // does not mind, and the normaliser then writes each plane's row in one run
            int[][] passed = horizontalPass(src, srcOffset + firstRow * srcStride, srcStride, lastRow - firstRow,
                    outWidth, sink != null, sink != null && sink.flip());
            if (needVertical) {
                verticalPass(passed, firstRow, n, outHeight, bytes, sink);
            } else {
                for (int y = 0; y < outHeight; y++) emit(passed[y], n, y, bytes, sink, true);
            }
        } else if (needVertical) {
            verticalPass(src, srcOffset, srcStride, n, outHeight, bytes, sink);
        } else {
            for (int y = 0; y < outHeight; y++) {
                if (sink != null) sink.row(src, srcOffset + y * srcStride, y);
                else System.arraycopy(src, srcOffset + y * srcStride, bytes, y * n, n);
            }
        }
    }

    /**
     * PIL's horizontal pass over {@code count} source rows from {@code offset}: returns {@code count} rows of
     * {@code 3 * outWidth} clamped values. Computed a strip of rows at a time, transposed: the strip's source
     * pixels become one array per source column (the strip's rows, three values each), every output column is
     * accumulated over the whole strip one tap at a time (a loop the JIT vectorises), and the results are
     * transposed back into rows: interleaved ({@code 3 x + c}), or {@code planar} ({@code c * outWidth + x}) and
     * then mirrored ({@code x -> outWidth - 1 - x}) when {@code mirror}.
     */
    private int[][] horizontalPass(byte[] src, int offset, int stride, int count, int outWidth, boolean planar,
                                   boolean mirror) {
        int[] start = horizontal.start;
        int[] taps = horizontal.taps;
        int[] k = horizontal.weights;
        int ksize = horizontal.ksize;
        int n = 3 * outWidth;
        int firstColumn = horizontal.firstNeeded;
        int m = horizontal.lastNeeded - firstColumn;
        int stripRows = Math.max(1, Math.min(count, Math.max(MIN_STRIP_ROWS, STRIP_SAMPLES / Math.max(3 * m, 1))));
        int[][] rows = ensureRows(count, n);
        int[][] columns = ensureColumns(m, 3 * stripRows);
        int[][] strip = ensureStrip(outWidth, 3 * stripRows);
        for (int y0 = 0; y0 < count; y0 += stripRows) {
            int h = Math.min(stripRows, count - y0);
            int h3 = 3 * h;
            transposeIn(src, offset + y0 * stride + 3 * firstColumn, stride, h, m, columns);
            for (int xx = 0; xx < outWidth; xx++) {
                int kb = xx * ksize;
                int kEnd = kb + taps[xx];
                int[] acc = strip[xx];
                Arrays.fill(acc, 0, h3, HALF);
                for (int t = kb, j = start[xx] - firstColumn; t < kEnd; t++, j++) {
                    int w = k[t];
                    int[] column = columns[j];
                    for (int q = 0; q < h3; q++) acc[q] += column[q] * w;
                }
                for (int q = 0; q < h3; q++) acc[q] = clamp(acc[q]);
            }
            if (planar) transposeOutPlanar(strip, outWidth, h, rows, y0, mirror);
            else transposeOut(strip, outWidth, h, rows, y0);
        }
        return rows;
    }

    /**
     * {@code columns[x][3 q + c] = src[offset + q * stride + 3 x + c]} for {@code x < m}, {@code q < h}: each
     * source column's pixels, row after row, eight rows at a time.
     */
    private static void transposeIn(byte[] src, int offset, int stride, int h, int m, int[][] columns) {
        int q = 0;
        for (; q + 8 <= h; q += 8) {
            int s0 = offset + q * stride, s1 = s0 + stride, s2 = s1 + stride, s3 = s2 + stride;
            int s4 = s3 + stride, s5 = s4 + stride, s6 = s5 + stride, s7 = s6 + stride;
            for (int x = 0, j = 0; x < m; x++, j += 3) {
                int[] c = columns[x];
                int d = 3 * q;
                c[d] = src[s0 + j] & 0xFF;
                c[d + 1] = src[s0 + j + 1] & 0xFF;
                c[d + 2] = src[s0 + j + 2] & 0xFF;
                c[d + 3] = src[s1 + j] & 0xFF;
                c[d + 4] = src[s1 + j + 1] & 0xFF;
                c[d + 5] = src[s1 + j + 2] & 0xFF;
                c[d + 6] = src[s2 + j] & 0xFF;
                c[d + 7] = src[s2 + j + 1] & 0xFF;
                c[d + 8] = src[s2 + j + 2] & 0xFF;
                c[d + 9] = src[s3 + j] & 0xFF;
                c[d + 10] = src[s3 + j + 1] & 0xFF;
                c[d + 11] = src[s3 + j + 2] & 0xFF;
                c[d + 12] = src[s4 + j] & 0xFF;
                c[d + 13] = src[s4 + j + 1] & 0xFF;
                c[d + 14] = src[s4 + j + 2] & 0xFF;
                c[d + 15] = src[s5 + j] & 0xFF;
                c[d + 16] = src[s5 + j + 1] & 0xFF;
                c[d + 17] = src[s5 + j + 2] & 0xFF;
                c[d + 18] = src[s6 + j] & 0xFF;
                c[d + 19] = src[s6 + j + 1] & 0xFF;
                c[d + 20] = src[s6 + j + 2] & 0xFF;
                c[d + 21] = src[s7 + j] & 0xFF;
                c[d + 22] = src[s7 + j + 1] & 0xFF;
                c[d + 23] = src[s7 + j + 2] & 0xFF;
            }
        }
        for (; q < h; q++) {
            int s = offset + q * stride;
            for (int x = 0, j = 0; x < m; x++, j += 3) {
                int[] c = columns[x];
                c[3 * q] = src[s + j] & 0xFF;
                c[3 * q + 1] = src[s + j + 1] & 0xFF;
                c[3 * q + 2] = src[s + j + 2] & 0xFF;
            }
        }
    }

    /** {@code rows[y0 + q][3 xx + c] = strip[xx][3 q + c]} for {@code xx < outWidth}, {@code q < h}, four rows at a time. */
    private static void transposeOut(int[][] strip, int outWidth, int h, int[][] rows, int y0) {
        int q = 0;
        for (; q + 4 <= h; q += 4) {
            int[] r0 = rows[y0 + q], r1 = rows[y0 + q + 1], r2 = rows[y0 + q + 2], r3 = rows[y0 + q + 3];
            int a = 3 * q;
            for (int xx = 0, o = 0; xx < outWidth; xx++, o += 3) {
                int[] s = strip[xx];
                r0[o] = s[a];
                r0[o + 1] = s[a + 1];
                r0[o + 2] = s[a + 2];
                r1[o] = s[a + 3];
                r1[o + 1] = s[a + 4];
                r1[o + 2] = s[a + 5];
                r2[o] = s[a + 6];
                r2[o + 1] = s[a + 7];
                r2[o + 2] = s[a + 8];
                r3[o] = s[a + 9];
                r3[o + 1] = s[a + 10];
                r3[o + 2] = s[a + 11];
            }
        }
        for (; q < h; q++) {
            int[] r = rows[y0 + q];
            for (int xx = 0, o = 0; xx < outWidth; xx++, o += 3) {
                int[] s = strip[xx];
                r[o] = s[3 * q];
                r[o + 1] = s[3 * q + 1];
                r[o + 2] = s[3 * q + 2];
            }
        }
    }

    /**
     * {@code rows[y0 + q][c * outWidth + x'] = strip[xx][3 q + c]} with {@code x' = mirror ? outWidth - 1 - xx : xx},
     * for {@code xx < outWidth}, {@code q < h}, two rows at a time.
     */
    private static void transposeOutPlanar(int[][] strip, int outWidth, int h, int[][] rows, int y0, boolean mirror) {
        int g = outWidth, b = 2 * outWidth;
        int first = mirror ? outWidth - 1 : 0, step = mirror ? -1 : 1;
        int q = 0;
        for (; q + 2 <= h; q += 2) {
            int[] r0 = rows[y0 + q], r1 = rows[y0 + q + 1];
            int a = 3 * q;
            for (int xx = 0, o = first; xx < outWidth; xx++, o += step) {
                int[] s = strip[xx];
                r0[o] = s[a];
                r0[g + o] = s[a + 1];
                r0[b + o] = s[a + 2];
                r1[o] = s[a + 3];
                r1[g + o] = s[a + 4];
                r1[b + o] = s[a + 5];
            }
        }
        for (; q < h; q++) {
            int[] r = rows[y0 + q];
            int a = 3 * q;
            for (int xx = 0, o = first; xx < outWidth; xx++, o += step) {
                int[] s = strip[xx];
                r[o] = s[a];
                r[g + o] = s[a + 1];
                r[b + o] = s[a + 2];
            }
        }
    }

    /**
     * The vertical pass over the horizontal pass's rows ({@code rows[i]} is source row {@code firstRow + i}, in
     * whatever layout: the pass treats every value alike): each output row is accumulated one filter tap at a time
     * over the whole row (a loop the JIT vectorises).
     */
    private void verticalPass(int[][] rows, int firstRow, int n, int outHeight, byte[] bytes, PlanarSink sink) {
        int[] start = vertical.start;
        int[] taps = vertical.taps;
        int[] k = vertical.weights;
        int ksize = vertical.ksize;
        int[] sums = ensureRowSums(n);
        for (int yy = 0; yy < outHeight; yy++) {
            Arrays.fill(sums, 0, n, HALF);
            int kb = yy * ksize;
            int first = start[yy] - firstRow;
            for (int t = 0, m = taps[yy]; t < m; t++) {
                int w = k[kb + t];
                int[] row = rows[first + t];
                for (int i = 0; i < n; i++) sums[i] += row[i] * w;
            }
            for (int i = 0; i < n; i++) sums[i] = clamp(sums[i]);
            emit(sums, n, yy, bytes, sink, true);
        }
    }

    /**
     * The vertical pass straight from the source (when the width does not change): rows of {@code n} interleaved
     * samples, {@code stride} apart from {@code offset}.
     */
    private void verticalPass(byte[] src, int offset, int stride, int n, int outHeight, byte[] bytes, PlanarSink sink) {
        int[] start = vertical.start;
        int[] taps = vertical.taps;
        int[] k = vertical.weights;
        int ksize = vertical.ksize;
        int[] sums = ensureRowSums(n);
        for (int yy = 0; yy < outHeight; yy++) {
            Arrays.fill(sums, 0, n, HALF);
            int kb = yy * ksize;
            int first = offset + start[yy] * stride;
            for (int t = 0, m = taps[yy]; t < m; t++) {
                int w = k[kb + t];
                int r = first + t * stride;
                for (int i = 0; i < n; i++) sums[i] += (src[r + i] & 0xFF) * w;
            }
            for (int i = 0; i < n; i++) sums[i] = clamp(sums[i]);
            emit(sums, n, yy, bytes, sink, false);
        }
    }

    /**
     * Output row {@code y} of clamped values, to {@code bytes} (interleaved) or through {@code sink}: {@code planar}
     * says the row is made from the horizontal pass's rows, which for a sink are planar and mirrored already;
     * otherwise it is interleaved.
     */
    private static void emit(int[] row, int n, int y, byte[] bytes, PlanarSink sink, boolean planar) {
        if (sink != null) {
            if (planar) sink.planarRow(row, y);
            else sink.row(row, y);
        } else {
            for (int i = 0, d = y * n; i < n; i++) bytes[d + i] = (byte) row[i];
        }
    }

    /** PIL's {@code clip8}: the sum's integer part, clamped to [0, 255] (branch-free, so loops over it vectorise). */
    private static int clamp(int v) {
        return Math.min(Math.max(v >> PRECISION_BITS, 0), 255);
    }

    private int[][] ensureRows(int count, int n) {
        if (rows.length < count) rows = Arrays.copyOf(rows, count);
        for (int i = 0; i < count; i++) if (rows[i] == null || rows[i].length < n) rows[i] = new int[n];
        return rows;
    }

    private int[][] ensureColumns(int m, int h) {
        if (columns.length < m) columns = Arrays.copyOf(columns, m);
        for (int j = 0; j < m; j++) if (columns[j] == null || columns[j].length < h) columns[j] = new int[h];
        return columns;
    }

    private int[][] ensureStrip(int n, int h) {
        if (strip.length < n) strip = Arrays.copyOf(strip, n);
        for (int o = 0; o < n; o++) if (strip[o] == null || strip[o].length < h) strip[o] = new int[h];
        return strip;
    }

    private int[] ensureRowSums(int n) {
        if (rowSums.length < n) rowSums = new int[n];
        return rowSums;
    }

    /** Writes finished rows of interleaved bytes or values as planar floats through each normaliser. */
    private record PlanarSink(PixelNormalizer[] normalizers, float[][] outs, boolean flip, int width, int height) {
        void row(byte[] rgb, int offset, int y) {
            for (int i = 0; i < normalizers.length; i++) {
                normalizers[i].toPlanarRow(rgb, offset, width, height, y, flip, outs[i], 0);
            }
        }

        void row(int[] rgb, int y) {
            for (int i = 0; i < normalizers.length; i++) {
                normalizers[i].toPlanarRow(rgb, width, height, y, flip, outs[i], 0);
            }
        }

        /** A row already planar ({@code c * width + x}) and mirrored if {@code flip}. */
        void planarRow(int[] planes, int y) {
            for (int i = 0; i < normalizers.length; i++) normalizers[i].planarRowToPlanar(planes, width, height, y, outs[i], 0);
        }
    }

    /**
     * PIL's {@code precompute_coeffs} followed by {@code normalize_coeffs_8bpc}, for a box of {@code [0, inSize)};
     * then, per output pixel, the taps from the first to the last non-zero fixed-point weight.
     */
    static final class Coefficients {
        int ksize;
        int[] start = new int[0];    // per output pixel: the first input pixel with a non-zero weight
        int[] taps = new int[0];     // per output pixel: weights from start on (trailing zeros left out)
        int[] weights = new int[0];  // per output pixel: ksize slots, the first taps[i] used
        /** The first input pixel any output pixel reads, and one past the last (an empty range if none). */
        int firstNeeded, lastNeeded;
        private double[] scratch = new double[0];
        private int[] fixed = new int[0];

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
            if (start.length < outSize) {
                start = new int[outSize];
                taps = new int[outSize];
            }
            if (weights.length < outSize * ksize) weights = new int[outSize * ksize];
            if (scratch.length < ksize) {
                scratch = new double[ksize];
                fixed = new int[ksize];
            }
            double ss = 1.0 / filterScale;
            firstNeeded = Integer.MAX_VALUE;
            lastNeeded = 0;
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
                int first = -1, last = -1;
                for (int x = 0; x < xmax; x++) {
                    double w = sum != 0.0 ? scratch[x] / sum : scratch[x];
                    int q = (int) (w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
                    fixed[x] = q;
                    if (q != 0) {
                        if (first < 0) first = x;
                        last = x;
                    }
                }
                int base = xx * ksize;
                if (first < 0) { // no weight survives rounding: PIL's sum is the rounding constant alone
                    start[xx] = xmin;
                    taps[xx] = 0;
                } else {
                    start[xx] = xmin + first;
                    taps[xx] = last - first + 1;
                    System.arraycopy(fixed, first, weights, base, last - first + 1);
                    firstNeeded = Math.min(firstNeeded, xmin + first);
                    lastNeeded = Math.max(lastNeeded, xmin + last + 1);
                }
            }
            if (firstNeeded > lastNeeded) firstNeeded = lastNeeded = 0;
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
