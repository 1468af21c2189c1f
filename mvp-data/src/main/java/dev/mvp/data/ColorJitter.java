package dev.mvp.data;

import java.util.random.RandomGenerator;

/**
 * torchvision's {@code ColorJitter(brightness, contrast, saturation, hue)} on PIL images, pixel for pixel: the four
 * adjustments in a random order, each with a factor drawn uniformly from its range. An adjustment whose strength is
 * 0 is left out. BEiT's pre-training uses {@code ColorJitter(0.4, 0.4, 0.4)} on the whole image before its crop.
 *
 * <p>The adjustments are PIL's ({@code ImageEnhance} and torchvision's {@code adjust_hue}), reproduced exactly:
 * <ul>
 *   <li>brightness {@code f}: {@code blend(black, img, f)};</li>
 *   <li>contrast {@code f}: {@code blend(grey, img, f)}, grey being the rounded mean of the image's luma
 *       ({@code convert('L')});</li>
 *   <li>saturation {@code f}: {@code blend(luma, img, f)} per pixel;</li>
 *   <li>hue {@code h}: to PIL's 8-bit HSV, hue channel plus {@code uint8(h * 255)} modulo 256, back to RGB.</li>
 * </ul>
 * PIL's {@code blend(a, b, f)} is {@code a + f * (b - a)} in float32, truncated to 8 bits (and clipped when
 * {@code f > 1}).
 *
 * @param brightness factor range {@code [max(0, 1 - brightness), 1 + brightness]}; 0 for none
 * @param contrast   likewise
 * @param saturation likewise
 * @param hue        hue shift range {@code [-hue, hue]}, at most 0.5; 0 for none
 */
public record ColorJitter(double brightness, double contrast, double saturation, double hue) {

    /** No jitter. */
    public static final ColorJitter NONE = new ColorJitter(0, 0, 0, 0);

    public ColorJitter {
        if (!(brightness >= 0) || !(contrast >= 0) || !(saturation >= 0) || !Double.isFinite(brightness + contrast + saturation)) {
            throw new IllegalArgumentException("colour jitter strengths must be finite and >= 0, got brightness "
                    + brightness + ", contrast " + contrast + ", saturation " + saturation);
        }
        if (!(hue >= 0 && hue <= 0.5)) throw new IllegalArgumentException("colour jitter hue must be in [0, 0.5], got " + hue);
    }

    /** BEiT's pre-training jitter, {@code ColorJitter(0.4, 0.4, 0.4)} (its {@code --color_jitter 0.4}). */
    public static ColorJitter beit() {
        return new ColorJitter(0.4, 0.4, 0.4, 0);
    }

    /** True if no adjustment is active. */
    public boolean isNone() {
        return brightness == 0 && contrast == 0 && saturation == 0 && hue == 0;
    }

    /** Operation codes, torchvision's {@code fn_idx} values. */
    static final int BRIGHTNESS = 0, CONTRAST = 1, SATURATION = 2, HUE = 3;

    /**
     * One draw: the order of the four adjustments and their factors ({@code NaN} for an adjustment left out).
     */
    public record Params(int[] order, double brightness, double contrast, double saturation, double hue) {
        public Params {
            order = order.clone();
        }

        @Override public int[] order() {
            return order.clone();
        }
    }

    /**
     * Draws an order (a Fisher-Yates shuffle of 0..3) and then, for each active adjustment in the order
     * brightness, contrast, saturation, hue, its factor; nothing is drawn when {@link #isNone()}.
     */
    public Params sample(RandomGenerator rng) {
        if (isNone()) return new Params(new int[] {0, 1, 2, 3}, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        int[] order = {0, 1, 2, 3};
        for (int i = 3; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double b = brightness > 0 ? uniform(rng, Math.max(0, 1 - brightness), 1 + brightness) : Double.NaN;
        double c = contrast > 0 ? uniform(rng, Math.max(0, 1 - contrast), 1 + contrast) : Double.NaN;
        double s = saturation > 0 ? uniform(rng, Math.max(0, 1 - saturation), 1 + saturation) : Double.NaN;
        double h = hue > 0 ? uniform(rng, -hue, hue) : Double.NaN;
        return new Params(order, b, c, s, h);
    }

    private static double uniform(RandomGenerator rng, double a, double b) {
        return a + (b - a) * rng.nextDouble();
    }

    /** Applies a draw of {@link #sample}: a new image, {@code image} is not changed. */
    public static RgbImage apply(RgbImage image, Params p) {
        byte[] px = image.pixels().clone();
        for (int op : p.order) {
            switch (op) {
                case BRIGHTNESS -> { if (!Double.isNaN(p.brightness)) brightness(px, (float) p.brightness); }
                case CONTRAST -> { if (!Double.isNaN(p.contrast)) contrast(px, (float) p.contrast); }
                case SATURATION -> { if (!Double.isNaN(p.saturation)) saturation(px, (float) p.saturation); }
                case HUE -> { if (!Double.isNaN(p.hue)) hue(px, p.hue); }
                default -> throw new IllegalArgumentException("unknown colour jitter operation " + op);
            }
        }
        return new RgbImage(image.width(), image.height(), px);
    }

    /** PIL's {@code Image.blend(a, b, alpha)} for one sample (Blend.c). */
    private static byte blend(int a, int b, float alpha) {
        float t = a + alpha * (b - a);
        if (alpha >= 0 && alpha <= 1) return (byte) (int) t;
        return t <= 0f ? 0 : t >= 255f ? (byte) 255 : (byte) (int) t;
    }

    static void brightness(byte[] px, float f) {
        for (int i = 0; i < px.length; i++) px[i] = blend(0, px[i] & 0xFF, f);
    }

    static void contrast(byte[] px, float f) {
        long sum = 0;
        for (int i = 0; i < px.length; i += 3) sum += luma(px, i);
        int mean = (int) ((double) sum / (px.length / 3) + 0.5);
        for (int i = 0; i < px.length; i++) px[i] = blend(mean, px[i] & 0xFF, f);
    }

    static void saturation(byte[] px, float f) {
        for (int i = 0; i < px.length; i += 3) {
            int l = luma(px, i);
            px[i] = blend(l, px[i] & 0xFF, f);
            px[i + 1] = blend(l, px[i + 1] & 0xFF, f);
            px[i + 2] = blend(l, px[i + 2] & 0xFF, f);
        }
    }

    /** PIL's {@code convert('L')}: ITU-R 601-2 luma in 16-bit fixed point (Convert.c {@code L24}). */
    static int luma(byte[] px, int i) {
        return ((px[i] & 0xFF) * 19595 + (px[i + 1] & 0xFF) * 38470 + (px[i + 2] & 0xFF) * 7471 + 0x8000) >> 16;
    }

    static void hue(byte[] px, double hueFactor) {
        // numpy: np_h += np.uint8(hue_factor * 255), i.e. the float truncated toward zero, then taken modulo 256
        int shift = ((int) (hueFactor * 255)) & 0xFF;
        for (int i = 0; i < px.length; i += 3) {
            int r = px[i] & 0xFF, g = px[i + 1] & 0xFF, b = px[i + 2] & 0xFF;
            int max = Math.max(r, Math.max(g, b)), min = Math.min(r, Math.min(g, b));
            if (max == min) continue; // grey: saturation 0, hue irrelevant, hsv2rgb gives (v, v, v) back
            // rgb2hsv (Convert.c, after colorsys.py), float32 with double constants as in C
            float cr = max - min;
            float s = cr / (float) max;
            float rc = (max - r) / cr, gc = (max - g) / cr, bc = (max - b) / cr;
            float h;
            if (r == max) h = bc - gc;
            else if (g == max) h = (float) (2.0 + rc - bc);
            else h = (float) (4.0 + gc - rc);
            float hh = (float) ((h / 6.0 + 1.0) % 1.0);
            int uh = clip8((int) (hh * 255.0));
            int us = clip8((int) (s * 255.0));
            // shift hue, then hsv2rgb
            int hv = (uh + shift) & 0xFF;
            if (us == 0) {
                px[i] = px[i + 1] = px[i + 2] = (byte) max;
                continue;
            }
            int sector = (int) Math.floor((float) hv * 6.0 / 255.0);
            float f = (float) ((float) hv * 6.0 / 255.0 - (float) sector);
            float fs = (float) (((float) us) / 255.0);
            int p = clip8((int) Math.round(max * (1.0 - fs)));
            int q = clip8((int) Math.round(max * (1.0 - fs * f)));
            int t = clip8((int) Math.round(max * (1.0 - fs * (1.0 - f))));
            int v = max;
            int ro, go, bo;
            switch (sector % 6) {
                case 0 -> { ro = v; go = t; bo = p; }
                case 1 -> { ro = q; go = v; bo = p; }
                case 2 -> { ro = p; go = v; bo = t; }
                case 3 -> { ro = p; go = q; bo = v; }
                case 4 -> { ro = t; go = p; bo = v; }
                default -> { ro = v; go = p; bo = q; }
            }
            px[i] = (byte) ro;
            px[i + 1] = (byte) go;
            px[i + 2] = (byte) bo;
        }
    }

    private static int clip8(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }
}
