package dev.mvp.eval;

import dev.mvp.api.Torch;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.LoaderConfig;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Batched feature extraction over a whole dataset. */
public final class Features {
    private Features() {}

    /**
     * The loader configuration evaluation uses: {@code batchSize} images per batch, {@code workers} decoding threads,
     * the default decoder ({@link ImageDecoders#fastest()}: libjpeg-turbo when installed), at most 1% undecodable
     * files (each skipped with one warning line on standard error).
     */
    public static LoaderConfig loaderConfig(int batchSize, int workers) {
        return LoaderConfig.defaults().withBatchSize(batchSize).withThreads(Math.max(1, workers), 2);
    }

    /** As {@link #loaderConfig(int, int)}, decoding with {@code decoder} (the commands' {@code --decoder}). */
    public static LoaderConfig loaderConfig(int batchSize, int workers, ImageDecoder decoder) {
        return loaderConfig(batchSize, workers).withDecoder(decoder);
    }

    /**
     * The features of every image of {@code dataset}, in dataset order, computed in batches of {@code batchSize}
     * with {@code workers} decoding threads ({@link BatchLoader#evaluation} with {@link #loaderConfig}). An image
     * that cannot be decoded is left out (warned and counted, {@link FeatureSet#skipped()}), so the set has a row
     * per decodable image. Each batch runs in its own PointerScope. Call outside any scope: the result owns a
     * long-lived tensor.
     */
    public static FeatureSet extract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                     String phase, Progress progress) {
        return extract(extractor, dataset, batchSize, workers, ImageDecoders.fastest(), phase, progress);
    }

    /** As {@link #extract(FeatureExtractor, ImageDataset, int, int, String, Progress)}, decoding with {@code decoder}. */
    public static FeatureSet extract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                     ImageDecoder decoder, String phase, Progress progress) {
        return extract(extractor, dataset, batchSize, workers, decoder, DEFAULT_MAX_BAD_FRACTION, phase, progress);
    }

    /** The share of a dataset's images that may be undecodable before extraction stops (1%). */
    public static final double DEFAULT_MAX_BAD_FRACTION = 0.01;

    /**
     * As {@link #extract(FeatureExtractor, ImageDataset, int, int, ImageDecoder, String, Progress)}, stopping with a
     * {@link TooManyBadImages} when more than {@code maxBadFraction} of the images cannot be decoded (the loader's
     * rule, {@link dev.mvp.data.LoaderConfig#maxBadFraction()}).
     */
    public static FeatureSet extract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                     ImageDecoder decoder, double maxBadFraction, String phase, Progress progress) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("extract features outside any PointerScope: the result is long-lived");
        }
        int n = dataset.size();
        Tensor all = torch.empty(new long[] {n, extractor.dim()});
        int[] labels = new int[n];
        int done = 0, skipped;
        LoaderConfig config = loaderConfig(batchSize, workers, decoder).withMaxBadFraction(maxBadFraction);
        TooManyBadImages.Counter warnings = new TooManyBadImages.Counter(config.warnings());
        config = config.withWarnings(warnings);
        try (BatchLoader images = BatchLoader.evaluation(dataset, extractor.transform(), config)) {
            while (images.hasNext()) {
                int count;
                try (PointerScope scope = new PointerScope()) {
                    Batch batch = images.next();
                    count = batch.size();
                    Tensor f = extractor.extract(batch.view(0));
                    if (f.dim() != 2 || f.size(0) != count || f.size(1) != extractor.dim()) {
                        throw new IllegalStateException(extractor.describe() + " returned " + dev.mvp.api.Tensors.shapeString(f)
                                + " for " + count + " images; expected [" + count + ", " + extractor.dim() + "]");
                    }
                    all.narrow(0, done, count).copy_(f);
                    System.arraycopy(batch.labels(), 0, labels, done, count);
                }
                done += count;
                progress.update(phase, done, n);
            }
            skipped = Math.toIntExact(images.badFiles());
        } catch (RuntimeException e) {
            all.close();
            throw warnings.explain(e, n, maxBadFraction, dataset.describe());
        }
        if (done < n) { // undecodable files were left out: keep the rows that were filled
            Tensor kept = all.narrow(0, 0, done).clone();
            all.close();
            all = kept;
            labels = java.util.Arrays.copyOf(labels, done);
        }
        return new FeatureSet(all, labels, dataset.classes(), skipped);
    }
}
