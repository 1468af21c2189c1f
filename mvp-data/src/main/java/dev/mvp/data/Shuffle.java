package dev.mvp.data;

import java.util.SplittableRandom;

/** The one shuffle of the library: epoch orders of the training and evaluation loaders and of the probes. */
public final class Shuffle {
    private Shuffle() {}

    /**
     * A Fisher-Yates shuffle of {@code [0, n)} driven by a {@link SplittableRandom} seeded with {@code seed}: from the
     * last position down, each swaps with a uniform earlier-or-same one. Equal seeds give equal permutations.
     */
    public static int[] permutation(int n, long seed) {
        if (n < 0) throw new IllegalArgumentException("permutation of a negative count: " + n);
        SplittableRandom rng = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
