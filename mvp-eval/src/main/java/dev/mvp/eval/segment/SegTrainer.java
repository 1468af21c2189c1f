package dev.mvp.eval.segment;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.DataException;
import dev.mvp.data.DecodeException;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.RgbImage;
import dev.mvp.eval.Progress;
import dev.mvp.eval.SegmentationMetrics;
import dev.mvp.eval.finetune.LayerDecay;
import dev.mvp.eval.optim.AdamW;
import dev.mvp.eval.optim.Param;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import dev.mvp.models.io.StateDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Trains a {@link Segmenter} ({@link LinearSegmenter} or {@link UperNetSegmenter}) and evaluates it with mmseg's mean
 * IoU.
 *
 * <p>Training crops follow mmseg's ADE20K pipeline: a random keep-ratio rescale to mmcv's {@code rescale_size} of the
 * scale {@code (int(4S r), int(S r))} with r uniform in [minScale, maxScale] ({@link MmsegResize}), a random {@code S x S} crop, with mmseg's {@code cat_max_ratio} retry when
 * {@link SegConfig#catMaxRatio()} is below 1 ({@link RandomCrop}), a horizontal flip with probability 0.5, mmseg's
 * PhotoMetricDistortion on the crop's uint8 pixels when {@link SegConfig#photometric()} ({@link PhotoMetricDistortion}),
 * ImageNet normalisation, padding to {@code S x S} (0 / the ignore label). The image is resized with cv2's
 * INTER_LINEAR, the label map with cv2's INTER_NEAREST, both bit for bit ({@link dev.mvp.data.OpenCvResize}). Loss:
 * {@link Segmenter#loss} (mmseg's per-pixel cross-entropy with ignore index 255, averaged over all pixels,
 * {@link SegLoss}; UperNet adds its auxiliary head's with weight 0.4).
 */
public final class SegTrainer {
    private SegTrainer() {}

    /** Receives progress. */
    public interface Listener {
        Listener NONE = (iter, total, loss, lr) -> {};

        void iteration(int iter, int total, double loss, double lr);
    }

    /** Trains in place; returns the mean loss of the last 10% of iterations. Call outside any PointerScope. */
    public static double train(Segmenter model, SegmentationData data, SegConfig config, int workers, Listener listener) {
        return train(model, data, config, workers, ImageDecoders.fastest(), listener);
    }

    /** As {@link #train(Segmenter, SegmentationData, SegConfig, int, Listener)}, decoding with {@code decoder}. */
    public static double train(Segmenter model, SegmentationData data, SegConfig config, int workers, ImageDecoder decoder,
                               Listener listener) {
        return train(model, data, config, workers, decoder, -1, listener);
    }

    /**
     * As above, leaving out up to {@code maxBadFraction} of the training images that cannot be decoded (each warned
     * about once on standard error and replaced by another draw; more stops with a
     * {@link dev.mvp.eval.TooManyBadImages}); negative: the first is an error.
     */
    public static double train(Segmenter model, SegmentationData data, SegConfig config, int workers, ImageDecoder decoder,
                               double maxBadFraction, Listener listener) {
        Torch.init();
        BadImages badImages = new BadImages(maxBadFraction, data);
        if (model instanceof UperNetSegmenter && config.batchSize() < 2) {
            throw new IllegalArgumentException("UperNet's BatchNorms need at least 2 crops per batch in training, got " + config.batchSize());
        }
        int s = model.backbone().imageSize(), depth = model.backbone().config().depth();
        List<Param> params = new ArrayList<>(model.headParams(config.weightDecay()));
        List<Param> backboneParams = List.of();
        if (config.trainBackbone()) {
            backboneParams = LayerDecay.params(model.backbone(), depth, config.layerDecay(), config.weightDecay());
            params.addAll(backboneParams);
        } else {
            for (Tensor t : StateDict.parameters(model.backbone()).values()) t.set_requires_grad(false);
        }
        AdamW optimizer = new AdamW(params);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, workers),
                r -> Thread.ofPlatform().daemon().name("mvp-segment-data").unstarted(r));
        double tail = 0;
        int tailCount = 0;
        try {
            List<Future<float[][]>> ahead = new ArrayList<>();
            for (int i = 0; i < Math.min(config.iterations(), 2 * Math.max(1, workers)); i++) {
                int it = i;
                ahead.add(pool.submit(() -> batch(data, config, s, it, decoder, badImages)));
            }
            int nextSubmit = ahead.size();
            for (int iter = 0; iter < config.iterations(); iter++) {
                float[][] b = get(ahead.remove(0));
                if (nextSubmit < config.iterations()) {
                    int it = nextSubmit++;
                    ahead.add(pool.submit(() -> batch(data, config, s, it, decoder, badImages)));
                }
                double lr = config.lrAt(iter), loss;
                model.module().train(true);
                model.backbone().train(config.trainBackbone());
                try (PointerScope scope = new PointerScope()) {
                    Tensor x = Tensors.ofFloats(b[0], config.batchSize(), 3, s, s);
                    long[] y = new long[b[1].length];
                    for (int i = 0; i < y.length; i++) y[i] = (long) b[1][i];
                    Tensor labels = Tensors.ofLongs(y, config.batchSize(), s, s);
                    optimizer.zeroGrad();
                    Tensor l = model.loss(x, labels);        // mmseg's: mean over all pixels, + auxiliary heads
                    l.backward();
                    loss = l.item_double();
                    if (!Double.isFinite(loss)) throw new IllegalStateException("the loss is " + loss + " at iteration " + iter + ": lower --lr");
                    optimizer.step(lr);
                }
                if (iter >= config.iterations() - Math.max(1, config.iterations() / 10)) {
                    tail += loss;
                    tailCount++;
                }
                listener.iteration(iter + 1, config.iterations(), loss, lr);
            }
        } finally {
            pool.shutdownNow();
            optimizer.close();
            for (Param p : backboneParams) p.tensor().close();
        }
        return tailCount == 0 ? Double.NaN : tail / tailCount;
    }

    private static float[][] get(Future<float[][]> f) {
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new DataException("segmentation data worker failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted", e);
        }
    }

    /** Batch {@code iter}: {pixels [B*3*S*S], labels [B*S*S] as floats}; samples drawn with replacement per (seed, iter). */
    static float[][] batch(SegmentationData data, SegConfig config, int s, int iter, ImageDecoder decoder) {
        return batch(data, config, s, iter, decoder, new BadImages(-1, data));
    }

    /** The undecodable training images met so far, and how many may be. */
    static final class BadImages {
        private final double maxFraction;
        private final SegmentationData data;
        private final java.util.Set<Integer> bad = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private volatile String last = "";

        BadImages(double maxFraction, SegmentationData data) {
            this.maxFraction = maxFraction;
            this.data = data;
        }

        /**
         * Whether {@code index} is known to be bad; a TooManyBadImages when every image is (then no redraw can end,
         * e.g. in a worker that started its batch after another one stopped on the last bad file).
         */
        boolean isBad(int index) {
            if (!bad.contains(index)) return false;
            if (bad.size() >= data.size()) {
                throw new dev.mvp.eval.TooManyBadImages(bad.size(), data.size(), maxFraction, data.describe(), last, null);
            }
            return true;
        }

        /** How many different images failed to decode so far. */
        int count() {
            return bad.size();
        }

        /** Records a decode failure: a DataException or TooManyBadImages when it is one too many. */
        void failed(int index, DecodeException e) {
            if (maxFraction < 0) throw new DataException("cannot decode image " + e.getMessage(), e);
            if (bad.add(index)) {
                last = e.getMessage();
                System.err.println("mvp: warning: skipping undecodable training image " + e.getMessage());
            }
            if (bad.size() > maxFraction * data.size() || bad.size() >= data.size()) {
                throw new dev.mvp.eval.TooManyBadImages(bad.size(), data.size(), maxFraction, data.describe(), e.getMessage(), e);
            }
        }
    }

    static float[][] batch(SegmentationData data, SegConfig config, int s, int iter, ImageDecoder decoder, BadImages badImages) {
        int b = config.batchSize();
        float[] px = new float[b * 3 * s * s], lb = new float[b * s * s];
        for (int i = 0; i < b; i++) {
            SplittableRandom rng = new SplittableRandom(config.seed() * 1_000_003L + (long) iter * b + i);
            int index = rng.nextInt(data.size());
            RgbImage image = null;
            while (image == null) {
                if (badImages.isBad(index)) {
                    index = rng.nextInt(data.size()); // another draw instead of a known bad file
                    continue;
                }
                try {
                    image = decoder.decode(data.image(index));
                } catch (DecodeException e) {
                    badImages.failed(index, e);
                }
            }
            LabelMap label = data.label(index);
            if (label.width() != image.width() || label.height() != image.height()) {
                throw new DataException("label map " + data.labelFile(index) + " is " + label.width() + "x" + label.height()
                        + " but its image is " + image.width() + "x" + image.height());
            }
            crop(image, label, s, config, rng, px, i * 3 * s * s, lb, i * s * s);
        }
        return new float[][] {px, lb};
    }

    static void crop(RgbImage image, LabelMap label, int s, SegConfig config, SplittableRandom rng,
                     float[] px, int pxOffset, float[] lb, int lbOffset) {
        // mmseg's Resize.random_sample_ratio (ratio * (max - min) + min, the scale truncated to whole pixels), then
        // mmcv.imrescale with cv2's INTER_LINEAR for the image and INTER_NEAREST for the labels
        double r = config.minScale() + rng.nextDouble() * (config.maxScale() - config.minScale());
        int w = image.width(), h = image.height();
        int[] size = MmsegResize.trainSize(w, h, s, r);
        int nw = size[0], nh = size[1];
        RgbImage resized = MmsegResize.image(image, nw, nh);
        LabelMap lres = nw == w && nh == h ? label : label.resizeNearest(nw, nh);
        int[] box = RandomCrop.choose(lres.labels(), nw, nh, s, s, config.catMaxRatio(), SegmentationData.IGNORE,
                RandomCrop.uniform(rng));
        int top = box[0], left = box[1];
        int ch = Math.min(s, nh - top), cw = Math.min(s, nw - left);
        boolean flip = rng.nextDouble() < 0.5;
        // mmseg's order: RandomCrop, RandomFlip (of the crop), PhotoMetricDistortion, Normalize, Pad (bottom/right: 0 / ignore)
        byte[] src = resized.pixels();
        byte[] patch = new byte[ch * cw * 3];
        for (int y = 0; y < ch; y++) {
            for (int x = 0; x < cw; x++) {
                int sx = left + (flip ? cw - 1 - x : x);
                System.arraycopy(src, 3 * ((top + y) * nw + sx), patch, 3 * (y * cw + x), 3);
            }
        }
        if (config.photometric()) PhotoMetricDistortion.apply(patch, 0, ch * cw, PhotoMetricDistortion.Draws.draw(rng));
        ImageNormalization.MeanStd n = ImageNormalization.IMAGENET;
        int plane = s * s;
        int[] lsrc = lres.labels();
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int d = y * s + x;
                if (y >= ch || x >= cw) {
                    for (int c = 0; c < 3; c++) px[pxOffset + c * plane + d] = 0f;
                    lb[lbOffset + d] = SegmentationData.IGNORE;
                    continue;
                }
                int sy = top + y, sx = left + (flip ? cw - 1 - x : x);
                for (int c = 0; c < 3; c++) {
                    px[pxOffset + c * plane + d] = ((patch[3 * (y * cw + x) + c] & 0xFF) / 255f - n.mean()[c]) / n.std()[c];
                }
                lb[lbOffset + d] = lsrc[sy * nw + sx];
            }
        }
    }

    /**
     * Evaluates {@code model} on every pair of {@code data} with mmseg's metric at the label maps' resolution. An image
     * that cannot be decoded is left out with a warning on standard error and counted
     * ({@link SegmentationMetrics#skipped()}); a label map that cannot be read or holds a value that is no class is an
     * error ({@link SegmentationData#label}).
     */
    public static SegmentationMetrics evaluate(Segmenter model, SegmentationData data, SegInference.Mode mode,
                                               int stride, int batch, Progress progress) {
        return evaluate(model, data, mode, stride, batch, ImageDecoders.fastest(), progress);
    }

    /** As above, decoding with {@code decoder}. */
    public static SegmentationMetrics evaluate(Segmenter model, SegmentationData data, SegInference.Mode mode,
                                               int stride, int batch, ImageDecoder decoder, Progress progress) {
        return evaluate(model, data, mode, stride, batch, decoder, 1, progress);
    }

    /**
     * As above, stopping with a {@link dev.mvp.eval.TooManyBadImages} as soon as more than {@code maxBadFraction}
     * of the images have been left out.
     */
    public static SegmentationMetrics evaluate(Segmenter model, SegmentationData data, SegInference.Mode mode,
                                               int stride, int batch, ImageDecoder decoder, double maxBadFraction,
                                               Progress progress) {
        model.module().eval();
        int s = model.backbone().imageSize();
        SegmentationMetrics metrics = new SegmentationMetrics(data.numClasses(), SegmentationData.IGNORE);
        for (int i = 0; i < data.size(); i++) {
            RgbImage image;
            try {
                image = decoder.decode(data.image(i));
            } catch (DecodeException e) {
                // after training a bad file must not cost the run: left out, warned and counted, as the evaluation
                // loader does (SegmentationData.verify finds such files before training)
                System.err.println("mvp: warning: validation image left out of the metric: " + e.getMessage());
                metrics.skip();
                if (metrics.skipped() > maxBadFraction * data.size()) {
                    throw new dev.mvp.eval.TooManyBadImages(metrics.skipped(), data.size(), maxBadFraction, data.describe(),
                            e.getMessage(), e);
                }
                progress.update("evaluation", i + 1, data.size());
                continue;
            }
            LabelMap label = data.label(i);
            if (label.width() != image.width() || label.height() != image.height()) {
                throw new DataException("label map " + data.labelFile(i) + " is " + label.width() + "x" + label.height()
                        + " but its image is " + image.width() + "x" + image.height());
            }
            int[] pred;
            try (NoGradGuard noGrad = new NoGradGuard()) {
                pred = SegInference.predict(model::forward, image, s, mode, stride, batch, ImageNormalization.IMAGENET);
            }
            metrics.add(pred, label.labels());
            progress.update("evaluation", i + 1, data.size());
        }
        return metrics;
    }
}
