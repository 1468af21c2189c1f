package dev.mvp.testing;

import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.Tensor;

import static org.assertj.core.api.Assertions.assertThat;

/** Numeric comparisons of tensors with a readable failure message (worst element, its index and both values). */
public final class TensorAssert {
    private TensorAssert() {}

    public static void assertClose(Tensor actual, Tensor expected, double atol) {
        assertThat(Tensors.shape(actual)).as("shape").containsExactly(Tensors.shape(expected));
        assertClose(Tensors.toFloats(actual), Tensors.toFloats(expected), atol);
    }

    public static void assertClose(float[] actual, float[] expected, double atol) {
        assertThat(actual.length).as("length").isEqualTo(expected.length);
        double worst = -1;
        int at = -1;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(d)) d = Double.POSITIVE_INFINITY;
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        if (worst > atol) {
            throw new AssertionError("max |difference| " + worst + " > " + atol + " at flat index " + at + ": actual "
                    + actual[at] + " expected " + expected[at]);
        }
    }

    /** The largest absolute difference between two tensors of the same shape. */
    public static double maxAbsDiff(Tensor a, Tensor b) {
        float[] x = Tensors.toFloats(a), y = Tensors.toFloats(b);
        double worst = 0;
        for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((double) x[i] - y[i]));
        return worst;
    }
}
