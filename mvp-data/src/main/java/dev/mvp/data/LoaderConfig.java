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
 * @param maxBadFraction  the fraction of files that may fail to decode: {@code next()} gives up as soon as the bad
 *                        files are more than this fraction of the whole dataset, or, once 100 files (or the whole
 *                        dataset, if smaller) have been tried, more than this fraction of the distinct files tried
 * @param decoder         file to RGB
 * @param crop            the crop drawn for each sample
 * @param flipProbability chance that a sample's views are mirrored left-right
 * @param startEpoch      the epoch of the first batch, for resuming
 * @param startBatch      the position of the first batch within {@code startEpoch}, for resuming; values past the
 *                        end of the epoch continue into the following epochs
 * @param warnings        receives one line per file that fails to decode (path and reason)
 * @param colorJitter     colour jitter applied to the whole decoded image before the crop, as BEiT does;
 *                        {@link ColorJitter#NONE} for none
 * @param rank            this process's part of the data, in {@code [0, worldSize)}
 * @param worldSize       the number of processes sharing each epoch: every epoch, the dataset is shuffled with
 *                        the seed and dealt out so that rank {@code r} takes positions {@code r, r + worldSize, ...}
 *                        of the shuffled order (PyTorch's {@code DistributedSampler}), the last
 *                        {@code size % worldSize} images of the order being left out of that epoch
 */
public record LoaderConfig(int batchSize, long seed, int workers, int prefetch, double maxBadFraction,
                           ImageDecoder decoder, RandomResizedCrop crop, double flipProbability,
                           int startEpoch, long startBatch, Consumer<String> warnings, ColorJitter colorJitter,
                           int rank, int worldSize) {

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
        Objects.requireNonNull(colorJitter, "colorJitter");
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("shard needs 0 <= rank < worldSize, got rank " + rank + " of " + worldSize);
        }
    }

    /** A single-process configuration without colour jitter. */
    public LoaderConfig(int batchSize, long seed, int workers, int prefetch, double maxBadFraction,
                        ImageDecoder decoder, RandomResizedCrop crop, double flipProbability,
                        int startEpoch, long startBatch, Consumer<String> warnings) {
        this(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability, startEpoch, startBatch,
                warnings, ColorJitter.NONE, 0, 1);
    }

    /**
     * BEiT/MVP pre-training defaults: batch 64 (BEiT's per-GPU batch), seed 0, one worker per available core,
     * 2 batches of prefetch, at most 1% bad files, {@link ImageDecoders#fastest()} (libjpeg-turbo when installed,
     * else {@link ImageIoDecoder}), {@link RandomResizedCrop#pretraining()},
     * flip probability 0.5, starting at epoch 0 batch 0, warnings to standard error, no colour jitter, one process.
     */
    public static LoaderConfig defaults() {
        return new LoaderConfig(64, 0, Math.max(1, Runtime.getRuntime().availableProcessors()), 2, 0.01,
                ImageDecoders.fastest(), RandomResizedCrop.pretraining(), 0.5, 0, 0, System.err::println);
    }

    public LoaderConfig withBatchSize(int batchSize) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    public LoaderConfig withSeed(long seed) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    /** The same batches from {@code workers} threads, {@code prefetch} batches ahead. */
    public LoaderConfig withThreads(int workers, int prefetch) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    public LoaderConfig withMaxBadFraction(double maxBadFraction) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    public LoaderConfig withDecoder(ImageDecoder decoder) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    public LoaderConfig withAugmentation(RandomResizedCrop crop, double flipProbability) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    /** Resumes at batch {@code batch} of epoch {@code epoch}. */
    public LoaderConfig withStart(int epoch, long batch) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                epoch, batch, warnings, colorJitter, rank, worldSize);
    }

    public LoaderConfig withWarnings(Consumer<String> warnings) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    /** Colour jitter on each decoded image before its crop ({@link ColorJitter#NONE} for none). */
    public LoaderConfig withColorJitter(ColorJitter colorJitter) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }

    /** This process's share of each epoch when {@code worldSize} processes train together (see {@link #worldSize()}). */
    public LoaderConfig withShard(int rank, int worldSize) {
        return new LoaderConfig(batchSize, seed, workers, prefetch, maxBadFraction, decoder, crop, flipProbability,
                startEpoch, startBatch, warnings, colorJitter, rank, worldSize);
    }
}
