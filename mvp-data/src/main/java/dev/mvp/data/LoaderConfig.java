package dev.mvp.data;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * How a {@link BatchLoader} draws and assembles batches.
 *
 * @param batchSize       images per batch; the last incomplete batch of an epoch is dropped (BEiT's
 *                        {@code drop_last=True})
 * @param seed            the run's seed: with the dataset it fixes every epoch order, crop, flip and mask
 * @param workers         threads decoding and augmenting; the batches do not depend on it
 * @param prefetch        batches assembled ahead of the consumer (each costs its off-heap memory)
 * @param maxBadFraction  the fraction of the distinct files tried that may fail to decode before {@code next()}
 *                        gives up; judged once 100 files (or the whole dataset, if smaller) have been tried
 * @param decoder         file to RGB
 * @param crop            the crop drawn for each sample
 * @param flipProbability chance that a sample's views are mirrored left-right
 * @param startEpoch      the epoch of the first batch, for resuming
 * @param startBatch      the position of the first batch within {@code startEpoch}, for resuming; values past the
 *                        end of the epoch continue into the following epochs
 * @param warnings        receives one line per file that fails to decode (path and reason)
 */
public record LoaderConfig(int batchSize, long seed, int workers, int prefetch, double maxBadFraction,
                           ImageDecoder decoder, RandomResizedCrop crop, double flipProbability,
                           int startEpoch, long startBatch, Consumer<String> warnings) {

    public LoaderConfig {
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        if (prefetch < 1) throw new IllegalArgumentException("prefetch must be >= 1, got " + prefetch);
        if (!(maxBadFraction >= 0 && maxBadFraction <= 1)) {
            throw new IllegalArgumentException("maxBadFraction must be in [0, 1], got " + maxBadFraction);
        }
        if (!(flipProbability >= 0 && flipProbability <= 1)) {
            throw new IllegalArgumentException("flipProbability must be in [0, 1], got " + flipProbability);
        }
        if (startEpoch < 0 || startBatch < 0) {
            throw new IllegalArgumentException("start position must be >= 0, got epoch " + startEpoch + " batch " + startBatch);
        }
        Objects.requireNonNull(decoder, "decoder");
        Objects.requireNonNull(crop, "crop");
        Objects.requireNonNull(warnings, "warnings");
    }

    /**
     * BEiT/MVP pre-training defaults: batch 64 (BEiT's per-GPU batch), seed 0, one worker per available core,
     * 2 batches of prefetch, at most 1% bad files, {@link ImageIoDecoder}, {@link RandomResizedCrop#pretraining()},
     * flip probability 0.5, starting at epoch 0 batch 0, warnings to standard error.
     */
    public static LoaderConfig defaults() {
        return new LoaderConfig(64, 0, Math.max(1, Runtime.getRuntime().availableProcessors()), 2, 0.01,
                new ImageIoDecoder(), RandomResizedCrop.pretraining(), 0.5, 0, 0, System.err::println);
    }

    public LoaderConfig withBatchSize(int batchSize) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    public LoaderConfig withSeed(long seed) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    /** The same batches from {@code workers} threads, {@code prefetch} batches ahead. */
    public LoaderConfig withThreads(int workers, int prefetch) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    public LoaderConfig withMaxBadFraction(double maxBadFraction) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    public LoaderConfig withDecoder(ImageDecoder decoder) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    public LoaderConfig withAugmentation(RandomResizedCrop crop, double flipProbability) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }

    /** Resumes at batch {@code batch} of epoch {@code epoch}. */
    public LoaderConfig withStart(int epoch, long batch) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                epoch, batch, warnings);
    }

    public LoaderConfig withWarnings(Consumer<String> warnings) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings);
    }
}
