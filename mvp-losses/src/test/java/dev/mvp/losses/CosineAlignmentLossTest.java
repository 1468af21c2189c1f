package dev.mvp.losses;

import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static dev.mvp.losses.LossFixtures.B;
import static dev.mvp.losses.LossFixtures.N;
import static dev.mvp.losses.LossFixtures.doubles;
import static dev.mvp.losses.LossFixtures.mask;
import static dev.mvp.losses.LossFixtures.seq;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CosineAlignmentLossTest extends ScopedTest {
    private static final int D = 3;
    private static final double[] PRED = seq(B * (1 + N) * D, 37, 5, 23, 11, 8.0);
    private static final double[] TARGET = seq(B * (1 + N) * D, 29, 3, 19, 9, 4.0);

    private static double value(CosineAlignmentLoss loss, double[] pred, double[] target, long targetTokens) {
        return loss.compute(doubles(pred, B, 1 + N, D), doubles(target, B, targetTokens, D), mask()).value().item_double();
    }

    /** Values from tools/fixtures/loss_reference.py (torch.nn.functional.cosine_similarity, float64). */
    @Test
    void matchesTorchOnEveryVariant() {
        assertThat(value(CosineAlignmentLoss.paper(), PRED, TARGET, 1 + N)).isCloseTo(-0.108737548878, within(1e-11));
        assertThat(value(new CosineAlignmentLoss(PatchSelection.ALL, false), PRED, TARGET, 1 + N)).isCloseTo(-0.000503122156, within(1e-11));
        assertThat(value(CosineAlignmentLoss.maskedPatches(), PRED, TARGET, 1 + N)).isCloseTo(-0.441937790497, within(1e-11));
        assertThat(value(new CosineAlignmentLoss(PatchSelection.MASKED, true), PRED, TARGET, 1 + N)).isCloseTo(-0.475183612254, within(1e-11));
    }

    @Test
    void targetsWithoutClsCompareOnlyPatches() {
        double[] patchTargets = new double[B * N * D];
        for (int b = 0; b < B; b++) System.arraycopy(TARGET, (b * (1 + N) + 1) * D, patchTargets, b * N * D, N * D);
        assertThat(value(CosineAlignmentLoss.paper(), PRED, patchTargets, N)).isCloseTo(-0.000503122156, within(1e-11));
    }

    @Test
    void worksInFloat32AndReportsTheMeanCosine() {
        Tensor p = doubles(PRED, B, 1 + N, D).to(ScalarType.Float), t = doubles(TARGET, B, 1 + N, D).to(ScalarType.Float);
        LossOutput out = CosineAlignmentLoss.paper().compute(p, t, mask());
        assertThat(out.value().scalar_type().value).isEqualTo(ScalarType.Float.value);
        assertThat(out.value().item_double()).isCloseTo(-0.108737548878, within(1e-6));
        assertThat(out.metricName()).isEqualTo("cosine");
        assertThat(out.metric().item_double()).isCloseTo(0.108737548878, within(1e-6));
        assertThat(out.metric().requires_grad()).isFalse();
    }

    @Test
    void handComputedExample() {
        // one image, one patch: cls (1, 0) vs (0, 1) -> cos 0; patch (1, 1) vs (2, 2) -> cos 1; L = -(0 + 1) / 2
        Tensor p = Tensors.ofFloats(new float[] {1, 0, 1, 1}, 1, 2, 2), t = Tensors.ofFloats(new float[] {0, 1, 2, 2}, 1, 2, 2);
        Tensor m = Tensors.ofBooleans(new boolean[] {true}, 1, 1);
        assertThat(CosineAlignmentLoss.paper().compute(p, t, m).value().item_double()).isCloseTo(-0.5, within(1e-7));
        assertThat(CosineAlignmentLoss.maskedPatches().compute(p, t, m).value().item_double()).isCloseTo(-1.0, within(1e-7));
    }

    @Test
    void identicalInputsGiveMinusOne() {
        Tensor x = Tensors.randn(4, 197, 512);
        LossOutput out = CosineAlignmentLoss.paper().compute(x, x.clone(), Tensors.ofBooleans(new boolean[4 * 196], 4, 196));
        assertThat(out.value().item_double()).isCloseTo(-1.0, within(1e-6));
        Tensor axes = Tensors.ofFloats(new float[] {1, 0, 0, 0, 2, 0, 0, 0, 4}, 1, 3, 3); // exact in binary
        assertThat(CosineAlignmentLoss.paper().compute(axes, axes, Tensors.ofBooleans(new boolean[2], 1, 2)).value().item_double())
                .isEqualTo(-1.0);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (CosineAlignmentLoss loss : new CosineAlignmentLoss[] {CosineAlignmentLoss.paper(), new CosineAlignmentLoss(PatchSelection.MASKED, true)}) {
            LossFixtures.checkGradient(x -> loss.compute(x, doubles(TARGET, B, 1 + N, D), mask()).value(), PRED, B, 1 + N, D);
        }
    }

    @Test
    void maskedVariantIgnoresUnmaskedPatches() {
        double[] pred = PRED.clone(), target = TARGET.clone();
        for (int row = 0; row < B * (1 + N); row++) {
            if (LossFixtures.isUnmaskedPatchRow(row, true)) {
                for (int d = 0; d < D; d++) pred[row * D + d] = target[row * D + d] = Double.NaN;
            }
        }
        assertThat(value(CosineAlignmentLoss.maskedPatches(), pred, target, 1 + N)).isCloseTo(-0.441937790497, within(1e-11));
        double[] grad = LossFixtures.checkGradient(x -> CosineAlignmentLoss.maskedPatches().compute(x, doubles(TARGET, B, 1 + N, D), mask()).value(), PRED, B, 1 + N, D);
        for (int row = 0; row < B * (1 + N); row++) {
            boolean ignored = LossFixtures.isUnmaskedPatchRow(row, true) || row % (1 + N) == 0;
            if (ignored) for (int d = 0; d < D; d++) assertThat(grad[row * D + d]).isZero();
        }
    }

    @Test
    void rejectsMismatchedInputsWithTheirShapes() {
        var loss = CosineAlignmentLoss.paper();
        Tensor p = doubles(PRED, B, 1 + N, D);
        assertThatThrownBy(() -> loss.compute(p, Tensors.zeros(B, 1 + N, 4), mask()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 5, 4] Float").hasMessageContaining("[2, 5, 3] Double");
        assertThatThrownBy(() -> loss.compute(p, Tensors.ofLongs(new long[30], B, 1 + N, D), mask()))
                .hasMessageContaining("targets [2, 5, 3] Long");
        assertThatThrownBy(() -> loss.compute(p, doubles(TARGET, B, 1 + N, D), Tensors.zeros(B, N)))
                .hasMessageContaining("mask must be Bool [2, 4]").hasMessageContaining("[2, 4] Float");
        assertThatThrownBy(() -> loss.compute(Tensors.zeros(B, D), doubles(TARGET, B, 1 + N, D), mask()))
                .hasMessageContaining("predictions must be floating [B, 1 + N, D]").hasMessageContaining("[2, 3] Float");
        assertThatThrownBy(() -> CosineAlignmentLoss.maskedPatches().compute(p, doubles(TARGET, B, 1 + N, D), Tensors.ofBooleans(new boolean[B * N], B, N)))
                .hasMessageContaining("masks no patch");
    }

    @Test
    void outputsOutliveTheLossesOwnScopeAndDieWithTheCallers() {
        Tensor p = doubles(PRED, B, 1 + N, D);
        p.set_requires_grad(true);
        LossOutput out;
        try (PointerScope step = new PointerScope()) {
            out = CosineAlignmentLoss.paper().compute(p, doubles(TARGET, B, 1 + N, D), mask());
            assertThat(PointerScope.getInnerScope()).isSameAs(step);
            out.value().backward();
            assertThat(out.value().item_double()).isCloseTo(-0.108737548878, within(1e-11));
            assertThat(out.metric().item_double()).isCloseTo(0.108737548878, within(1e-7)); // float32
        }
        assertThat(out.value().isNull()).isTrue();
        assertThat(out.metric().isNull()).isTrue();
        assertThat(LossFixtures.toDoubles(p.grad())).hasSize(PRED.length).doesNotContain(Double.NaN);
    }

    @Test
    void describesItselfAndItsTargets() {
        assertThat(CosineAlignmentLoss.paper().name()).isEqualTo("cosine-alignment(cls + all patches)");
        assertThat(CosineAlignmentLoss.maskedPatches().name()).isEqualTo("cosine-alignment(masked patches)");
        assertThat(CosineAlignmentLoss.paper().accepts(new TargetSpec.Features(512, true))).isTrue();
        assertThat(CosineAlignmentLoss.paper().accepts(new TargetSpec.Features(768, false))).isTrue();
        assertThat(CosineAlignmentLoss.paper().accepts(new TargetSpec.TokenIds(8192))).isFalse();
    }
}
