package dev.mvp.data;

import java.util.random.RandomGenerator;

/**
 * The crop of torchvision's {@code RandomResizedCrop.get_params} (and of BEiT's
 * {@code RandomResizedCropAndInterpolationWithTwoPic}): a region covering a random fraction {@code scale} of the
 * image area with a random aspect ratio (width / height), log-uniform in {@code [minRatio, maxRatio]}.
 *
 * <p>Algorithm, draw for draw: up to 10 attempts of {@code target_area = area * uniform(minScale, maxScale)},
 * {@code aspect = exp(uniform(log minRatio, log maxRatio))}, {@code w = round(sqrt(target_area * aspect))},
 * {@code h = round(sqrt(target_area / aspect))} (round half to even, as Python's {@code round}); the first attempt
 * with {@code 0 < w <= width} and {@code 0 < h <= height} is accepted and placed at
 * {@code top = randint(0, height - h)}, {@code left = randint(0, width - w)} (both inclusive). If every attempt
 * fails, the central crop of the whole image clamped to the ratio range is returned. Arithmetic is in double
 * precision, like BEiT's version, which draws with Python's {@code random}; torchvision draws the two uniforms in
 * float32, a difference far below what a run can notice.
 *
 * <p>{@link #sample} never draws the flip: {@link CropBox#flip()} is false.
 */
public record RandomResizedCrop(double minScale, double maxScale, double minRatio, double maxRatio) {

    private static final int ATTEMPTS = 10;

    public RandomResizedCrop {
        if (!(minScale > 0) || !(minScale <= maxScale) || !Double.isFinite(maxScale)) {
            throw new IllegalArgumentException("crop scale range must satisfy 0 < min <= max, got (" + minScale + ", "
                    + maxScale + ")");
        }
        if (!(minRatio > 0) || !(minRatio <= maxRatio) || !Double.isFinite(maxRatio)) {
            throw new IllegalArgumentException("crop aspect-ratio range must satisfy 0 < min <= max, got (" + minRatio
                    + ", " + maxRatio + ")");
        }
    }

    /** BEiT's and MVP's pre-training crop: scale (0.08, 1), ratio (3/4, 4/3), torchvision's defaults. */
    public static RandomResizedCrop pretraining() {
        return new RandomResizedCrop(0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
    }

    /**
     * Draws a crop of a {@code width x height} image.
     *
     * @param rng consumed as {@code nextDouble()} (scale), {@code nextDouble()} (log ratio) per attempt, then
     *            {@code nextInt(0, height - h + 1)} (top) and {@code nextInt(0, width - w + 1)} (left)
     */
    public CropBox sample(int width, int height, RandomGenerator rng) {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        double area = (double) height * width;
        double logMin = Math.log(minRatio), logMax = Math.log(maxRatio);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            double targetArea = area * uniform(rng, minScale, maxScale);
            double aspect = Math.exp(uniform(rng, logMin, logMax));
            long w = Math.round(Math.rint(Math.sqrt(targetArea * aspect)));
            long h = Math.round(Math.rint(Math.sqrt(targetArea / aspect)));
            if (0 < w && w <= width && 0 < h && h <= height) {
                int top = rng.nextInt(0, height - (int) h + 1);
                int left = rng.nextInt(0, width - (int) w + 1);
                return new CropBox(left, top, (int) w, (int) h, false);
            }
        }
        double inRatio = (double) width / height;
        int w, h;
        if (inRatio < minRatio) {
            w = width;
            h = Math.max(1, (int) Math.rint(w / minRatio)); // >= 1: torchvision would return an empty crop
        } else if (inRatio > maxRatio) {
            h = height;
            w = Math.max(1, (int) Math.rint(h * maxRatio));
        } else {
            w = width;
            h = height;
        }
        return new CropBox((width - w) / 2, (height - h) / 2, w, h, false);
    }

    /** Python's {@code random.uniform(a, b)}: {@code a + (b - a) * random()}. */
    private static double uniform(RandomGenerator rng, double a, double b) {
        return a + (b - a) * rng.nextDouble();
    }
}
