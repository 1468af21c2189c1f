package dev.mvp.masking;

import java.util.random.RandomGenerator;

/** Small shared pieces of the masking strategies: grid checks and uniformly random subsets. */
final class Masks {
    private Masks() {}

    /** Checks a patch grid and returns its number of patches. */
    static int patches(int rows, int cols) {
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("patch grid must be at least 1x1, got " + rows + "x" + cols);
        }
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("patch grid " + rows + "x" + cols + " is too large");
        return (int) n;
    }

    /** The number of masked positions. */
    static int count(boolean[] mask) {
        int n = 0;
        for (boolean m : mask) if (m) n++;
        return n;
    }

    /**
     * Masks {@code k} positions chosen uniformly at random among the unmasked ones (a partial Fisher-Yates shuffle,
     * so every subset of size k is equally likely).
     */
    static void maskRandom(boolean[] mask, int k, RandomGenerator rng) {
        int[] free = new int[mask.length - count(mask)];
        for (int i = 0, j = 0; i < mask.length; i++) if (!mask[i]) free[j++] = i;
        if (k > free.length) {
            throw new IllegalArgumentException("cannot mask " + k + " more patches: only " + free.length + " are unmasked");
        }
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(free.length - i);
            int chosen = free[j];
            free[j] = free[i];
            free[i] = chosen;
            mask[chosen] = true;
        }
    }
}
