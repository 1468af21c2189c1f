package dev.mvp.train;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link LossScaler}'s state machine against torch.amp.GradScaler's defaults and its {@code _amp_update_scale_}
 * rules, driven on CPU tensors with a fake infinity in a gradient, found as the engine finds it: by the global
 * gradient norm after unscaling.
 */
class LossScalerTest {

    @Test
    void theDefaultsAreGradScalers() {
        LossScaler s = new LossScaler();
        assertThat(s.scale()).isEqualTo(65536f);
        assertThat(s.growthTracker()).isZero();
        assertThat(LossScaler.GROWTH).isEqualTo(2f);
        assertThat(LossScaler.BACKOFF).isEqualTo(0.5f);
        assertThat(LossScaler.GROWTH_INTERVAL).isEqualTo(2000);
    }

    /**
     * One fake step on {@code p}: the backward pass of {@code scale * sum(p * g)} (an infinity in g's first element if
     * asked) leaves the gradient {@code scale * g}; unscale, find non-finite values by the gradient norm, update.
     */
    private static boolean step(LossScaler scaler, TensorVector params, float[] g, boolean inf) {
        try (PointerScope scope = new PointerScope()) {
            Tensor p = params.get(0);
            if (p.grad().defined()) p.grad().zero_();
            float[] values = g.clone();
            if (inf) values[0] = Float.POSITIVE_INFINITY;
            scaler.scale(p.mul(Tensors.ofFloats(values, values.length)).sum()).backward();
            scaler.unscale(params);
            if (!inf) assertThat(Tensors.toFloats(p.grad())).as("the unscaled gradient").containsExactly(g);
            boolean finite = Double.isFinite(torch.clip_grad_norm_(params, Float.MAX_VALUE));
            scaler.update(!finite);
            return finite;
        }
    }

    @Test
    void anInfinityBacksOffAndGoodStepsGrowTheScaleEveryInterval() {
        Torch.init();
        Tensor withGrad = torch.zeros(new long[] {3}).requires_grad_(true);
        Tensor withoutGrad = torch.zeros(new long[] {2}).requires_grad_(true);
        TensorVector params = new TensorVector(withGrad, withoutGrad);
        float[] g = {0.5f, -0.25f, 0x1p-12f};   // powers of two: exact under any power-of-two scale
        LossScaler s = new LossScaler(65536f, 0, 3);
        assertThat(step(s, params, g, false)).isTrue();
        assertThat(s.scale()).isEqualTo(65536f);
        assertThat(s.growthTracker()).isEqualTo(1);
        assertThat(step(s, params, g, true)).as("the infinity is found").isFalse();
        assertThat(s.scale()).isEqualTo(32768f);
        assertThat(s.growthTracker()).as("the count restarts").isZero();
        assertThat(step(s, params, g, true)).isFalse();
        assertThat(s.scale()).isEqualTo(16384f);
        assertThat(step(s, params, g, false)).isTrue();
        assertThat(step(s, params, g, false)).isTrue();
        assertThat(s.scale()).isEqualTo(16384f);
        assertThat(s.growthTracker()).isEqualTo(2);
        assertThat(step(s, params, g, false)).isTrue();
        assertThat(s.scale()).as("the third good step in a row grows it").isEqualTo(32768f);
        assertThat(s.growthTracker()).isZero();
        assertThat(withoutGrad.grad().defined()).as("a parameter without a gradient is left alone").isFalse();
    }

    @Test
    void theScaleDoesNotGrowPastFloat32() {
        LossScaler s = new LossScaler(0x1p127f, 1, 2);
        s.update(false);
        assertThat(s.scale()).as("2^128 is not finite in float32: kept").isEqualTo(0x1p127f);
        assertThat(s.growthTracker()).isZero();
    }

    @Test
    void scalingTheLossMultipliesByTheScale() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            LossScaler s = new LossScaler(1024f, 0, 2000);
            assertThat(s.scale(Tensors.ofFloats(new float[] {0.75f}, 1)).item_double()).isEqualTo(768.0);
        }
    }

    @Test
    void aStateOutsideTheMachineIsRefused() {
        assertThatThrownBy(() -> new LossScaler(0f, 0, 2000)).hasMessageContaining("positive");
        assertThatThrownBy(() -> new LossScaler(Float.POSITIVE_INFINITY, 0, 2000)).hasMessageContaining("finite");
        assertThatThrownBy(() -> new LossScaler(8f, 2000, 2000)).hasMessageContaining("growth tracker");
    }
}
