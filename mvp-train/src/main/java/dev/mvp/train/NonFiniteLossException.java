package dev.mvp.train;

import java.nio.file.Path;

/**
 * A run stopped because {@link PretrainConfig#maxConsecutiveNonFinite()} consecutive steps had a non-finite loss or
 * gradient. No checkpoint was written during those steps, so the run's latest checkpoint (if any) is the last one
 * taken after a good step; {@code metrics.jsonl} holds the skipped steps, marked {@code "skipped": true}.
 */
public final class NonFiniteLossException extends RuntimeException {
    private final long step;
    private final Path lastGoodCheckpoint;

    NonFiniteLossException(String message, long step, Path lastGoodCheckpoint) {
        super(message);
        this.step = step;
        this.lastGoodCheckpoint = lastGoodCheckpoint;
    }

    /** The step (1-based) at which the run stopped. */
    public long step() {
        return step;
    }

    /** The latest checkpoint, or {@code null} if the run never wrote one. */
    public Path lastGoodCheckpoint() {
        return lastGoodCheckpoint;
    }
}
