package dev.mvp.train;

/**
 * One line of {@code metrics.jsonl} (written with snake_case keys).
 *
 * @param step            steps completed, 1-based
 * @param epoch           epoch of this step's batch, 0-based
 * @param loss            the loss of this step's batch
 * @param metric          what the loss implies (mean cosine similarity for MVP)
 * @param metricName      the metric's name
 * @param lr              learning rate used by this step
 * @param weightDecay     weight decay used by this step
 * @param gradNorm        global gradient norm before clipping (NaN when the step was skipped)
 * @param imagesPerS      images per second of this step, data loading included
 * @param dataWaitS       seconds this step waited for its batch
 * @param elapsedS        seconds since the run (or its resumption) started
 * @param skippedSteps    non-finite steps skipped so far
 * @param rssMb           resident memory of the process in MiB
 */
public record StepMetrics(long step, int epoch, double loss, double metric, String metricName, double lr,
                          double weightDecay, double gradNorm, double imagesPerS, double dataWaitS, double elapsedS,
                          long skippedSteps, double rssMb) {}
