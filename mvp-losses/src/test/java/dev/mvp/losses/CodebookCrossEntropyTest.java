package dev.mvp.losses;

import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.mvp.losses.LossFixtures.B;
import static dev.mvp.losses.LossFixtures.N;
import static dev.mvp.losses.LossFixtures.doubles;
import static dev.mvp.losses.LossFixtures.mask;
import static dev.mvp.losses.LossFixtures.seq;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class CodebookCrossEntropyTest extends ScopedTest {
    private static final int V = 6;
    private static final double[] LOGITS = seq(B * (1 + N) * V, 41, 7, 31, 15, 6.0);
    /** The unmasked ids equal the argmax of their logits, so counting them would change the accuracy. */
    private static final long[] IDS = {2, 5, 3, 0, 0, 4, 4, 1};
    private static final CodebookCrossEntropy LOSS = new CodebookCrossEntropy(V);

    private static Tensor ids(long... ids) {
        return Tensors.ofLongs(ids, B, N);
    }

    /** Values from tools/fixtures/loss_reference.py (F.cross_entropy on logits[mask], float64). */
    @Test
    void matchesBeitsMaskedCrossEntropyAndAccuracy() {
        LossOutput out = LOSS.compute(doubles(LOGITS, B, 1 + N, V), ids(IDS), mask());
        assertThat(out.value().item_double()).isCloseTo(2.593244334533, within(1e-11));
        assertThat(out.metricName()).isEqualTo("accuracy");
        assertThat(out.metric().item_double()).isEqualTo(0.5);
    }

    @Test
    void handComputedExample() {
        // one image, 3 patches, 3 tokens; patches 1 and 2 masked with logits (0, 0, ln 2): softmax (1/4, 1/4, 1/2).
        // Patch 1's id 2 costs ln 2 and is the argmax; patch 2's id 0 costs ln 4 and is not: loss 1.5 ln 2, accuracy 1/2.
        // The CLS row and the unmasked patch 0 have logits that would dominate if they were counted.
        double ln2 = Math.log(2);
        Tensor logits = doubles(new double[] {9, 0, 0, 0, 9, 0, 0, 0, ln2, 0, 0, ln2}, 1, 4, 3);
        Tensor mask = Tensors.ofBooleans(new boolean[] {false, true, true}, 1, 3);
        LossOutput out = new CodebookCrossEntropy(3).compute(logits, Tensors.ofLongs(new long[] {1, 2, 0}, 1, 3), mask);
        assertThat(out.value().item_double()).isCloseTo(1.5 * ln2, within(1e-12));
        assertThat(out.metric().item_double()).isEqualTo(0.5);
    }

    @Test
    void gradientsMatchFiniteDifferencesAndSkipUnmaskedPositions() {
        double[] grad = LossFixtures.checkGradient(x -> LOSS.compute(x, ids(IDS), mask()).value(), LOGITS, B, 1 + N, V);
        for (int row = 0; row < B * (1 + N); row++) {
            if (row % (1 + N) == 0 || LossFixtures.isUnmaskedPatchRow(row, true)) {
                for (int v = 0; v < V; v++) assertThat(grad[row * V + v]).isZero();
            }
        }
    }

    @Test
    void ignoresUnmaskedLogitsAndIds() {
        double[] logits = LOGITS.clone();
        for (int row = 0; row < B * (1 + N); row++) {
            if (LossFixtures.isUnmaskedPatchRow(row, true)) for (int v = 0; v < V; v++) logits[row * V + v] = Double.NaN;
        }
        long[] ids = IDS.clone();
        ids[1] = 999;  // unmasked: never read
        assertThat(LOSS.compute(doubles(logits, B, 1 + N, V), ids(ids), mask()).value().item_double()).isCloseTo(2.593244334533, within(1e-11));
    }

    @Test
    void rejectsMismatchedInputs() {
        Tensor logits = doubles(LOGITS, B, 1 + N, V);
        assertThatThrownBy(() -> new CodebookCrossEntropy().compute(logits, ids(IDS), mask()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 5, 6] Double").hasMessageContaining("8192");
        assertThatThrownBy(() -> LOSS.compute(logits, Tensors.zeros(B, N), mask()))
                .hasMessageContaining("targets must be Long token ids [2, 4]").hasMessageContaining("[2, 4] Float");
        long[] bad = IDS.clone();
        bad[0] = 6;
        assertThatThrownBy(() -> LOSS.compute(logits, ids(bad), mask())).hasMessageContaining("token id 6 is outside [0, 6)");
        bad[0] = -1;
        assertThatThrownBy(() -> LOSS.compute(logits, ids(bad), mask())).hasMessageContaining("token id -1");
        assertThatThrownBy(() -> LOSS.compute(logits, ids(IDS), Tensors.ofBooleans(new boolean[B * N], B, N))).hasMessageContaining("masks no patch");
    }

    @Test
    void acceptsOnlyIdsOfItsVocabulary() {
        assertThat(new CodebookCrossEntropy().accepts(new TargetSpec.TokenIds(8192))).isTrue();
        assertThat(new CodebookCrossEntropy().accepts(new TargetSpec.TokenIds(1024))).isFalse();
        assertThat(new CodebookCrossEntropy().accepts(new TargetSpec.Features(768, true))).isFalse();
        assertThat(new CodebookCrossEntropy().name()).isEqualTo("codebook-cross-entropy(8192 tokens, masked patches)");
    }
}
