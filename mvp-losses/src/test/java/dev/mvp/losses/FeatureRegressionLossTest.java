package dev.mvp.losses;

import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.losses.FeatureRegressionLoss.Config;
import dev.mvp.losses.FeatureRegressionLoss.Distance;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.mvp.losses.LossFixtures.B;
import static dev.mvp.losses.LossFixtures.N;
import static dev.mvp.losses.LossFixtures.doubles;
import static dev.mvp.losses.LossFixtures.mask;
import static dev.mvp.losses.LossFixtures.seq;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class FeatureRegressionLossTest extends ScopedTest {
    private static final int D = 3;
    /** Doubled so that smooth-L1 meets both its quadratic and its linear branch. */
    private static final double[] PRED = LossFixtures.times(seq(B * (1 + N) * D, 37, 5, 23, 11, 8.0), 2);
    private static final double[] TARGET = seq(B * (1 + N) * D, 29, 3, 19, 9, 4.0);

    private static LossOutput compute(FeatureRegressionLoss loss, double[] pred, double[] target) {
        return loss.compute(doubles(pred, B, 1 + N, D), doubles(target, B, 1 + N, D), mask());
    }

    /** Values from tools/fixtures/loss_reference.py (F.layer_norm eps 1e-6, F.smooth_l1_loss, float64). */
    @Test
    void matchesTorchForEveryDistance() {
        LossOutput maskDistill = compute(FeatureRegressionLoss.maskDistill(), PRED, TARGET);
        assertThat(maskDistill.value().item_double()).isCloseTo(0.575804919608, within(1e-11));
        assertThat(maskDistill.metricName()).isEqualTo("cosine");
        assertThat(maskDistill.metric().item_double()).isCloseTo(0.441784368146, within(1e-7));
        assertThat(value(new Config(Distance.SMOOTH_L1, 2.0, 1, true, PatchSelection.ALL))).isCloseTo(0.898427536997, within(1e-11));
        assertThat(value(new Config(Distance.SMOOTH_L1, 1.0, 2, true, PatchSelection.MASKED))).isCloseTo(1.680242066918, within(1e-11));
        assertThat(compute(FeatureRegressionLoss.mse(), PRED, TARGET).value().item_double()).isCloseTo(2.417027150721, within(1e-11));
        assertThat(value(new Config(Distance.MSE, 1.0, 1, false, PatchSelection.MASKED))).isCloseTo(2.604166666667, within(1e-11));
        LossOutput milan = compute(FeatureRegressionLoss.milan(), PRED, TARGET);
        assertThat(milan.value().item_double()).isCloseTo(1.116124419006, within(1e-11));
        assertThat(milan.metric().item_double()).isCloseTo(0.441937790497, within(1e-7));
    }

    @Test
    void handComputedExamples() {
        // one image, 2 patches (the second unmasked and ignored), D = 2
        Tensor mask = dev.mvp.api.Tensors.ofBooleans(new boolean[] {true, false}, 1, 2);
        Tensor pred = doubles(new double[] {7, 7, 1, 2, 5, 5}, 1, 3, 2);
        Tensor zeros = doubles(new double[] {0, 0, 0, 0}, 1, 2, 2);
        // differences (1, 2): MSE (1 + 4) / 2; smooth-L1 beta 2: 0.5 * 1 / 2 = 0.25 and 2 - 1 = 1, mean 0.625
        assertThat(new FeatureRegressionLoss(new Config(Distance.MSE, 1, 1, false, PatchSelection.MASKED))
                .compute(pred, zeros, mask).value().item_double()).isCloseTo(2.5, within(1e-12));
        assertThat(new FeatureRegressionLoss(new Config(Distance.SMOOTH_L1, 2, 1, false, PatchSelection.MASKED))
                .compute(pred, zeros, mask).value().item_double()).isCloseTo(0.625, within(1e-12));
        // LayerNorm of the target (1, 3): mean 2, biased variance 1, so (-1, 1) / sqrt(1 + 1e-6); prediction (0, 0)
        Tensor origin = doubles(new double[] {7, 7, 0, 0, 5, 5}, 1, 3, 2);
        Tensor target = doubles(new double[] {1, 3, 8, 8}, 1, 2, 2);
        assertThat(FeatureRegressionLoss.mse().compute(origin, target, mask).value().item_double())
                .isCloseTo(1 / (1 + 1e-6), within(1e-12));
        // MILAN: prediction (1, 2) against target (2, 1): cos = 4 / 5, loss 2 - 2 * 4 / 5; the metric is that cosine
        LossOutput milan = FeatureRegressionLoss.milan().compute(pred, doubles(new double[] {2, 1, 8, 8}, 1, 2, 2), mask);
        assertThat(milan.value().item_double()).isCloseTo(0.4, within(1e-12));
        assertThat(milan.metric().item_double()).isCloseTo(0.8, within(1e-7));
    }

    private static double value(Config config) {
        return compute(new FeatureRegressionLoss(config), PRED, TARGET).value().item_double();
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (FeatureRegressionLoss loss : new FeatureRegressionLoss[] {FeatureRegressionLoss.maskDistill(), FeatureRegressionLoss.mse(),
                FeatureRegressionLoss.milan(), new FeatureRegressionLoss(new Config(Distance.SMOOTH_L1, 2.0, 1, true, PatchSelection.ALL))}) {
            LossFixtures.checkGradient(x -> loss.compute(x, doubles(TARGET, B, 1 + N, D), mask()).value(), PRED, B, 1 + N, D);
        }
    }

    @Test
    void ignoresUnmaskedPatchesAndTheClsRow() {
        double[] pred = PRED.clone(), target = TARGET.clone();
        for (int row = 0; row < B * (1 + N); row++) {
            if (row % (1 + N) == 0 || LossFixtures.isUnmaskedPatchRow(row, true)) {
                for (int d = 0; d < D; d++) pred[row * D + d] = target[row * D + d] = Double.NaN;
            }
        }
        assertThat(compute(FeatureRegressionLoss.maskDistill(), pred, target).value().item_double()).isCloseTo(0.575804919608, within(1e-11));
    }

    @Test
    void acceptsTargetsWithOrWithoutCls() {
        double[] patchTargets = new double[B * N * D];
        for (int b = 0; b < B; b++) System.arraycopy(TARGET, (b * (1 + N) + 1) * D, patchTargets, b * N * D, N * D);
        double v = FeatureRegressionLoss.maskDistill().compute(doubles(PRED, B, 1 + N, D), doubles(patchTargets, B, N, D), mask()).value().item_double();
        assertThat(v).isCloseTo(0.575804919608, within(1e-11));
        assertThat(FeatureRegressionLoss.maskDistill().accepts(new TargetSpec.Features(768, false))).isTrue();
        assertThat(FeatureRegressionLoss.maskDistill().accepts(new TargetSpec.TokenIds(8192))).isFalse();
    }

    @Test
    void namesItsConfiguration() {
        assertThat(FeatureRegressionLoss.maskDistill().name()).isEqualTo("feature-regression(smooth-l1 beta 2.0, layer-norm targets, masked patches)");
        assertThat(FeatureRegressionLoss.milan().name()).isEqualTo("feature-regression(2 - 2 cos, masked patches)");
        assertThat(new FeatureRegressionLoss(new Config(Distance.SMOOTH_L1, 1.0, 2, true, PatchSelection.ALL)).name())
                .isEqualTo("feature-regression(2.0 x smooth-l1 beta 1.0, layer-norm targets, all patches)");
    }
}
