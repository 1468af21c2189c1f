package dev.mvp.eval.segment;

import java.util.SplittableRandom;

/**
 * mmsegmentation's {@code PhotoMetricDistortion} (mmseg 0.x {@code datasets/pipelines/transforms.py}, in BEiT's ADE20K
 * pipeline after the crop and flip) with its defaults: brightness delta 32, contrast 0.5-1.5, saturation 0.5-1.5, hue
 * delta 18. In mmseg's order, each step on with probability 1/2:
 * <pre>
 * brightness:  x = convert(x, beta ~ U(-32, 32))
 * mode ~ {0, 1}; if mode 1: contrast (x = convert(x, alpha ~ U(0.5, 1.5)))
 * saturation:  HSV = bgr2hsv(x); S = convert(S, alpha ~ U(0.5, 1.5)); x = hsv2bgr(HSV)
 * hue:         HSV = bgr2hsv(x); H = (H + delta) mod 180, delta uniform in -18..17 (numpy's randint(-18, 18)); x = hsv2bgr(HSV)
 * if mode 0: contrast
 * convert(x, alpha, beta) = uint8(clip(float32(x) * float32(alpha) + float32(beta), 0, 255))   (truncation)
 * </pre>
 * mmseg holds the image as uint8 BGR ({@code LoadImageFromFile} with {@code to_float32=False}) and mmcv's
 * {@code bgr2hsv}/{@code hsv2bgr} call OpenCV's 8-bit conversions, so these are reproduced here bit for bit
 * ({@link #bgrToHsv}, {@link #hsvToBgr}): H in 0..179, S and V in 0..255. {@link #hsvToBgr} is OpenCV's vector path
 * (float32, fused multiply-adds, results truncated), which OpenCV takes for every pixel of a row but the last
 * {@code width mod 32} (AVX2 builds); those OpenCV rounds instead, which is not reproduced (no pixel of mmseg's 512-wide
 * crops is affected). Both conversions equal OpenCV 4.6's {@code cv2.cvtColor} on every possible input, and whole
 * distortions equal the Python transcription on fixed draws ({@code PhotoMetricDistortionTest},
 * {@code tools/fixtures/make_seg_fixtures.py}).
 *
 * <p>Stateless and thread-safe; works on interleaved RGB bytes (the channel order only decides which byte is which).
 */
public final class PhotoMetricDistortion {
    public static final int BRIGHTNESS_DELTA = 32;
    public static final double CONTRAST_LOWER = 0.5, CONTRAST_UPPER = 1.5, SATURATION_LOWER = 0.5, SATURATION_UPPER = 1.5;
    public static final int HUE_DELTA = 18;

    private PhotoMetricDistortion() {}

    /**
     * The random values of one distortion, in mmseg's fields; a step's value is unused when the step is off.
     *
     * @param brightness      whether brightness changes, by {@code beta}
     * @param contrastFirst   mmseg's {@code mode == 1}: contrast right after brightness, else last
     * @param contrast        whether contrast changes, by factor {@code alpha}
     * @param saturation      whether saturation changes, by factor {@code saturationAlpha}
     * @param hue             whether the hue turns, by {@code hueDelta} (of 180)
     */
    public record Draws(boolean brightness, double beta, boolean contrastFirst, boolean contrast, double alpha,
                        boolean saturation, double saturationAlpha, boolean hue, int hueDelta) {
        /** Nothing changes. */
        public static final Draws NONE = new Draws(false, 0, false, false, 1, false, 1, false, 0);

        /** Draws in mmseg's call order (each randint(2) then its value, the contrast pair where mode puts it). */
        public static Draws draw(SplittableRandom rng) {
            boolean brightness = rng.nextInt(2) == 1;
            double beta = brightness ? uniform(rng, -BRIGHTNESS_DELTA, BRIGHTNESS_DELTA) : 0;
            boolean contrastFirst = rng.nextInt(2) == 1;
            boolean contrast = false;
            double alpha = 1;
            if (contrastFirst) {
                contrast = rng.nextInt(2) == 1;
                if (contrast) alpha = uniform(rng, CONTRAST_LOWER, CONTRAST_UPPER);
            }
            boolean saturation = rng.nextInt(2) == 1;
            double saturationAlpha = saturation ? uniform(rng, SATURATION_LOWER, SATURATION_UPPER) : 1;
            boolean hue = rng.nextInt(2) == 1;
            int hueDelta = hue ? rng.nextInt(-HUE_DELTA, HUE_DELTA) : 0;
            if (!contrastFirst) {
                contrast = rng.nextInt(2) == 1;
                if (contrast) alpha = uniform(rng, CONTRAST_LOWER, CONTRAST_UPPER);
            }
            return new Draws(brightness, beta, contrastFirst, contrast, alpha, saturation, saturationAlpha, hue, hueDelta);
        }

        private static double uniform(SplittableRandom rng, double lo, double hi) {
            return lo + (hi - lo) * rng.nextDouble();
        }
    }

    /** Distorts {@code pixels} RGB pixels of {@code rgb} from byte {@code offset} on, in place. */
    public static void apply(byte[] rgb, int offset, int pixels, Draws d) {
        int end = offset + 3 * pixels;
        if (offset < 0 || pixels < 0 || end > rgb.length) {
            throw new IllegalArgumentException(pixels + " pixels from byte " + offset + " do not fit " + rgb.length + " bytes");
        }
        if (d.brightness()) convertAll(rgb, offset, end, 1, d.beta());
        if (d.contrastFirst() && d.contrast()) convertAll(rgb, offset, end, d.alpha(), 0);
        int[] hsv = new int[3];
        if (d.saturation()) {
            float a = (float) d.saturationAlpha();
            for (int i = offset; i < end; i += 3) {
                bgrToHsv(rgb[i + 2] & 0xFF, rgb[i + 1] & 0xFF, rgb[i] & 0xFF, hsv);
                hsvToRgb(hsv[0], convert(hsv[1], a, 0f), hsv[2], rgb, i);
            }
        }
        if (d.hue()) {
            for (int i = offset; i < end; i += 3) {
                bgrToHsv(rgb[i + 2] & 0xFF, rgb[i + 1] & 0xFF, rgb[i] & 0xFF, hsv);
                hsvToRgb(Math.floorMod(hsv[0] + d.hueDelta(), 180), hsv[1], hsv[2], rgb, i);
            }
        }
        if (!d.contrastFirst() && d.contrast()) convertAll(rgb, offset, end, d.alpha(), 0);
    }

    private static void convertAll(byte[] x, int from, int to, double alpha, double beta) {
        float a = (float) alpha, b = (float) beta;
        for (int i = from; i < to; i++) x[i] = (byte) convert(x[i] & 0xFF, a, b);
    }

    /** mmseg's convert: float32 multiply-add (two roundings, as numpy), clip to [0, 255], truncate to uint8. */
    static int convert(int v, float alpha, float beta) {
        float y = (float) v * alpha + beta;
        return y <= 0 ? 0 : y >= 255 ? 255 : (int) y;
    }

    private static void hsvToRgb(int h, int s, int v, byte[] rgb, int i) {
        int bgr = hsvToBgr(h, s, v);
        rgb[i] = (byte) (bgr);                 // r
        rgb[i + 1] = (byte) (bgr >> 8);        // g
        rgb[i + 2] = (byte) (bgr >> 16);       // b
    }

    // ---- OpenCV's 8-bit conversions (modules/imgproc/src/color_hsv.simd.hpp, hrange 180) -------------------------------

    private static final int HSV_SHIFT = 12;
    private static final int[] SDIV = new int[256], HDIV180 = new int[256];

    static {
        for (int i = 1; i < 256; i++) {
            SDIV[i] = (int) Math.rint((255 << HSV_SHIFT) / (1.0 * i));      // saturate_cast<int>: round to nearest
            HDIV180[i] = (int) Math.rint((180 << HSV_SHIFT) / (6.0 * i));
        }
    }

    /** OpenCV's RGB2HSV_b (integer arithmetic, hrange 180): writes H (0..179), S, V into {@code hsv}. */
    public static void bgrToHsv(int b, int g, int r, int[] hsv) {
        int v = Math.max(b, Math.max(g, r));
        int vmin = Math.min(b, Math.min(g, r));
        int diff = v - vmin;
        int vr = v == r ? -1 : 0;
        int vg = v == g ? -1 : 0;
        int s = (diff * SDIV[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
        int h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))));
        h = (h * HDIV180[diff] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
        h += h < 0 ? 180 : 0;
        hsv[0] = Math.min(255, h);
        hsv[1] = s;
        hsv[2] = v;
    }

    private static final float HSCALE = 6.0f / 180;
    private static final float ONE_SIXTH = 1.0f / 6.0f;
    private static final float INV_255 = 1.0f / 255.0f;

    /**
     * OpenCV's HSV2RGB_b vector path ({@code HSV2RGB_simd}, hrange 180): float32 arithmetic with the two fused
     * multiply-adds the compiler makes of {@code 1 - s*h} and {@code 1 - s*(1 - h)}, results truncated to 0..255.
     *
     * @return {@code b << 16 | g << 8 | r}
     */
    public static int hsvToBgr(int hByte, int sByte, int vByte) {
        float h = (float) hByte * HSCALE;
        float s = (float) sByte * INV_255;
        float v = (float) vByte * INV_255;
        float preSector = (float) (int) h;                 // v_trunc, h >= 0
        h = h - preSector;
        float tab0 = v;
        float tab1 = v * (1.0f - s);
        float tab2 = v * Math.fma(-s, h, 1.0f);
        float tab3 = v * Math.fma(-s, 1.0f - h, 1.0f);
        float sector = preSector - (float) (int) (preSector * ONE_SIXTH) * 6.0f;
        float b = sector < 2 ? tab1 : sector == 2 ? tab3 : sector == 3 || sector == 4 ? tab0 : tab2;
        float g = sector < 1 ? tab3 : sector == 1 || sector == 2 ? tab0 : sector == 3 ? tab2 : tab1;
        float r = sector < 1 ? tab0 : sector == 1 ? tab2 : sector == 2 || sector == 3 ? tab1 : sector == 4 ? tab3 : tab0;
        return truncate(b * 255.0f) << 16 | truncate(g * 255.0f) << 8 | truncate(r * 255.0f);
    }

    private static int truncate(float x) {
        return x <= 0 ? 0 : x >= 255 ? 255 : (int) x;
    }
}
