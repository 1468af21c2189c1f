package dev.mvp.masking;

import dev.mvp.api.MaskingStrategy;

import java.util.Locale;
import java.util.random.RandomGenerator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Statistics of many masks on one {@code rows x cols} grid: masked count (mean, histogram, fraction at a given
 * count), number of blocks (4-connected components of masked patches) and per-position masking frequency.
 *
 * <p>Accumulates with {@link #add(boolean[])}; not thread-safe (use one per thread and {@link #merge}).
 */
public final class MaskStatistics {
    private final int rows;
    private final int cols;
    private final long[] histogram;
    private final long[] positionCounts;
    private long samples;
    private long blocks;

    public MaskStatistics(int rows, int cols) {
        this.rows = rows;
        this.cols = cols;
        int n = Masks.patches(rows, cols);
        this.histogram = new long[n + 1];
        this.positionCounts = new long[n];
    }

    /** Draws {@code samples} masks from {@code strategy}, one after another from {@code rng}. */
    public static MaskStatistics sample(MaskingStrategy strategy, int rows, int cols, int samples, RandomGenerator rng) {
        MaskStatistics stats = new MaskStatistics(rows, cols);
        for (int i = 0; i < samples; i++) stats.add(strategy.sample(rows, cols, rng));
        return stats;
    }

    /** Adds one row-major mask of this grid. */
    public void add(boolean[] mask) {
        if (mask.length != positionCounts.length) {
            throw new IllegalArgumentException("mask has " + mask.length + " entries, grid " + rows + "x" + cols + " has " + positionCounts.length);
        }
        int count = 0;
        for (int i = 0; i < mask.length; i++) {
            if (mask[i]) {
                positionCounts[i]++;
                count++;
            }
        }
        histogram[count]++;
        blocks += blocks(mask, rows, cols);
        samples++;
    }

    /** Adds the masks counted by {@code other} (same grid). */
    public void merge(MaskStatistics other) {
        if (other.rows != rows || other.cols != cols) throw new IllegalArgumentException("cannot merge statistics of different grids");
        for (int i = 0; i < histogram.length; i++) histogram[i] += other.histogram[i];
        for (int i = 0; i < positionCounts.length; i++) positionCounts[i] += other.positionCounts[i];
        samples += other.samples;
        blocks += other.blocks;
    }

    public long samples() {
        return samples;
    }

    public double meanCount() {
        long sum = 0;
        for (int c = 0; c < histogram.length; c++) sum += c * histogram[c];
        return (double) sum / samples;
    }

    /** The standard deviation of the masked count (population, as numpy's {@code std}). */
    public double stdCount() {
        double mean = meanCount(), sum = 0;
        for (int c = 0; c < histogram.length; c++) sum += histogram[c] * (c - mean) * (c - mean);
        return Math.sqrt(sum / samples);
    }

    /** A copy of the histogram: entry {@code c} is the number of masks with exactly {@code c} masked patches. */
    public long[] histogram() {
        return histogram.clone();
    }

    /** The fraction of masks with exactly {@code count} masked patches. */
    public double fractionAt(int count) {
        return count < 0 || count >= histogram.length ? 0 : (double) histogram[count] / samples;
    }

    /** The fraction of masks with fewer than {@code count} masked patches. */
    public double fractionBelow(int count) {
        long n = 0;
        for (int c = 0; c < Math.min(count, histogram.length); c++) n += histogram[c];
        return (double) n / samples;
    }

    /** The smallest masked count seen (-1 before any mask). */
    public int minCount() {
        for (int c = 0; c < histogram.length; c++) if (histogram[c] > 0) return c;
        return -1;
    }

    /** The largest masked count seen (-1 before any mask). */
    public int maxCount() {
        for (int c = histogram.length - 1; c >= 0; c--) if (histogram[c] > 0) return c;
        return -1;
    }

    /** The mean number of blocks (4-connected components of masked patches) per mask. */
    public double meanBlocks() {
        return (double) blocks / samples;
    }

    /** How often each position was masked, row-major, in [0, 1]. */
    public double[] positionFrequency() {
        double[] f = new double[positionCounts.length];
        for (int i = 0; i < f.length; i++) f[i] = (double) positionCounts[i] / samples;
        return f;
    }

    /** The mean masking frequency of the positions on the grid's outer ring. */
    public double borderFrequency() {
        return meanFrequency(true);
    }

    /** The mean masking frequency of the positions not on the outer ring (NaN for grids without an interior). */
    public double interiorFrequency() {
        return meanFrequency(false);
    }

    /** A few lines for a report; {@code target} is the count the strategy aims at. */
    public String summary(int target) {
        return String.format(Locale.ROOT, """
                masks:             %d on a %dx%d grid
                masked count:      mean %.3f, min %d, max %d, exactly %d in %.2f%%
                commonest counts:  %s
                blocks per mask:   %.3f (4-connected)
                masking frequency: border %.4f, interior %.4f""",
                samples, rows, cols, meanCount(), minCount(), maxCount(), target, 100 * fractionAt(target),
                commonestCounts(5), meanBlocks(), borderFrequency(), interiorFrequency());
    }

    /** The {@code k} most frequent counts with their share, e.g. {@code 75 (66.9%), 74 (10.2%)}. */
    public String commonestCounts(int k) {
        return IntStream.range(0, histogram.length).boxed()
                .filter(c -> histogram[c] > 0)
                .sorted((a, b) -> Long.compare(histogram[b], histogram[a]))
                .limit(k)
                .map(c -> String.format(Locale.ROOT, "%d (%.1f%%)", c, 100.0 * histogram[c] / samples))
                .collect(Collectors.joining(", "));
    }

    private double meanFrequency(boolean border) {
        long sum = 0;
        int n = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                boolean onRing = r == 0 || c == 0 || r == rows - 1 || c == cols - 1;
                if (onRing == border) {
                    sum += positionCounts[r * cols + c];
                    n++;
                }
            }
        }
        return (double) sum / n / samples;
    }

    /** The number of 4-connected components of masked positions. */
    static int blocks(boolean[] mask, int rows, int cols) {
        boolean[] seen = new boolean[mask.length];
        int[] stack = new int[mask.length];
        int components = 0;
        for (int start = 0; start < mask.length; start++) {
            if (!mask[start] || seen[start]) continue;
            components++;
            int top = 0;
            stack[top++] = start;
            seen[start] = true;
            while (top > 0) {
                int p = stack[--top];
                int r = p / cols, c = p % cols;
                if (r > 0) top = visit(mask, seen, stack, top, p - cols);
                if (r < rows - 1) top = visit(mask, seen, stack, top, p + cols);
                if (c > 0) top = visit(mask, seen, stack, top, p - 1);
                if (c < cols - 1) top = visit(mask, seen, stack, top, p + 1);
            }
        }
        return components;
    }

    private static int visit(boolean[] mask, boolean[] seen, int[] stack, int top, int p) {
        if (mask[p] && !seen[p]) {
            seen[p] = true;
            stack[top++] = p;
        }
        return top;
    }
}
