package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Lars;
import dev.mvp.eval.optim.Optimizer;
import dev.mvp.eval.optim.Sgd;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trains a {@link LinearProbe} on cached features (the fast path: each image's features were extracted once, from
 * the evaluation transform's centre crop, so there is no per-epoch augmentation, unlike MAE's probe which
 * re-augments images every epoch) and evaluates it after every epoch.
 */
public final class ProbeTrainer {
    private ProbeTrainer() {}

    /** One epoch's figures. */
    public record Epoch(int epoch, double meanLoss, double lastLr, double top1, double top5) {}

    /**
     * The outcome: the final epoch's accuracies (the number to report) and the history. The best epoch is given for
     * information only: choosing it by validation accuracy, as MAE's log "Max accuracy" does, selects on the test set.
     */
    public record Result(double top1, double top5, int bestEpoch, double bestTop1, int stepsPerEpoch, List<Epoch> history) {
        public Result {
            history = List.copyOf(history);
        }
    }

    /** Receives each finished epoch. */
    @FunctionalInterface
    public interface Listener {
        Listener NONE = e -> {};

        void epoch(Epoch e);
    }

    /**
     * Trains a fresh probe (initialised from {@code config.seed()}) on {@code train} and evaluates it on {@code val}
     * after each epoch. Call outside any PointerScope. The probe is returned in {@code probeOut[0]} when given (the
     * caller then owns it), else closed.
     */
    public static Result train(FeatureSet train, FeatureSet val, ProbeConfig config, Listener listener, LinearProbe[] probeOut) {
        Torch.init();
        int classes = Math.max(train.numClasses(), val.numClasses());
        for (int l : train.labels()) {
            if (l < 0) throw new IllegalArgumentException("the training features include unlabelled images (label -1)");
        }
        torch.manual_seed(config.seed());
        LinearProbe probe = new LinearProbe(train.dim(), classes);
        Optimizer optimizer = config.optimizer() == ProbeConfig.OptimizerKind.LARS
                ? new Lars(probe.params(config.weightDecay()), config.momentum(), 0.001)
                : new Sgd(probe.params(config.weightDecay()), config.momentum());
        int n = train.size();
        int batch = Math.min(config.batchSize(), n);
        int steps = n / batch;
        int[] labels = train.labels();
        List<Epoch> history = new ArrayList<>();
        int bestEpoch = -1;
        double bestTop1 = -1;
        try {
            for (int epoch = 0; epoch < config.epochs(); epoch++) {
                int[] order = permutation(n, config.seed(), epoch);
                double lossSum = 0, lr = 0;
                for (int it = 0; it < steps; it++) {
                    lr = config.lrAt(epoch + (double) it / steps);
                    try (PointerScope scope = new PointerScope()) {
                        long[] idx = new long[batch], y = new long[batch];
                        for (int i = 0; i < batch; i++) {
                            idx[i] = order[it * batch + i];
                            y[i] = labels[order[it * batch + i]];
                        }
                        Tensor x = train.features().index_select(0, Tensors.ofLongs(idx, batch));
                        lossSum += probe.trainStep(x, Tensors.ofLongs(y, batch), optimizer, lr);
                    }
                }
                double[] acc = probe.evaluate(val, 1024);
                Epoch e = new Epoch(epoch + 1, lossSum / steps, lr, acc[0], acc[1]);
                history.add(e);
                if (acc[0] > bestTop1) {
                    bestTop1 = acc[0];
                    bestEpoch = epoch + 1;
                }
                listener.epoch(e);
            }
        } finally {
            optimizer.close();
            if (probeOut != null && probeOut.length > 0) probeOut[0] = probe;
            else probe.close();
        }
        Epoch last = history.get(history.size() - 1);
        return new Result(last.top1(), last.top5(), bestEpoch, bestTop1, steps, history);
    }

    /** Epoch {@code epoch}'s order of {@code n} rows: Fisher-Yates from a generator seeded by (seed, epoch). */
    static int[] permutation(int n, long seed, int epoch) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
