package dev.mvp.train;

import java.nio.file.Path;

/**
 * The outcome of a run.
 *
 * @param steps           steps completed in total (including those before a resumption)
 * @param firstLoss       loss of the first step of this invocation
 * @param lastLoss        loss of the last step
 * @param meanLossFirst10 mean loss over the first (up to) 10 steps of this invocation
 * @param meanLossLast10  mean loss over the last (up to) 10 steps
 * @param skippedSteps    non-finite steps skipped
 * @param badFiles        images skipped because they failed to decode
 * @param seconds         wall time of this invocation
 * @param checkpoint      the latest checkpoint folder
 * @param runDir          the run folder
 */
public record RunSummary(long steps, double firstLoss, double lastLoss, double meanLossFirst10, double meanLossLast10,
                         long skippedSteps, long badFiles, double seconds, Path checkpoint, Path runDir) {}
