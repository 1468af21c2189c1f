package dev.mvp.eval.finetune;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.data.CropBox;
import dev.mvp.data.RandomResizedCrop;
import dev.mvp.data.Resampler;
import dev.mvp.data.RgbImage;

import java.util.SplittableRandom;

/**
 * The fine-tuning training transform: a documented subset of timm's {@code create_transform(is_training=True)} as
 * BEiT and MVP configure it ({@code --aa rand-m9-mstd0.5-inc1 --reprob 0.25 --remode pixel}):
 * <ol>
 *   <li>{@code RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3), bicubic)} (torchvision's draw,
 *       PIL-exact resize), then a horizontal flip with probability 0.5;</li>
 *   <li>RandAugment with 2 operations per image, each applied with probability 0.5, magnitude drawn from
 *       N(9, 0.5) clipped to [0, 10], chosen uniformly from the <b>implemented subset</b> of timm's "increasing"
 *       list: AutoContrast, Equalize, Invert, PosterizeIncreasing (4 - int(m/10 * 4) bits), SolarizeIncreasing
 *       (threshold 256 - int(m/10 * 256)), SolarizeAdd (+int(m/10 * 110) below 128), Color/Contrast/Brightness
 *       Increasing (factor 1 +- 0.9 m/10, PIL's ImageEnhance blends), TranslateXRel/YRel (+- 0.45 m/10 of the
 *       side, whole pixels, filled with timm's mean colour (124, 116, 104)). <b>Left out:</b> Rotate, ShearX/Y and
 *       SharpnessIncreasing (they need PIL's affine resampling and smoothing filter). The implemented operations
 *       follow PIL's formulas but are not checked bit for bit against PIL;</li>
 *   <li>{@code ToTensor} + {@code Normalize} (ImageNet statistics);</li>
 *   <li>timm's {@code RandomErasing(probability=0.25, mode='pixel')}: one box of 2%-33% of the area, log-uniform
 *       aspect in [0.3, 3.3], filled with standard-normal noise per pixel and channel.</li>
 * </ol>
 * ColorJitter is not applied: timm skips it when an auto-augment policy is given, as here.
 *
 * @param size        output side
 * @param randAugment whether RandAugment runs (magnitude 9, std 0.5, 2 operations)
 * @param eraseProb   random-erasing probability (0.25; 0 disables)
 */
public record TrainTransform(int size, boolean randAugment, double eraseProb) {
    private static final RandomResizedCrop CROP = RandomResizedCrop.pretraining();
    private static final int[] FILL = {124, 116, 104};
    private static final int OPS = 11;

    public TrainTransform {
        if (size < 1) throw new IllegalArgumentException("size must be positive");
        if (eraseProb < 0 || eraseProb > 1) throw new IllegalArgumentException("erase probability must be in [0, 1]");
    }

    /** BEiT's setting at {@code size}: RandAugment on, random erasing 0.25. */
    public static TrainTransform beit(int size) {
        return new TrainTransform(size, true, 0.25);
    }

    /** Augments {@code image} into planar normalised floats at {@code out[offset ..]} ({@code 3 * size * size}). */
    public void apply(RgbImage image, SplittableRandom rng, Resampler resampler, float[] out, int offset) {
        CropBox box = CROP.sample(image.width(), image.height(), rng);
        RgbImage crop = resampler.resize(image, box, size, size, Interpolation.BICUBIC);
        byte[] px = crop.pixels().clone();
        if (rng.nextDouble() < 0.5) flip(px, size);
        if (randAugment) {
            for (int k = 0; k < 2; k++) {
                int op = rng.nextInt(OPS);
                double m = Math.max(0, Math.min(10, 9 + 0.5 * rng.nextGaussian()));
                if (rng.nextDouble() < 0.5) continue;     // each op applied with probability 0.5
                applyOp(op, m, px, size, rng);
            }
        }
        ImageNormalization.MeanStd n = ImageNormalization.IMAGENET;
        int plane = size * size;
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) out[offset + c * plane + i] = ((px[3 * i + c] & 0xFF) / 255f - n.mean()[c]) / n.std()[c];
        }
        if (eraseProb > 0 && rng.nextDouble() < eraseProb) erase(out, offset, size, rng);
    }

    private static void flip(byte[] px, int s) {
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s / 2; x++) {
                int a = 3 * (y * s + x), b = 3 * (y * s + s - 1 - x);
                for (int c = 0; c < 3; c++) {
                    byte t = px[a + c];
                    px[a + c] = px[b + c];
                    px[b + c] = t;
                }
            }
        }
    }

    static void applyOp(int op, double m, byte[] px, int s, SplittableRandom rng) {
        switch (op) {
            case 0 -> autoContrast(px);
            case 1 -> equalize(px);
            case 2 -> { for (int i = 0; i < px.length; i++) px[i] = (byte) (255 - (px[i] & 0xFF)); }
            case 3 -> {
                int bits = 4 - (int) (m / 10 * 4);
                int mask = ~((1 << (8 - bits)) - 1) & 0xFF;
                for (int i = 0; i < px.length; i++) px[i] = (byte) ((px[i] & 0xFF) & mask);
            }
            case 4 -> {
                int thresh = 256 - (int) (m / 10 * 256);
                for (int i = 0; i < px.length; i++) if ((px[i] & 0xFF) >= thresh) px[i] = (byte) (255 - (px[i] & 0xFF));
            }
            case 5 -> {
                int add = (int) (m / 10 * 110);
                for (int i = 0; i < px.length; i++) {
                    int v = px[i] & 0xFF;
                    if (v < 128) px[i] = (byte) Math.min(255, v + add);
                }
            }
            case 6, 7, 8 -> {
                double factor = 1 + (rng.nextDouble() < 0.5 ? -1 : 1) * m / 10 * 0.9;
                enhance(op, factor, px);
            }
            case 9, 10 -> {
                int shift = (int) Math.round((rng.nextDouble() < 0.5 ? -1 : 1) * m / 10 * 0.45 * s);
                translate(px, s, op == 9 ? shift : 0, op == 10 ? shift : 0);
            }
            default -> throw new IllegalArgumentException("op " + op);
        }
    }

    /** PIL's ImageOps.autocontrast(cutoff=0) per channel. */
    private static void autoContrast(byte[] px) {
        for (int c = 0; c < 3; c++) {
            int lo = 255, hi = 0;
            for (int i = c; i < px.length; i += 3) {
                int v = px[i] & 0xFF;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            if (hi <= lo) continue;
            double scale = 255.0 / (hi - lo), offset = -lo * scale;
            for (int i = c; i < px.length; i += 3) {
                int v = (int) ((px[i] & 0xFF) * scale + offset);
                px[i] = (byte) Math.max(0, Math.min(255, v));
            }
        }
    }

    /** PIL's ImageOps.equalize per channel. */
    private static void equalize(byte[] px) {
        for (int c = 0; c < 3; c++) {
            int[] h = new int[256];
            for (int i = c; i < px.length; i += 3) h[px[i] & 0xFF]++;
            int last = 255;
            while (last > 0 && h[last] == 0) last--;
            int total = 0;
            for (int v : h) total += v;
            int step = (total - h[last]) / 255;
            if (step == 0) continue;
            int[] lut = new int[256];
            int n = step / 2;
            for (int i = 0; i < 256; i++) {
                lut[i] = Math.min(255, n / step);
                n += h[i];
            }
            for (int i = c; i < px.length; i += 3) px[i] = (byte) lut[px[i] & 0xFF];
        }
    }

    /** PIL's ImageEnhance Color (6), Contrast (7), Brightness (8): blend(degenerate, image, factor), truncated. */
    private static void enhance(int op, double factor, byte[] px) {
        int n = px.length / 3;
        double mean = 0;
        if (op == 7) {
            long sum = 0;
            for (int i = 0; i < n; i++) sum += luma(px, i);
            mean = Math.floor(sum / (double) n + 0.5);
        }
        for (int i = 0; i < n; i++) {
            int l = op == 6 ? luma(px, i) : 0;
            for (int c = 0; c < 3; c++) {
                int v = px[3 * i + c] & 0xFF;
                double degenerate = op == 6 ? l : op == 7 ? mean : 0;
                double t = degenerate + factor * (v - degenerate);
                px[3 * i + c] = (byte) (t <= 0 ? 0 : t >= 255 ? 255 : (int) t);
            }
        }
    }

    /** PIL's L conversion: (R * 299 + G * 587 + B * 114) / 1000, rounded. */
    private static int luma(byte[] px, int i) {
        return ((px[3 * i] & 0xFF) * 299 + (px[3 * i + 1] & 0xFF) * 587 + (px[3 * i + 2] & 0xFF) * 114 + 500) / 1000;
    }

    private static void translate(byte[] px, int s, int dx, int dy) {
        byte[] src = px.clone();
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int sx = x + dx, sy = y + dy;   // PIL's affine maps output (x, y) to input (x + tx, y + ty)
                for (int c = 0; c < 3; c++) {
                    px[3 * (y * s + x) + c] = sx >= 0 && sx < s && sy >= 0 && sy < s ? src[3 * (sy * s + sx) + c] : (byte) FILL[c];
                }
            }
        }
    }

    /** timm's RandomErasing, one box, 'pixel' mode. */
    private static void erase(float[] out, int offset, int s, SplittableRandom rng) {
        double area = (double) s * s;
        double logLo = Math.log(0.3), logHi = Math.log(1 / 0.3);
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = area * (0.02 + rng.nextDouble() * (1 / 3.0 - 0.02));
            double aspect = Math.exp(logLo + rng.nextDouble() * (logHi - logLo));
            int h = (int) Math.round(Math.sqrt(target * aspect)), w = (int) Math.round(Math.sqrt(target / aspect));
            if (w < s && h < s) {
                int top = rng.nextInt(s - h + 1), left = rng.nextInt(s - w + 1);
                for (int c = 0; c < 3; c++) {
                    for (int y = top; y < top + h; y++) {
                        for (int x = left; x < left + w; x++) out[offset + c * s * s + y * s + x] = (float) rng.nextGaussian();
                    }
                }
                return;
            }
        }
    }
}
