package dev.mvp.train;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One line of {@code metrics.jsonl} (written with snake_case keys; non-finite numbers as the strings
 * {@code "NaN"}, {@code "Infinity"}).
 *
 * @param step            steps completed, 1-based (a skipped step counts)
 * @param epoch           epoch of this step's first batch, 0-based
 * @param loss            the loss of this step's images (the mean over its accumulated batches)
 * @param metric          what the loss implies (mean cosine similarity for MVP)
 * @param metricName      the metric's name
 * @param lr              learning rate used by this step
 * @param weightDecay     weight decay used by this step (decay group)
 * @param gradNorm        global gradient norm before clipping (NaN when the loss was not finite)
 * @param skipped         whether the step was skipped because its loss or gradient was not finite
 * @param skippedSteps    non-finite steps skipped so far in the run
 * @param imagesPerS      images per second of this step, data loading included
 * @param dataWaitS       seconds this step waited for its batches
 * @param stepS           seconds this step took, data wait and the release of its tensors included
 * @param elapsedS        seconds since the run (or its resumption) started
 * @param rssMb           resident memory of the process in MiB (from /proc/self/statm; NaN where unavailable)
 * @param heapMb          Java heap in use in MiB
 * @param lossScale       the float16 loss scale this step's backward pass used ({@link LossScaler}); {@code null}
 *                        (and no {@code loss_scale} key) without a scaler
 */
public record StepMetrics(long step, int epoch, double loss, double metric, String metricName, double lr,
                          double weightDecay, double gradNorm, boolean skipped, long skippedSteps, double imagesPerS,
                          double dataWaitS, double stepS, double elapsedS, double rssMb, double heapMb,
                          @JsonInclude(JsonInclude.Include.NON_NULL) Double lossScale) {}
