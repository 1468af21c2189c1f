package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.Shuffle;
import dev.mvp.eval.finetune.TrainImages;
import dev.mvp.eval.finetune.TrainTransform;
import dev.mvp.eval.optim.Lars;
import dev.mvp.eval.optim.Optimizer;
import dev.mvp.eval.optim.Sgd;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

/**
 * Trains a {@link LinearProbe} and evaluates it after every epoch, in one of two ways:
 * <ul>
 *   <li>{@link #train} (the fast path) on cached features: each image's features were extracted once, from the
 *       evaluation transform's centre crop, so there is no per-epoch augmentation;</li>
 *   <li>{@link #trainAugmented}, MAE's protocol: every epoch re-draws each training image's
 *       {@code RandomResizedCrop(size, bicubic)} + horizontal flip (ImageNet normalisation) and runs the frozen
 *       backbone on it, so the probe sees new views each epoch; evaluation uses cached centre-crop features.</li>
 * </ul>
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
        for (int l : train.labels()) {
            if (l < 0) throw new IllegalArgumentException("the training features include unlabelled images (label -1)");
        }
        int n = train.size();
        int batch = Math.min(config.batchSize(), n);
        int[] labels = train.labels();
        int[][] order = new int[1][];
        BatchSource source = (epoch, it) -> {
            if (it == 0) order[0] = permutation(n, config.seed(), epoch);
            long[] idx = new long[batch], y = new long[batch];
            for (int i = 0; i < batch; i++) {
                idx[i] = order[0][it * batch + i];
                y[i] = labels[order[0][it * batch + i]];
            }
            return new Tensor[] {train.features().index_select(0, Tensors.ofLongs(idx, batch)), Tensors.ofLongs(y, batch)};
        };
        return run(train.dim(), Math.max(train.numClasses(), val.numClasses()), n / batch, source, val, config,
                listener, probeOut);
    }

    /**
     * MAE's augmented linear probe (see the class comment): {@code extractor} runs without gradients on each
     * augmented batch of {@code train} ({@link dev.mvp.eval.finetune.TrainImages}: epoch orders and crops drawn from
     * {@code config.seed()}, last incomplete batch dropped, at least one batch). The inputs are ImageNet-normalised,
     * as ViT backbones expect. Call outside any PointerScope.
     */
    public static Result trainAugmented(FeatureExtractor extractor, ImageDataset train, FeatureSet val, ProbeConfig config,
                                        int workers, Listener listener, LinearProbe[] probeOut) {
        return trainAugmented(extractor, train, val, config, workers, ImageDecoders.fastest(), listener, probeOut);
    }

    /** As above, decoding the training images with {@code decoder}; the first undecodable one is an error. */
    public static Result trainAugmented(FeatureExtractor extractor, ImageDataset train, FeatureSet val, ProbeConfig config,
                                        int workers, ImageDecoder decoder, Listener listener,
                                        LinearProbe[] probeOut) {
        return trainAugmented(extractor, train, val, config, workers, decoder, -1, listener, probeOut);
    }

    /**
     * As above, leaving out up to {@code maxBadFraction} of the training images that cannot be decoded (each warned
     * about once and replaced by the next image of the epoch's order; more is a {@link TooManyBadImages}).
     */
    public static Result trainAugmented(FeatureExtractor extractor, ImageDataset train, FeatureSet val, ProbeConfig config,
                                        int workers, ImageDecoder decoder, double maxBadFraction, Listener listener,
                                        LinearProbe[] probeOut) {
        Torch.init();
        if (val.dim() != extractor.dim()) {
            throw new IllegalArgumentException("validation features have dimension " + val.dim() + ", the extractor gives " + extractor.dim());
        }
        int size = extractor.transform().size();
        int batch = Math.min(config.batchSize(), train.size());
        try (TrainImages data = new TrainImages(train, new TrainTransform(size, false, 0), batch, config.seed(), workers, decoder,
                maxBadFraction)) {
            BatchSource source = (epoch, it) -> {
                TrainImages.Batch b = data.next();
                long[] y = new long[batch];
                for (int i = 0; i < batch; i++) y[i] = b.labels()[i];
                return new Tensor[] {extractor.extract(Tensors.ofFloats(b.pixels(), batch, 3, size, size)), Tensors.ofLongs(y, batch)};
            };
            return run(extractor.dim(), Math.max(train.classes().size(), val.numClasses()), data.stepsPerEpoch(), source,
                    val, config, listener, probeOut);
        }
    }

    /** One training batch: features [batch, dim] and labels [batch] (int64), made inside the caller's PointerScope. */
    @FunctionalInterface
    private interface BatchSource {
        Tensor[] batch(int epoch, int step);
    }

    /** The loop both protocols share: a fresh probe, {@code steps} batches per epoch, evaluation after each epoch. */
    private static Result run(int dim, int classes, int steps, BatchSource source, FeatureSet val, ProbeConfig config,
                              Listener listener, LinearProbe[] probeOut) {
        torch.manual_seed(config.seed());
        LinearProbe probe = new LinearProbe(dim, classes);
        Optimizer optimizer = config.optimizer() == ProbeConfig.OptimizerKind.LARS
                ? new Lars(probe.params(config.weightDecay()), config.momentum(), 0.001)
                : new Sgd(probe.params(config.weightDecay()), config.momentum());
        List<Epoch> history = new ArrayList<>();
        int bestEpoch = -1;
        double bestTop1 = -1;
        try {
            for (int epoch = 0; epoch < config.epochs(); epoch++) {
                double lossSum = 0, lr = 0;
                for (int it = 0; it < steps; it++) {
                    lr = config.lrAt(epoch + (double) it / steps);
                    try (PointerScope scope = new PointerScope()) {
                        Tensor[] xy = source.batch(epoch, it);
                        double loss = probe.trainStep(xy[0], xy[1], optimizer, lr);
                        if (!Double.isFinite(loss)) {
                            throw new IllegalStateException(String.format(java.util.Locale.ROOT, "the probe's training "
                                    + "loss is %s at epoch %d step %d (lr %.3g): lower --blr", loss, epoch + 1, it + 1, lr));
                        }
                        lossSum += loss;
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
        return Shuffle.permutation(n, seed * 0x9E3779B97F4A7C15L + epoch);
    }
}
