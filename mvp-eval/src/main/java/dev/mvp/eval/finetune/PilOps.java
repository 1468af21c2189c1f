package dev.mvp.eval.finetune;

import dev.mvp.data.RgbImage;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Objects;

/**
 * The PIL (Pillow 9.4) image operations that timm's RandAugment calls, on 8-bit RGB images, with PIL's own arithmetic
 * so that the results are PIL's byte for byte: the look-up-table ops of {@code ImageOps} (autocontrast, equalize,
 * invert, posterize, solarize, and timm's solarize_add), the {@code ImageEnhance} blends (Color, Contrast,
 * Brightness, Sharpness: {@code Image.blend(degenerate, image, factor)} with a float32 factor), and
 * {@code Image.transform(AFFINE)} / {@code Image.rotate} with bilinear or bicubic resampling and a fill colour.
 * Every method returns a new image and leaves its input alone. Checked against PIL by {@code RandAugmentTest}
 * ({@code tools/fixtures/make_randaugment_fixtures.py}).
 */
public final class PilOps {

    /** PIL's resampling filters for {@link #affine} and {@link #rotate} ({@code Image.BILINEAR}, {@code Image.BICUBIC}). */
    public enum Filter { BILINEAR, BICUBIC }

    /** PIL's SMOOTH kernel (1 1 1 / 1 5 1 / 1 1 1) / 13, divided in float32 as {@code _imaging.c} divides it. */
    private static final float K1 = 1f / 13f, K5 = 5f / 13f;

    private PilOps() {}

    // ---------------------------------------------------------------------------------------------------------------
    // look-up-table operations

    /** {@code ImageOps.autocontrast(image)} (cutoff 0): each channel's lowest value to 0, highest to 255. */
    public static RgbImage autoContrast(RgbImage im) {
        int[][] h = histograms(im);
        int[][] lut = new int[3][];
        for (int c = 0; c < 3; c++) {
            int lo = 0, hi = 255;
            while (lo < 255 && h[c][lo] == 0) lo++;
            while (hi > 0 && h[c][hi] == 0) hi--;
            lut[c] = new int[256];
            if (hi <= lo) {
                for (int i = 0; i < 256; i++) lut[c][i] = i;
            } else {
                double scale = 255.0 / (hi - lo);
                double offset = -lo * scale;
                for (int i = 0; i < 256; i++) lut[c][i] = Math.max(0, Math.min(255, (int) (i * scale + offset)));
            }
        }
        return apply(im, lut);
    }

    /** {@code ImageOps.equalize(image)}: each channel's histogram equalised with PIL's integer steps. */
    public static RgbImage equalize(RgbImage im) {
        int[][] h = histograms(im);
        int[][] lut = new int[3][256];
        for (int c = 0; c < 3; c++) {
            int last = -1, distinct = 0;
            long total = 0;
            for (int i = 0; i < 256; i++) {
                if (h[c][i] != 0) {
                    last = i;
                    distinct++;
                    total += h[c][i];
                }
            }
            long step = distinct <= 1 ? 0 : (total - h[c][last]) / 255;
            if (step == 0) {
                for (int i = 0; i < 256; i++) lut[c][i] = i;
                continue;
            }
            long n = step / 2;
            for (int i = 0; i < 256; i++) {
                lut[c][i] = (int) Math.min(255, n / step);    // Image.point clips the table to 0..255
                n += h[c][i];
            }
        }
        return apply(im, lut);
    }

    /** {@code ImageOps.invert(image)}: 255 - v. */
    public static RgbImage invert(RgbImage im) {
        int[] lut = new int[256];
        for (int i = 0; i < 256; i++) lut[i] = 255 - i;
        return apply(im, lut);
    }

    /** {@code ImageOps.posterize(image, bits)}: keep the {@code bits} (0..8) most significant bits. */
    public static RgbImage posterize(RgbImage im, int bits) {
        if (bits < 0 || bits > 8) throw new IllegalArgumentException("posterize bits must be in [0, 8], got " + bits);
        int mask = ~((1 << (8 - bits)) - 1);
        int[] lut = new int[256];
        for (int i = 0; i < 256; i++) lut[i] = i & mask & 0xFF;
        return apply(im, lut);
    }

    /** {@code ImageOps.solarize(image, threshold)}: values at or above the threshold inverted. */
    public static RgbImage solarize(RgbImage im, int threshold) {
        int[] lut = new int[256];
        for (int i = 0; i < 256; i++) lut[i] = i < threshold ? i : 255 - i;
        return apply(im, lut);
    }

    /** timm's {@code solarize_add(image, add, thresh)}: {@code min(255, v + add)} for values below the threshold. */
    public static RgbImage solarizeAdd(RgbImage im, int add, int threshold) {
        int[] lut = new int[256];
        for (int i = 0; i < 256; i++) lut[i] = i < threshold ? Math.max(0, Math.min(255, i + add)) : i;
        return apply(im, lut);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ImageEnhance

    /** {@code ImageEnhance.Color(image).enhance(factor)}: blend with the image's grey ({@code convert("L")}). */
    public static RgbImage color(RgbImage im, double factor) {
        byte[] p = im.pixels();
        byte[] grey = new byte[p.length];
        for (int i = 0; i < p.length; i += 3) {
            byte l = (byte) luma(p[i] & 0xFF, p[i + 1] & 0xFF, p[i + 2] & 0xFF);
            grey[i] = l;
            grey[i + 1] = l;
            grey[i + 2] = l;
        }
        return blend(grey, im, factor);
    }

    /**
     * {@code ImageEnhance.Contrast(image).enhance(factor)}: blend with a flat grey, the mean of the image's "L"
     * values rounded as PIL does ({@code int(mean + 0.5)}).
     */
    public static RgbImage contrast(RgbImage im, double factor) {
        byte[] p = im.pixels();
        long sum = 0;
        for (int i = 0; i < p.length; i += 3) sum += luma(p[i] & 0xFF, p[i + 1] & 0xFF, p[i + 2] & 0xFF);
        int mean = (int) ((double) sum / (p.length / 3) + 0.5);
        byte[] flat = new byte[p.length];
        java.util.Arrays.fill(flat, (byte) mean);
        return blend(flat, im, factor);
    }

    /** {@code ImageEnhance.Brightness(image).enhance(factor)}: blend with black. */
    public static RgbImage brightness(RgbImage im, double factor) {
        return blend(new byte[im.pixels().length], im, factor);
    }

    /**
     * {@code ImageEnhance.Sharpness(image).enhance(factor)}: blend with the image through PIL's SMOOTH filter, whose
     * one-pixel border is the image itself (so the border pixels are left as they are). Images narrower or lower
     * than 3 pixels are returned as copies (PIL's filter does not run on them).
     */
    public static RgbImage sharpness(RgbImage im, double factor) {
        return blend(smooth(im), im, factor);
    }

    /** PIL's {@code image.filter(ImageFilter.SMOOTH)} (Filter.c ImagingFilter3x3, float32 sums, +0.5, truncated). */
    static byte[] smooth(RgbImage im) {
        int w = im.width(), h = im.height();
        byte[] p = im.pixels();
        byte[] out = p.clone();
        if (w < 3 || h < 3) return out;
        for (int y = 1; y < h - 1; y++) {
            int below = 3 * (y + 1) * w, row = 3 * y * w, above = 3 * (y - 1) * w;
            for (int x = 1; x < w - 1; x++) {
                for (int c = 0; c < 3; c++) {
                    int o = 3 * x + c;
                    // ss = offset + 0.5, then the row below (kernel[0..2]), the row itself (kernel[3..5]), the row above
                    float ss = 0.5f;
                    ss += (p[below + o - 3] & 0xFF) * K1 + (p[below + o] & 0xFF) * K1 + (p[below + o + 3] & 0xFF) * K1;
                    ss += (p[row + o - 3] & 0xFF) * K1 + (p[row + o] & 0xFF) * K5 + (p[row + o + 3] & 0xFF) * K1;
                    ss += (p[above + o - 3] & 0xFF) * K1 + (p[above + o] & 0xFF) * K1 + (p[above + o + 3] & 0xFF) * K1;
                    out[row + o] = (byte) (ss <= 0f ? 0 : ss >= 255f ? 255 : (int) ss);
                }
            }
        }
        return out;
    }

    /**
     * {@code Image.blend(degenerate, image, factor)} (Blend.c): the factor as float32; {@code in1 + f (in2 - in1)}
     * in float32, truncated, and clipped to 0..255 when f is outside [0, 1].
     */
    static RgbImage blend(byte[] degenerate, RgbImage im, double factor) {
        float alpha = (float) factor;
        byte[] p = im.pixels();
        byte[] out = new byte[p.length];
        boolean inside = alpha >= 0 && alpha <= 1.0f;
        for (int i = 0; i < p.length; i++) {
            int a = degenerate[i] & 0xFF, b = p[i] & 0xFF;
            float t = a + alpha * (b - a);
            out[i] = (byte) (inside ? (int) t : t <= 0f ? 0 : t >= 255f ? 255 : (int) t);
        }
        return new RgbImage(im.width(), im.height(), out);
    }

    /** PIL's RGB to "L" conversion (Convert.c rgb2l): {@code (19595 R + 38470 G + 7471 B + 0x8000) >> 16}. */
    static int luma(int r, int g, int b) {
        return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // geometry

    /**
     * {@code image.transform(image.size, Image.AFFINE, m, resample=filter, fillcolor=fill)}: output pixel (x, y)
     * samples the input at {@code (m0 (x+.5) + m1 (y+.5) + m2, m3 (x+.5) + m4 (y+.5) + m5)} (Geometry.c
     * ImagingGenericTransform, double arithmetic); sample points outside the image take {@code fill} (R, G, B), points
     * inside are interpolated with the neighbours clamped to the image.
     */
    public static RgbImage affine(RgbImage im, double[] m, Filter filter, int[] fill) {
        Objects.requireNonNull(filter, "filter");
        if (m.length != 6) throw new IllegalArgumentException("an affine matrix has 6 coefficients, got " + m.length);
        checkFill(fill);
        int w = im.width(), h = im.height();
        byte[] p = im.pixels();
        byte[] out = new byte[p.length];
        double a0 = m[0], a1 = m[1], a2 = m[2], a3 = m[3], a4 = m[4], a5 = m[5];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double xin = x + 0.5, yin = y + 0.5;
                double xx = a0 * xin + a1 * yin + a2;
                double yy = a3 * xin + a4 * yin + a5;
                int o = 3 * (y * w + x);
                if (xx < 0.0 || xx >= w || yy < 0.0 || yy >= h) {
                    out[o] = (byte) fill[0];
                    out[o + 1] = (byte) fill[1];
                    out[o + 2] = (byte) fill[2];
                } else if (filter == Filter.BICUBIC) {
                    bicubic(p, w, h, xx, yy, out, o);
                } else {
                    bilinear(p, w, h, xx, yy, out, o);
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /**
     * {@code image.rotate(degrees, resample=filter, fillcolor=fill)}: counter-clockwise about the centre
     * {@code (w/2, h/2)}, same size; PIL's matrix (cos and sin of {@code -radians(degrees mod 360)} rounded to 15
     * decimals) through {@link #affine}. An angle of 0 (mod 360) returns a copy, as PIL does.
     */
    public static RgbImage rotate(RgbImage im, double degrees, Filter filter, int[] fill) {
        double angle = pyMod(degrees, 360.0);
        if (angle == 0) return new RgbImage(im.width(), im.height(), im.pixels().clone());
        double cx = im.width() / 2.0, cy = im.height() / 2.0;
        double rad = -Math.toRadians(angle);
        double a = round15(Math.cos(rad)), b = round15(Math.sin(rad));
        double d = round15(-Math.sin(rad)), e = round15(Math.cos(rad));
        double c = a * -cx + b * -cy + 0.0;
        double f = d * -cx + e * -cy + 0.0;
        c += cx;
        f += cy;
        return affine(im, new double[] {a, b, c, d, e, f}, filter, fill);
    }

    /** Python's {@code round(v, 15)}: the exact binary value rounded half-even to 15 decimals, read back. */
    static double round15(double v) {
        return Double.parseDouble(new BigDecimal(v).setScale(15, RoundingMode.HALF_EVEN).toString());
    }

    /** Python's float {@code a % b} for b > 0 (the result has the sign of b). */
    private static double pyMod(double a, double b) {
        double r = a % b;
        if (r != 0 && r < 0) r += b;
        return r;
    }

    /** Geometry.c bilinear_filter32RGB: the two rows clamped as PIL does, each value truncated. */
    private static void bilinear(byte[] p, int w, int h, double xin, double yin, byte[] out, int o) {
        xin -= 0.5;
        yin -= 0.5;
        int x = (int) Math.floor(xin), y = (int) Math.floor(yin);
        double dx = xin - x, dy = yin - y;
        int r0 = 3 * yclip(y, h) * w;
        boolean has1 = y + 1 >= 0 && y + 1 < h;
        int r1 = 3 * (y + 1) * w;
        int x0 = 3 * xclip(x, w), x1 = 3 * xclip(x + 1, w);
        for (int c = 0; c < 3; c++) {
            int a = p[r0 + x0 + c] & 0xFF, b = p[r0 + x1 + c] & 0xFF;
            double v1 = a + (b - a) * dx;
            double v2 = v1;
            if (has1) {
                a = p[r1 + x0 + c] & 0xFF;
                b = p[r1 + x1 + c] & 0xFF;
                v2 = a + (b - a) * dx;
            }
            v1 = v1 + (v2 - v1) * dy;
            out[o + c] = (byte) (int) v1;
        }
    }

    /** Geometry.c bicubic_filter32RGB (the a = -1 cubic of PIL's transforms), clipped to 0..255 and truncated. */
    private static void bicubic(byte[] p, int w, int h, double xin, double yin, byte[] out, int o) {
        xin -= 0.5;
        yin -= 0.5;
        int x = (int) Math.floor(xin), y = (int) Math.floor(yin);
        double dx = xin - x, dy = yin - y;
        x--;
        y--;
        int x0 = 3 * xclip(x, w), x1 = 3 * xclip(x + 1, w), x2 = 3 * xclip(x + 2, w), x3 = 3 * xclip(x + 3, w);
        for (int c = 0; c < 3; c++) {
            int r = 3 * yclip(y, h) * w + c;
            double v1 = cubic(p[r + x0] & 0xFF, p[r + x1] & 0xFF, p[r + x2] & 0xFF, p[r + x3] & 0xFF, dx);
            double v2 = v1, v3, v4;
            if (y + 1 >= 0 && y + 1 < h) {
                r = 3 * (y + 1) * w + c;
                v2 = cubic(p[r + x0] & 0xFF, p[r + x1] & 0xFF, p[r + x2] & 0xFF, p[r + x3] & 0xFF, dx);
            }
            v3 = v2;
            if (y + 2 >= 0 && y + 2 < h) {
                r = 3 * (y + 2) * w + c;
                v3 = cubic(p[r + x0] & 0xFF, p[r + x1] & 0xFF, p[r + x2] & 0xFF, p[r + x3] & 0xFF, dx);
            }
            v4 = v3;
            if (y + 3 >= 0 && y + 3 < h) {
                r = 3 * (y + 3) * w + c;
                v4 = cubic(p[r + x0] & 0xFF, p[r + x1] & 0xFF, p[r + x2] & 0xFF, p[r + x3] & 0xFF, dx);
            }
            double v = cubic(v1, v2, v3, v4, dy);
            out[o + c] = (byte) (v <= 0.0 ? 0 : v >= 255.0 ? 255 : (int) v);
        }
    }

    /** Geometry.c's BICUBIC macro, evaluated in the same order. */
    private static double cubic(double v1, double v2, double v3, double v4, double d) {
        double p1 = v2;
        double p2 = -v1 + v3;
        double p3 = 2 * (v1 - v2) + v3 - v4;
        double p4 = -v1 + v2 - v3 + v4;
        return p1 + d * (p2 + d * (p3 + d * p4));
    }

    private static int xclip(int x, int w) {
        return x < 0 ? 0 : x < w ? x : w - 1;
    }

    private static int yclip(int y, int h) {
        return y < 0 ? 0 : y < h ? y : h - 1;
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static int[][] histograms(RgbImage im) {
        int[][] h = new int[3][256];
        byte[] p = im.pixels();
        for (int i = 0; i < p.length; i += 3) {
            h[0][p[i] & 0xFF]++;
            h[1][p[i + 1] & 0xFF]++;
            h[2][p[i + 2] & 0xFF]++;
        }
        return h;
    }

    private static RgbImage apply(RgbImage im, int[] lut) {
        return apply(im, new int[][] {lut, lut, lut});
    }

    private static RgbImage apply(RgbImage im, int[][] lut) {
        byte[] p = im.pixels();
        byte[] out = new byte[p.length];
        for (int i = 0; i < p.length; i += 3) {
            out[i] = (byte) lut[0][p[i] & 0xFF];
            out[i + 1] = (byte) lut[1][p[i + 1] & 0xFF];
            out[i + 2] = (byte) lut[2][p[i + 2] & 0xFF];
        }
        return new RgbImage(im.width(), im.height(), out);
    }

    private static void checkFill(int[] fill) {
        if (fill == null || fill.length != 3) throw new IllegalArgumentException("the fill colour needs 3 values (R, G, B)");
        for (int v : fill) {
            if (v < 0 || v > 255) throw new IllegalArgumentException("fill colour values must be in [0, 255], got " + v);
        }
    }
}
