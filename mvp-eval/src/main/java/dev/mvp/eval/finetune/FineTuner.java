package dev.mvp.eval.finetune;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.LoaderConfig;
import dev.mvp.data.ImageDecoders;
import dev.mvp.eval.Features;
import dev.mvp.eval.KnnClassifier;
import dev.mvp.eval.optim.AdamW;
import dev.mvp.eval.optim.Param;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * End-to-end fine-tuning of a ViT classifier, BEiT's {@code engine_for_finetuning.train_one_epoch} loop on the CPU:
 * per step, an augmented batch ({@link TrainImages}), Mixup/CutMix with smoothed soft targets ({@link Mixup}), the
 * model in training mode (stochastic depth), soft-target cross-entropy, backward, and AdamW with every parameter's
 * learning rate {@code lr(step) * decay^(depth + 1 - layer_id)} ({@link LayerDecay}); optionally an EMA of the
 * weights (timm's {@code ModelEma}: {@code ema = d * ema + (1 - d) * w} over parameters and buffers after each
 * step). After each epoch the model is evaluated on the validation images (centre crop, {@code eval()} mode).
 */
public final class FineTuner {
    private FineTuner() {}

    /** One epoch's figures. */
    public record Epoch(int epoch, double meanLoss, double lr, double top1, double top5, double seconds) {}

    /**
     * The outcome. {@code top1}/{@code top5} are the last epoch's; EMA figures are NaN without EMA.
     */
    public record Result(double top1, double top5, double emaTop1, double emaTop5, int stepsPerEpoch, List<Epoch> history) {
        public Result {
            history = List.copyOf(history);
        }
    }

    /** Receives progress. */
    public interface Listener {
        Listener NONE = new Listener() {};

        default void step(int epoch, long step, long totalSteps, double loss, double lr) {}

        default void epoch(Epoch e) {}
    }

    /**
     * Fine-tunes {@code model} (in place) on {@code train}, evaluating on {@code val} after each epoch. The model's
     * image size fixes the input size. The EMA model, if enabled, is returned in {@code emaOut[0]} when given (the
     * caller owns it), else closed. Call outside any PointerScope.
     */
    public static Result run(VisionTransformer model, ImageDataset train, ImageDataset val, FinetuneConfig config,
                             int workers, Listener listener, VisionTransformer[] emaOut) {
        return run(model, train, val, config, workers, ImageDecoders.fastest(), listener, emaOut);
    }

    /**
     * As {@link #run(VisionTransformer, ImageDataset, ImageDataset, FinetuneConfig, int, Listener, VisionTransformer[])},
     * decoding the training and evaluation images with {@code decoder}.
     */
    public static Result run(VisionTransformer model, ImageDataset train, ImageDataset val, FinetuneConfig config,
                             int workers, ImageDecoder decoder, Listener listener, VisionTransformer[] emaOut) {
        return run(model, train, val, config, workers, decoder, -1, listener, emaOut);
    }

    /**
     * As above, leaving out up to {@code maxBadFraction} of the training images and of the evaluation images that
     * cannot be decoded (each warned about; more stops with a {@link dev.mvp.eval.TooManyBadImages}); negative: the
     * first undecodable training image is an error and evaluation allows the loader's default 1%.
     */
    public static Result run(VisionTransformer model, ImageDataset train, ImageDataset val, FinetuneConfig config,
                             int workers, ImageDecoder decoder, double maxBadFraction, Listener listener,
                             VisionTransformer[] emaOut) {
        Torch.init();
        int classes = model.config().numClasses();
        if (classes < 1) throw new IllegalArgumentException("the model has no classifier head");
        if (train.classes().size() != classes) {
            throw new IllegalArgumentException("the model has " + classes + " outputs but " + train.describe() + " has "
                    + train.classes().size() + " classes");
        }
        int size = model.imageSize(), depth = model.config().depth();
        torch.manual_seed(config.seed());
        List<Param> params = LayerDecay.params(model, depth, config.layerDecay(), config.weightDecay());
        AdamW optimizer = new AdamW(params, 0.9, 0.999, 1e-8);
        VisionTransformer ema = config.emaDecay() > 0 ? copyOf(model) : null;
        Mixup mixup = config.mixing(classes);
        TrainTransform transform = new TrainTransform(size, config.randAugment(), config.eraseProb());
        EvalTransform evalTransform = EvalTransform.standard(size);
        SplittableRandom mixRng = new SplittableRandom(TrainImages.mix(config.seed(), 77, 0));
        List<Epoch> history = new ArrayList<>();
        try (TrainImages data = new TrainImages(train, transform, config.batchSize(), config.seed(), workers, decoder,
                maxBadFraction)) {
            int steps = data.stepsPerEpoch();
            long total = (long) steps * config.epochs(), step = 0;
            for (int epoch = 0; epoch < config.epochs(); epoch++) {
                long t0 = System.nanoTime();
                double lossSum = 0, lr = 0;
                model.train(true);
                for (int s = 0; s < steps; s++, step++) {
                    TrainImages.Batch batch = data.next();
                    lr = config.lrAt(step, steps);
                    double loss;
                    try (PointerScope scope = new PointerScope()) {
                        Tensor x = Tensors.ofFloats(batch.pixels(), config.batchSize(), 3, size, size);
                        Mixup.Mix mix = mixup.draw(size, size, mixRng);
                        mixup.mixImages(x, mix);
                        Tensor targets = mixup.targets(batch.labels(), mix);
                        optimizer.zeroGrad();
                        Tensor l = Mixup.softTargetCrossEntropy(model.classify(x), targets);
                        l.backward();
                        loss = l.item_double();
                        if (!Double.isFinite(loss)) {
                            throw new IllegalStateException("the loss is " + loss + " at epoch " + epoch + " step " + s
                                    + " (lr " + lr + "): lower --lr");
                        }
                        optimizer.step(lr);
                    }
                    if (ema != null) updateEma(ema, model, config.emaDecay());
                    lossSum += loss;
                    listener.step(epoch + 1, step + 1, total, loss, lr);
                }
                double[] acc = evaluate(model, val, evalTransform, 64, workers, decoder, maxBadFraction);
                Epoch e = new Epoch(epoch + 1, lossSum / steps, lr, acc[0], acc[1], (System.nanoTime() - t0) / 1e9);
                history.add(e);
                listener.epoch(e);
            }
            Epoch last = history.get(history.size() - 1);
            double[] emaAcc = ema == null ? new double[] {Double.NaN, Double.NaN} : evaluate(ema, val, evalTransform, 64, workers, decoder);
            return new Result(last.top1(), last.top5(), emaAcc[0], emaAcc[1], steps, history);
        } finally {
            optimizer.close();
            for (Param p : params) p.tensor().close();
            if (ema != null) {
                if (emaOut != null && emaOut.length > 0) emaOut[0] = ema;
                else ema.close();
            }
        }
    }

    /**
     * Top-1 and top-5 accuracy (percent) of {@code model} on {@code data}, centre crops, eval mode, over the images
     * that decode ({@link BatchLoader#evaluation}: an undecodable one is warned about, counted and left out).
     */
    public static double[] evaluate(VisionTransformer model, ImageDataset data, EvalTransform transform, int batchSize, int workers) {
        return evaluate(model, data, transform, batchSize, workers, ImageDecoders.fastest());
    }

    /** As {@link #evaluate(VisionTransformer, ImageDataset, EvalTransform, int, int)}, decoding with {@code decoder}. */
    public static double[] evaluate(VisionTransformer model, ImageDataset data, EvalTransform transform, int batchSize,
                                    int workers, ImageDecoder decoder) {
        return evaluate(model, data, transform, batchSize, workers, decoder, -1);
    }

    /**
     * As above, stopping with a {@link dev.mvp.eval.TooManyBadImages} when more than {@code maxBadFraction} of the
     * images cannot be decoded (negative: the loader's default).
     */
    public static double[] evaluate(VisionTransformer model, ImageDataset data, EvalTransform transform, int batchSize,
                                    int workers, ImageDecoder decoder, double maxBadFraction) {
        LoaderConfig config = Features.loaderConfig(batchSize, workers, decoder);
        if (maxBadFraction >= 0) config = config.withMaxBadFraction(maxBadFraction);
        dev.mvp.eval.TooManyBadImages.Counter warnings = new dev.mvp.eval.TooManyBadImages.Counter(config.warnings());
        try {
            return evaluate(model, data, transform, config.withWarnings(warnings));
        } catch (RuntimeException e) {
            throw warnings.explain(e, data.size(), config.maxBadFraction(), data.describe());
        }
    }

    private static double[] evaluate(VisionTransformer model, ImageDataset data, EvalTransform transform, LoaderConfig loaderConfig) {
        model.eval();
        int classes = model.config().numClasses();
        long c1 = 0, c5 = 0, n = 0;
        try (BatchLoader images = BatchLoader.evaluation(data, transform, loaderConfig);
             NoGradGuard noGrad = new NoGradGuard()) {
            while (images.hasNext()) {
                float[] logits;
                int[] labels;
                try (PointerScope scope = new PointerScope()) {
                    Batch batch = images.next();
                    labels = batch.labels();
                    logits = Tensors.toFloats(model.classify(batch.view(0)));
                }
                for (int r = 0; r < labels.length; r++) {
                    int[] ranked = KnnClassifier.rank(logits, r * classes, classes);
                    int label = labels[r];
                    if (ranked[0] == label) c1++;
                    for (int j = 0; j < Math.min(5, classes); j++) if (ranked[j] == label) c5++;
                    n++;
                }
            }
        }
        return new double[] {n == 0 ? Double.NaN : 100.0 * c1 / n, n == 0 ? Double.NaN : 100.0 * c5 / n};
    }

    private static VisionTransformer copyOf(VisionTransformer model) {
        VisionTransformer copy = VisionTransformer.create(model.config());
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> from = StateDict.of(model), to = StateDict.of(copy);
            for (Map.Entry<String, Tensor> e : to.entrySet()) e.getValue().copy_(from.get(e.getKey()));
        }
        copy.eval();
        return copy;
    }

    /** timm's ModelEma.update: every float parameter and buffer {@code ema = d * ema + (1 - d) * model}. */
    static void updateEma(VisionTransformer ema, VisionTransformer model, double decay) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> from = StateDict.of(model), to = StateDict.of(ema);
            for (Map.Entry<String, Tensor> e : to.entrySet()) {
                Tensor t = e.getValue();
                if (!t.is_floating_point()) continue;
                t.mul_(new Scalar(decay)).add_(from.get(e.getKey()), new Scalar(1 - decay));
            }
        }
    }
}
