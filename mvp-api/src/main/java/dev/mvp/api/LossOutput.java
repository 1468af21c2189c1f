package dev.mvp.api;

import org.bytedeco.pytorch.Tensor;

/**
 * The value of a loss for one batch.
 *
 * @param value      scalar float32 tensor in the autograd graph (call {@code backward()} on it)
 * @param metric     scalar float32 tensor, detached: what the loss implies for logging
 * @param metricName what {@code metric} is, e.g. {@code cosine} (mean cosine similarity) or {@code accuracy}
 */
public record LossOutput(Tensor value, Tensor metric, String metricName) {}
