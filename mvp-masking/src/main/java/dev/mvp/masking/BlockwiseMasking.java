package dev.mvp.masking;

import dev.mvp.api.MaskingStrategy;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * BEiT's blockwise masking ({@code beit/masking_generator.py}, {@code MaskingGenerator}), step for step.
 *
 * <p>Rectangles are proposed until the target count is reached or a round adds nothing. Each round makes at most
 * 10 attempts: a target area uniform in [{@code minPatchesPerBlock}, remaining budget] (Python's
 * {@code random.uniform(a, b) = a + (b - a) u}, also when a &gt; b), an aspect ratio (height / width)
 * log-uniform in [{@code minAspect}, {@code maxAspect}], {@code h = round(sqrt(area * aspect))},
 * {@code w = round(sqrt(area / aspect))} rounded half to even as Python's {@code round}; a rectangle is placed only
 * if {@code h < rows} and {@code w < cols}, at a uniform top-left corner (inclusive ends), and applied only if it
 * adds between 1 and the remaining budget new patches. The result therefore never exceeds the target, may fall a
 * little short of it (about 1 patch on average at 14x14 / 75) and, in BEiT's configuration, is never below 16.
 *
 * <p>Target count: {@link Config#count()} is the count on BEiT's 14x14 grid (196 patches); for another grid it is
 * scaled by area, {@code round(count * rows * cols / 196)} (half to even), so the masked fraction stays the same.
 * The minimum block size and the aspect range are not scaled. With {@link Config#topUp()} the shortfall is filled
 * with uniformly random extra patches, so the count is exactly the target (not in BEiT; off by default).
 *
 * <p>Stateless and thread-safe: a mask is a pure function of the generator passed to {@link #sample}.
 */
public final class BlockwiseMasking implements MaskingStrategy {

    /** The number of patches {@link Config#count()} refers to: BEiT's 14x14 grid (224 px, patch 16). */
    public static final int REFERENCE_PATCHES = 196;

    private static final int ATTEMPTS_PER_BLOCK = 10;

    /**
     * Options, named as in BEiT ({@code num_mask_patches}, {@code min_mask_patches_per_block}, {@code min_aspect}).
     *
     * @param count              patches to mask on a 14x14 grid (BEiT: 75 of 196); scaled by area on other grids
     * @param minPatchesPerBlock lower end of a block's target area (BEiT: 16)
     * @param minAspect          smallest height/width ratio of a block (BEiT: 0.3)
     * @param maxAspect          largest height/width ratio (BEiT: 1 / 0.3)
     * @param topUp              fill any shortfall with uniformly random patches (not in BEiT)
     */
    public record Config(int count, int minPatchesPerBlock, double minAspect, double maxAspect, boolean topUp) {
        public Config {
            if (count < 1 || count > REFERENCE_PATCHES) {
                throw new IllegalArgumentException("count must be in [1, " + REFERENCE_PATCHES + "] (patches of a 14x14 grid), got " + count);
            }
            if (minPatchesPerBlock < 1) throw new IllegalArgumentException("minPatchesPerBlock must be >= 1, got " + minPatchesPerBlock);
            if (!(minAspect > 0) || !(maxAspect >= minAspect) || Double.isInfinite(maxAspect)) {
                throw new IllegalArgumentException("need 0 < minAspect <= maxAspect < infinity, got " + minAspect + " and " + maxAspect);
            }
        }

        /** BEiT's pre-training options: blocks of at least 16 patches, aspect ratios in [0.3, 1/0.3], no top-up. */
        public static Config beit(int count) {
            return new Config(count, 16, 0.3, 1 / 0.3, false);
        }

        public Config withTopUp(boolean topUp) {
            return new Config(count, minPatchesPerBlock, minAspect, maxAspect, topUp);
        }

        /** The number of patches to mask on a {@code rows x cols} grid: {@code round(count * rows * cols / 196)}. */
        public int targetCount(int rows, int cols) {
            return (int) Math.rint((double) count * Masks.patches(rows, cols) / REFERENCE_PATCHES);
        }
    }

    private final Config config;
    private final double logMinAspect;
    private final double logMaxAspect;

    public BlockwiseMasking(Config config) {
        this.config = Objects.requireNonNull(config, "config");
        this.logMinAspect = Math.log(config.minAspect());
        this.logMaxAspect = Math.log(config.maxAspect());
    }

    /** BEiT's pre-training masking: {@code countAt196} patches of a 14x14 grid (75 in BEiT and MVP). */
    public static BlockwiseMasking beit(int countAt196) {
        return new BlockwiseMasking(Config.beit(countAt196));
    }

    public Config config() {
        return config;
    }

    /** See {@link Config#targetCount(int, int)}. */
    public int targetCount(int rows, int cols) {
        return config.targetCount(rows, cols);
    }

    @Override public String name() {
        return String.format(Locale.ROOT, "beit-blockwise(%d of %d patches, scaled by area; blocks >= %d; aspect %.3g..%.3g; top-up %s)",
                config.count(), REFERENCE_PATCHES, config.minPatchesPerBlock(), config.minAspect(), config.maxAspect(),
                config.topUp() ? "on" : "off");
    }

    @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
        boolean[] mask = new boolean[Masks.patches(rows, cols)];
        int target = config.targetCount(rows, cols);
        int count = 0;
        while (count < target) {
            int added = addBlock(mask, rows, cols, target - count, rng);
            if (added == 0) break;
            count += added;
        }
        if (config.topUp() && count < target) Masks.maskRandom(mask, target - count, rng);
        return mask;
    }

    /** One round of BEiT's {@code _mask}: up to 10 proposals; returns the number of patches newly masked. */
    private int addBlock(boolean[] mask, int rows, int cols, int budget, RandomGenerator rng) {
        for (int attempt = 0; attempt < ATTEMPTS_PER_BLOCK; attempt++) {
            double area = uniform(rng, config.minPatchesPerBlock(), budget);
            double aspect = Math.exp(uniform(rng, logMinAspect, logMaxAspect));
            int h = (int) Math.rint(Math.sqrt(area * aspect));
            int w = (int) Math.rint(Math.sqrt(area / aspect));
            if (h >= rows || w >= cols) continue;
            int top = rng.nextInt(rows - h + 1);
            int left = rng.nextInt(cols - w + 1);
            int added = h * w - maskedIn(mask, cols, top, left, h, w);
            if (added > 0 && added <= budget) {
                for (int i = top; i < top + h; i++) Arrays.fill(mask, i * cols + left, i * cols + left + w, true);
                return added;
            }
        }
        return 0;
    }

    /** Python's {@code random.uniform(a, b)}. */
    private static double uniform(RandomGenerator rng, double a, double b) {
        return a + (b - a) * rng.nextDouble();
    }

    private static int maskedIn(boolean[] mask, int cols, int top, int left, int h, int w) {
        int n = 0;
        for (int i = top; i < top + h; i++) {
            for (int j = left; j < left + w; j++) if (mask[i * cols + j]) n++;
        }
        return n;
    }
}
