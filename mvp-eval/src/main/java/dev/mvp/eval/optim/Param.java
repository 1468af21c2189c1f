package dev.mvp.eval.optim;

import org.bytedeco.pytorch.Tensor;

import java.util.Objects;

/**
 * One trainable tensor and how an optimiser treats it.
 *
 * @param name        its dotted name, for messages and tests
 * @param tensor      the parameter (a long-lived leaf tensor that requires grad)
 * @param lrScale     multiplies the step's learning rate (layer-wise decay; 1 otherwise)
 * @param weightDecay its weight decay (0 for biases and norms in the usual recipes)
 */
public record Param(String name, Tensor tensor, double lrScale, double weightDecay) {
    public Param {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tensor, "tensor");
        if (!(lrScale >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException(name + ": lr scale and weight decay must be >= 0, got " + lrScale + ", " + weightDecay);
        }
    }
}
