package dev.mvp.losses;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tiny inputs of tools/fixtures/loss_reference.py (B = 2 images, N = 4 patches), rebuilt from the same integer
 * formulas, and a finite-difference gradient check.
 */
final class LossFixtures {
    static final int B = 2, N = 4;
    /** {@code [[T, F, T, T], [F, T, F, F]]}: 3 masked patches in the first image, 1 in the second. */
    static final boolean[] MASK = {true, false, true, true, false, true, false, false};

    private LossFixtures() {}

    /** {@code ((i * mul + add) % mod - center) / scale} for i = 0 .. count-1, as {@code seq} in the script. */
    static double[] seq(int count, int mul, int add, int mod, int center, double scale) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) v[i] = ((i * mul + add) % mod - center) / scale;
        return v;
    }

    static double[] times(double[] v, double factor) {
        double[] out = v.clone();
        for (int i = 0; i < out.length; i++) out[i] *= factor;
        return out;
    }

    static Tensor doubles(double[] data, long... shape) {
        Torch.init();
        try (DoublePointer p = new DoublePointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Double)).clone();
        }
    }

    static double[] toDoubles(Tensor t) {
        Tensor c = t.detach().to(ScalarType.Double).contiguous();
        double[] out = new double[Math.toIntExact(c.numel())];
        new DoublePointer(c.data_ptr_double()).capacity(out.length).get(out);
        return out;
    }

    static Tensor mask() {
        return dev.mvp.api.Tensors.ofBooleans(MASK, B, N);
    }

    /** Whether token row {@code row} of a [B, T, *] tensor (T = 1 + N with the CLS row, else N) is an unmasked patch. */
    static boolean isUnmaskedPatchRow(int row, boolean withCls) {
        int tokens = withCls ? N + 1 : N;
        int b = row / tokens, t = row % tokens;
        if (withCls && t == 0) return false;
        return !MASK[b * N + (withCls ? t - 1 : t)];
    }

    /**
     * Checks the autograd gradient of {@code loss} (a scalar function of a float64 tensor of this shape) at
     * {@code x0} against central differences, and returns it.
     */
    static double[] checkGradient(Function<Tensor, Tensor> loss, double[] x0, long... shape) {
        Tensor x = doubles(x0, shape);
        x.set_requires_grad(true);
        loss.apply(x).backward();
        double[] analytic = toDoubles(x.grad());
        double h = 1e-6;
        for (int i = 0; i < x0.length; i++) {
            double[] up = x0.clone(), down = x0.clone();
            up[i] += h;
            down[i] -= h;
            double numeric = (loss.apply(doubles(up, shape)).item_double() - loss.apply(doubles(down, shape)).item_double()) / (2 * h);
            assertThat(analytic[i]).as("d loss / d x[%d]", i).isCloseTo(numeric, org.assertj.core.data.Offset.offset(1e-7 + 1e-6 * Math.abs(numeric)));
        }
        return analytic;
    }
}
