package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Lars;
import dev.mvp.eval.optim.Optimizer;
import dev.mvp.eval.optim.Sgd;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** MAE's probe: its LARS and SGD steps against tools/fixtures/make_eval_fixtures.py, its schedule, and that it learns. */
class LinearProbeTest {

    private static void check(boolean lars) {
        Torch.init();
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/lars.safetensors"))) {
            LinearProbe probe = new LinearProbe(16, 4);
            try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                probe.weight().copy_(f.tensor("weight0"));
                probe.bias().copy_(f.tensor("bias0"));
            }
            Optimizer opt = lars ? new Lars(probe.params(0)) : new Sgd(probe.params(1e-4), 0.9);
            double lr = lars ? 1.6 : 0.1;
            double[] losses = new double[5];
            try (PointerScope scope = new PointerScope()) {
                Tensor x = f.tensor("x"), y = f.tensor("y");
                for (int s = 0; s < 5; s++) losses[s] = probe.trainStep(x.select(0, s), y.select(0, s), opt, lr);
                String p = lars ? "" : "sgd_";
                double[] expected = toDoubles(f.tensor(p + "loss"));
                for (int s = 0; s < 5; s++) assertThat(losses[s]).as("loss of step %d", s).isCloseTo(expected[s], within(1e-6));
                TensorAssert.assertClose(probe.weight(), f.tensor(p + "weight_after"), 1e-6);
                TensorAssert.assertClose(probe.bias(), f.tensor(p + "bias_after"), 1e-6);
                // the steps moved the weights well beyond the tolerance
                assertThat(TensorAssert.maxAbsDiff(probe.weight(), f.tensor("weight0"))).isGreaterThan(1e-4);
            }
            opt.close();
            probe.close();
        }
    }

    /** A float64 vector, read exactly. */
    private static double[] toDoubles(Tensor t) {
        double[] out = new double[(int) t.size(0)];
        try (PointerScope scope = new PointerScope()) {
            for (int i = 0; i < out.length; i++) out[i] = t.select(0, i).item_double();
        }
        return out;
    }

    @Test
    void larsStepsEqualMaes() {
        check(true);
    }

    @Test
    void sgdStepsEqualTorchOptimSgd() {
        check(false);
    }

    @Test
    void scheduleIsMaesWarmupThenHalfCosine() {
        ProbeConfig c = ProbeConfig.mae();
        assertThat(c.peakLr()).isEqualTo(6.4);
        assertThat(c.lrAt(0)).isZero();
        assertThat(c.lrAt(5)).isCloseTo(3.2, within(1e-12));
        assertThat(c.lrAt(10)).isCloseTo(6.4, within(1e-12));
        assertThat(c.lrAt(50)).isCloseTo(3.2, within(1e-12));
        assertThat(c.lrAt(90)).isCloseTo(0, within(1e-12));
    }

    /** Features whose first 10 dimensions are the one-hot label (the rest noise): a working loop must reach 100%. */
    static FeatureSet labelEncoding(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int dim = 32;
        float[] x = new float[n * dim];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 10;
            for (int d = 0; d < dim; d++) x[i * dim + d] = (float) (rng.nextGaussian() * (d < 10 ? 0.1 : 1.0));
            x[i * dim + y[i]] += 1;
        }
        return FeatureSet.of(x, n, dim, y, List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"));
    }

    @Test
    void aProbeOnFeaturesThatEncodeTheLabelReaches100Percent() {
        Torch.init();
        try (FeatureSet train = labelEncoding(600, 1); FeatureSet val = labelEncoding(200, 2)) {
            for (ProbeConfig.OptimizerKind kind : ProbeConfig.OptimizerKind.values()) {
                // LARS's trust ratio keeps steps at ~0.001 * |w| * lr: it needs MAE's large learning rates
                ProbeConfig config = new ProbeConfig(10, 64, kind == ProbeConfig.OptimizerKind.LARS ? 100 : 1, kind, 0, 0.9, 1, 0, 0);
                ProbeTrainer.Result r = ProbeTrainer.train(train, val, config, ProbeTrainer.Listener.NONE, null);
                assertThat(r.top1()).as("%s top-1", kind).isEqualTo(100.0);
                assertThat(r.history().get(0).meanLoss()).isGreaterThan(r.history().get(9).meanLoss());
                assertThat(r.stepsPerEpoch()).isEqualTo(600 / 64);
            }
        }
    }

    @Test
    void shufflesArePermutationsThatDifferByEpoch() {
        int[] a = ProbeTrainer.permutation(50, 7, 0), b = ProbeTrainer.permutation(50, 7, 1);
        assertThat(a).isNotEqualTo(b);
        assertThat(java.util.Arrays.stream(a).sorted().toArray()).isEqualTo(java.util.stream.IntStream.range(0, 50).toArray());
        assertThat(ProbeTrainer.permutation(50, 7, 0)).isEqualTo(a);
    }
}
