package dev.mvp.losses;

import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import org.junit.jupiter.api.Test;

import static dev.mvp.losses.LossFixtures.B;
import static dev.mvp.losses.LossFixtures.N;
import static dev.mvp.losses.LossFixtures.doubles;
import static dev.mvp.losses.LossFixtures.mask;
import static dev.mvp.losses.LossFixtures.seq;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class NormalizedPixelLossTest extends ScopedTest {
    private static final int P = 4;
    private static final double[] PRED = seq(B * (1 + N) * P, 13, 2, 17, 8, 5.0);
    private static final double[] PIXELS = seq(B * N * P, 7, 1, 11, 0, 10.0);

    private static LossOutput compute(NormalizedPixelLoss loss, double[] pred, double[] pixels) {
        return loss.compute(doubles(pred, B, 1 + N, P), doubles(pixels, B, N, P), mask());
    }

    /** Values from tools/fixtures/loss_reference.py (MAE's forward_loss, float64). */
    @Test
    void matchesMaesForwardLoss() {
        LossOutput normalised = compute(NormalizedPixelLoss.mae(), PRED, PIXELS);
        assertThat(normalised.value().item_double()).isCloseTo(1.409581509379, within(1e-11));
        assertThat(normalised.metricName()).isEqualTo("cosine");
        assertThat(normalised.metric().item_double()).isCloseTo(0.188834666089, within(1e-7));
        assertThat(normalised.metric().requires_grad()).isFalse();
        LossOutput raw = compute(new NormalizedPixelLoss(false), PRED, PIXELS);
        assertThat(raw.value().item_double()).isCloseTo(1.1625, within(1e-12));
        assertThat(raw.metric().item_double()).isCloseTo(0.141029234448, within(1e-7));
    }

    @Test
    void handComputedExample() {
        // one image, 2 patches of 4 values, the first masked; zero predictions. Target (1, 2, 3, 4): raw MSE 30 / 4.
        // Normalised: mean 2.5, unbiased variance 5/3, so the mean square is (5 / (5/3 + 1e-6)) / 4.
        org.bytedeco.pytorch.Tensor zeros = doubles(new double[12], 1, 3, 4);
        org.bytedeco.pytorch.Tensor pixels = doubles(new double[] {1, 2, 3, 4, 9, 9, 9, 1}, 1, 2, 4);
        org.bytedeco.pytorch.Tensor mask = dev.mvp.api.Tensors.ofBooleans(new boolean[] {true, false}, 1, 2);
        assertThat(new NormalizedPixelLoss(false).compute(zeros, pixels, mask).value().item_double()).isCloseTo(7.5, within(1e-12));
        assertThat(NormalizedPixelLoss.mae().compute(zeros, pixels, mask).value().item_double())
                .isCloseTo(5 / (5 / 3.0 + 1e-6) / 4, within(1e-12));
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (NormalizedPixelLoss loss : new NormalizedPixelLoss[] {NormalizedPixelLoss.mae(), new NormalizedPixelLoss(false)}) {
            LossFixtures.checkGradient(x -> loss.compute(x, doubles(PIXELS, B, N, P), mask()).value(), PRED, B, 1 + N, P);
        }
    }

    @Test
    void ignoresUnmaskedPatches() {
        double[] pred = PRED.clone(), pixels = PIXELS.clone();
        for (int row = 0; row < B * (1 + N); row++) {
            if (LossFixtures.isUnmaskedPatchRow(row, true)) for (int i = 0; i < P; i++) pred[row * P + i] = Double.NaN;
        }
        for (int row = 0; row < B * N; row++) {
            if (LossFixtures.isUnmaskedPatchRow(row, false)) for (int i = 0; i < P; i++) pixels[row * P + i] = Double.NaN;
        }
        assertThat(compute(NormalizedPixelLoss.mae(), pred, pixels).value().item_double()).isCloseTo(1.409581509379, within(1e-11));
    }

    @Test
    void wantsPatchTargetsWithoutCls() {
        assertThatThrownBy(() -> NormalizedPixelLoss.mae().compute(doubles(PRED, B, 1 + N, P), doubles(PRED, B, 1 + N, P), mask()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("targets [2, 5, 4] Double do not fit predictions [2, 5, 4] Double (expected floating [B, N, D])");
        assertThat(NormalizedPixelLoss.mae().accepts(new TargetSpec.Features(768, false))).isTrue();
        assertThat(NormalizedPixelLoss.mae().accepts(new TargetSpec.Features(768, true))).isFalse();
        assertThat(NormalizedPixelLoss.mae().accepts(new TargetSpec.TokenIds(8192))).isFalse();
        assertThat(NormalizedPixelLoss.mae().name()).isEqualTo("pixel-mse(per-patch normalised targets, masked patches)");
    }
}
