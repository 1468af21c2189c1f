package dev.mvp.api;

import java.util.random.RandomGenerator;

/**
 * Chooses which patches of one image the student does not see.
 *
 * <p>Implementations are stateless and thread-safe: all randomness comes from the {@code rng} argument, so the data
 * pipeline can draw each sample's mask on any worker thread from a generator seeded by (run seed, epoch, sample)
 * and a run is reproducible whatever the thread count.
 */
public interface MaskingStrategy {

    /** A short name for logs and configuration, e.g. {@code beit-blockwise(75, min 16)}. */
    String name();

    /**
     * Draws one mask for a {@code rows x cols} patch grid.
     *
     * @return a new row-major array of {@code rows * cols} flags, {@code true} = masked
     */
    boolean[] sample(int rows, int cols, RandomGenerator rng);
}
