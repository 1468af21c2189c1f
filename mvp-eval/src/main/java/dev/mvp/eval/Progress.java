package dev.mvp.eval;

/** Receives progress of a long evaluation step (called on the evaluating thread). */
@FunctionalInterface
public interface Progress {
    /** Does nothing. */
    Progress NONE = (phase, done, total) -> {};

    /** {@code done} of {@code total} units of {@code phase} (e.g. "train features", images) are finished. */
    void update(String phase, long done, long total);
}
