package dev.mvp.masking;

import dev.mvp.api.MaskingStrategy;

import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * MAE's random masking: an exact number of patches per image, a uniformly random subset of the grid.
 *
 * <p>{@link #ratio(double)} follows MAE's arithmetic ({@code len_keep = int(L * (1 - mask_ratio))}), so ratio 0.75
 * masks 147 of 196 patches; {@link #count(int)} masks exactly that many patches whatever the grid.
 *
 * <p>Stateless and thread-safe: a mask is a pure function of the generator passed to {@link #sample}.
 */
public final class RandomMasking implements MaskingStrategy {
    private final double ratio;   // NaN for a fixed count
    private final int count;

    private RandomMasking(double ratio, int count) {
        this.ratio = ratio;
        this.count = count;
    }

    /** Masks the fraction {@code ratio} in [0, 1) of the patches, rounded as MAE does (MAE: 0.75). */
    public static RandomMasking ratio(double ratio) {
        if (!(ratio >= 0 && ratio < 1)) throw new IllegalArgumentException("mask ratio must be in [0, 1), got " + ratio);
        return new RandomMasking(ratio, -1);
    }

    /** Masks exactly {@code count} patches (at most the grid's size, checked when sampling). */
    public static RandomMasking count(int count) {
        if (count < 0) throw new IllegalArgumentException("mask count must be >= 0, got " + count);
        return new RandomMasking(Double.NaN, count);
    }

    /** The number of patches masked on a {@code rows x cols} grid. */
    public int targetCount(int rows, int cols) {
        int n = Masks.patches(rows, cols);
        if (Double.isNaN(ratio)) {
            if (count > n) throw new IllegalArgumentException("cannot mask " + count + " patches of a " + rows + "x" + cols + " grid");
            return count;
        }
        return n - (int) (n * (1 - ratio));
    }

    @Override public String name() {
        return Double.isNaN(ratio) ? "random(" + count + " patches)" : String.format(Locale.ROOT, "random(ratio %s)", ratio);
    }

    @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
        boolean[] mask = new boolean[Masks.patches(rows, cols)];
        Masks.maskRandom(mask, targetCount(rows, cols), rng);
        return mask;
    }
}
