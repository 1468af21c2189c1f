package dev.mvp.train;

import java.nio.file.Path;

/**
 * The outcome of a run.
 *
 * @param steps           steps completed in total (including those before a resumption)
 * @param firstLoss       loss of the first step of this invocation
 * @param lastLoss        loss of the last step
 * @param meanLossFirst10 mean loss over the first {@code meanOver} (up to 10) good steps of this invocation
 * @param meanLossLast10  mean loss over the last {@code meanOver} good steps
 * @param skippedSteps    non-finite steps skipped
 * @param badFiles        images skipped because they failed to decode
 * @param seconds         wall time of this invocation
 * @param checkpoint      the latest checkpoint folder
 * @param runDir          the run folder
 * @param stepsRun        steps run by this invocation: 0 when a resumed run was already complete (then
 *                        {@code lastLoss} is the last good step's loss in its {@code metrics.jsonl}, NaN if none, and
 *                        nothing was written)
 * @param meanOver        how many good steps each of the two means averages: {@code min(10, good steps run)}
 * @param totalSteps      the run's length in steps
 */
public record RunSummary(long steps, double firstLoss, double lastLoss, double meanLossFirst10, double meanLossLast10,
                         long skippedSteps, long badFiles, double seconds, Path checkpoint, Path runDir, long stepsRun,
                         int meanOver, long totalSteps) {

    /** Whether this invocation found the run already complete (a resumption at its last step) and ran nothing. */
    public boolean alreadyComplete() {
        return stepsRun == 0;
    }
}
