package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A non-finite training loss stops the probe (instead of 90 epochs of NaN and a results file), suggesting a lower --blr. */
class ProbeDivergenceTest {

    @Test
    void aNonFiniteLossStopsTrainingNamingTheEpochAndTheFlag() {
        Torch.init();
        int n = 16, dim = 4;
        float[] x = new float[n * dim];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 2;
            for (int d = 0; d < dim; d++) x[i * dim + d] = (i % 2 == 0 ? 1 : -1) * (d + 1);
        }
        float[] bad = x.clone();
        bad[5] = Float.NaN;
        ProbeConfig config = new ProbeConfig(3, 8, 0.1, ProbeConfig.OptimizerKind.SGD, 0, 0.9, 0, 0, 0);
        try (FeatureSet ok = new FeatureSet(Tensors.ofFloats(x, n, dim), labels, List.of("a", "b"));
             FeatureSet nan = new FeatureSet(Tensors.ofFloats(bad, n, dim), labels, List.of("a", "b"))) {
            assertThatThrownBy(() -> ProbeTrainer.train(nan, ok, config, ProbeTrainer.Listener.NONE, null))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("training loss is NaN at epoch 1")
                    .hasMessageContaining("lower --blr");
            assertThat(ProbeTrainer.train(ok, ok, config, ProbeTrainer.Listener.NONE, null).top1()).isGreaterThan(90);
        }
    }
}
