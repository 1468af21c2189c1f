package dev.mvp.data;

import dev.mvp.api.Interpolation;

/**
 * A plain transcription of Pillow's {@code ImagingResample} for 8-bit RGB ({@code Resample.c}: precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc, ImagingResampleVertical_8bpc, ImagingResampleInner),
 * loop for loop, for tests: {@link Resampler} reorganises the work (taps with zero weight left out, the horizontal
 * pass transposed and done in strips), and must still give these bytes.
 */
final class PilResampleReference {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PilResampleReference() {}

    /** {@code image.crop(box).resize((outWidth, outHeight), filter)}: interleaved RGB bytes. */
    static byte[] resize(RgbImage image, CropBox box, int outWidth, int outHeight, Interpolation filter) {
        int inW = box.width(), inH = box.height();
        byte[] crop = new byte[3 * inW * inH];
        for (int y = 0; y < inH; y++) {
            System.arraycopy(image.pixels(), 3 * ((box.top() + y) * image.width() + box.left()), crop, 3 * y * inW, 3 * inW);
        }
        double support = switch (filter) {
            case BILINEAR -> 1.0;
            case BICUBIC -> 2.0;
            case LANCZOS -> 3.0;
        };
        boolean needHorizontal = outWidth != inW, needVertical = outHeight != inH;
        int[] boundsH = new int[2 * outWidth], boundsV = new int[2 * outHeight];
        int ksizeH = precompute(inW, outWidth, support, filter, boundsH, null);
        int[] kkH = new int[outWidth * ksizeH];
        precompute(inW, outWidth, support, filter, boundsH, kkH);
        int ksizeV = precompute(inH, outHeight, support, filter, boundsV, null);
        int[] kkV = new int[outHeight * ksizeV];
        precompute(inH, outHeight, support, filter, boundsV, kkV);

        // ImagingResampleInner: the rows the vertical pass needs
        int ybox0 = boundsV[0];
        int ybox1 = boundsV[2 * outHeight - 2] + boundsV[2 * outHeight - 1];
        byte[] in = crop;
        int width = inW, height = inH;
        if (needHorizontal) {
            if (needVertical) {
                for (int i = 0; i < outHeight; i++) boundsV[2 * i] -= ybox0;
            }
            int rows = needVertical ? ybox1 - ybox0 : inH;
            int first = needVertical ? ybox0 : 0;
            byte[] tmp = new byte[3 * outWidth * rows];
            for (int yy = 0; yy < rows; yy++) {
                for (int xx = 0; xx < outWidth; xx++) {
                    int xmin = boundsH[2 * xx], xmax = boundsH[2 * xx + 1];
                    int ss0 = 1 << (PRECISION_BITS - 1), ss1 = ss0, ss2 = ss0;
                    for (int x = 0; x < xmax; x++) {
                        int s = 3 * ((yy + first) * inW + x + xmin);
                        int k = kkH[xx * ksizeH + x];
                        ss0 += (in[s] & 0xFF) * k;
                        ss1 += (in[s + 1] & 0xFF) * k;
                        ss2 += (in[s + 2] & 0xFF) * k;
                    }
                    tmp[3 * (yy * outWidth + xx)] = clip8(ss0);
                    tmp[3 * (yy * outWidth + xx) + 1] = clip8(ss1);
                    tmp[3 * (yy * outWidth + xx) + 2] = clip8(ss2);
                }
            }
            in = tmp;
            width = outWidth;
            height = rows;
        }
        if (needVertical) {
            byte[] out = new byte[3 * width * outHeight];
            for (int yy = 0; yy < outHeight; yy++) {
                int ymin = boundsV[2 * yy], ymax = boundsV[2 * yy + 1];
                for (int xx = 0; xx < width; xx++) {
                    int ss0 = 1 << (PRECISION_BITS - 1), ss1 = ss0, ss2 = ss0;
                    for (int y = 0; y < ymax; y++) {
                        int s = 3 * ((y + ymin) * width + xx);
                        int k = kkV[yy * ksizeV + y];
                        ss0 += (in[s] & 0xFF) * k;
                        ss1 += (in[s + 1] & 0xFF) * k;
                        ss2 += (in[s + 2] & 0xFF) * k;
                    }
                    out[3 * (yy * width + xx)] = clip8(ss0);
                    out[3 * (yy * width + xx) + 1] = clip8(ss1);
                    out[3 * (yy * width + xx) + 2] = clip8(ss2);
                }
            }
            in = out;
            height = outHeight;
        }
        if (height != outHeight || width != outWidth) throw new AssertionError("size " + width + "x" + height);
        return in;
    }

    /** precompute_coeffs + normalize_coeffs_8bpc; returns ksize, fills bounds and (if given) the fixed-point weights. */
    private static int precompute(int inSize, int outSize, double filterSupport, Interpolation filter, int[] bounds, int[] kk) {
        double scale = (double) inSize / outSize;
        double filterscale = scale < 1.0 ? 1.0 : scale;
        double support = filterSupport * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        if (kk == null) return ksize;
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ww = 0.0;
            double ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            java.util.Arrays.fill(k, 0.0);
            for (int x = 0; x < xmax; x++) {
                double w = filter((x + xmin - center + 0.5) * ss, filter);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++) {
                if (ww != 0.0) k[x] /= ww;
            }
            for (int x = 0; x < ksize; x++) {
                kk[xx * ksize + x] = k[x] < 0 ? (int) (-0.5 + k[x] * (1 << PRECISION_BITS)) : (int) (0.5 + k[x] * (1 << PRECISION_BITS));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return ksize;
    }

    private static double filter(double x, Interpolation filter) {
        switch (filter) {
            case BILINEAR:
                if (x < 0.0) x = -x;
                return x < 1.0 ? 1.0 - x : 0.0;
            case BICUBIC:
                if (x < 0.0) x = -x;
                if (x < 1.0) return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
                if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
                return 0.0;
            default:
                return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
        }
    }

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        x = x * Math.PI;
        return StrictMath.sin(x) / x;
    }

    /** clip8 through PIL's lookup table of [-640, 639]: the integer part clamped to [0, 255]. */
    private static byte clip8(int in) {
        int i = in >> PRECISION_BITS;
        return (byte) (i < 0 ? 0 : Math.min(i, 255));
    }
}
