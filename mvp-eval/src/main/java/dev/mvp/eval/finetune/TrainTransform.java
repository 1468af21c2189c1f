package dev.mvp.eval.finetune;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.data.CropBox;
import dev.mvp.data.RandomResizedCrop;
import dev.mvp.data.Resampler;
import dev.mvp.data.RgbImage;

import java.util.SplittableRandom;

/**
 * The fine-tuning training transform: timm's {@code create_transform(is_training=True)} as BEiT and MVP configure it
 * ({@code --aa rand-m9-mstd0.5-inc1 --train_interpolation bicubic --reprob 0.25 --remode pixel}):
 * <ol>
 *   <li>{@code RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3), bicubic)} (torchvision's draw,
 *       PIL-exact resize), then a horizontal flip with probability 0.5;</li>
 *   <li>{@link RandAugment}: timm's {@code rand_augment_transform('rand-m9-mstd0.5-inc1', hparams)} with all 15
 *       operations of its "increasing" list, PIL's arithmetic (bit for bit), bicubic resampling for the geometric
 *       operations (BEiT's training interpolation) and timm's img_mean fill (124, 116, 104) for ImageNet's mean;</li>
 *   <li>{@code ToTensor} + {@code Normalize} (ImageNet statistics);</li>
 *   <li>timm's {@code RandomErasing(probability=0.25, mode='pixel')}: one box of 2%-33% of the area, log-uniform
 *       aspect in [0.3, 3.3], filled with standard-normal noise per pixel and channel.</li>
 * </ol>
 * ColorJitter is not applied: timm skips it when an auto-augment policy is given, as here.
 *
 * @param size        output side
 * @param randAugment whether RandAugment runs ({@code rand-m9-mstd0.5-inc1})
 * @param eraseProb   random-erasing probability (0.25; 0 disables)
 */
public record TrainTransform(int size, boolean randAugment, double eraseProb) {
    private static final RandomResizedCrop CROP = RandomResizedCrop.pretraining();
    /** BEiT's RandAugment, filling with timm's img_mean of the ImageNet mean used below: (124, 116, 104). */
    static final RandAugment RAND_AUGMENT = RandAugment.beit(RandAugment.fillFor(ImageNormalization.IMAGENET.mean()));

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
        if (randAugment) px = RAND_AUGMENT.apply(new RgbImage(size, size, px), rng).pixels();
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
