package dev.mvp.eval.finetune;

import dev.mvp.data.DataException;
import dev.mvp.data.DecodeException;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.Resampler;
import dev.mvp.data.Shuffle;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Augmented training batches for fine-tuning: each epoch visits the dataset in a random order (drawn from
 * (seed, epoch)); batch b holds positions {@code [b B, (b + 1) B)}; the last incomplete batch is dropped (BEiT:
 * {@code drop_last=True}). Each sample is augmented by a {@link TrainTransform} with a generator seeded by (seed,
 * epoch, position), so batches do not depend on the number of workers. Worker threads assemble whole batches ahead.
 * A file that fails to decode is warned about once (standard error) and replaced by the next decodable image of the
 * epoch's order, until more than {@code maxBadFraction} of the dataset's images are bad: then a
 * {@link dev.mvp.eval.TooManyBadImages} (the constructors without the fraction stop at the first bad file, a
 * {@link DataException} naming it). Not thread-safe: one consumer.
 */
public final class TrainImages implements AutoCloseable {

    /** One batch: planar float32 pixels {@code [B, 3, S, S]} and the labels. */
    public record Batch(int epoch, int step, float[] pixels, int[] labels) {}

    private final ImageDataset dataset;
    private final TrainTransform transform;
    private final int batchSize;
    private final long seed;
    private final ImageDecoder decoder;
    private final ExecutorService pool;
    private final ThreadLocal<Resampler> resamplers = ThreadLocal.withInitial(Resampler::new);
    private final ArrayDeque<Future<Batch>> inFlight = new ArrayDeque<>();
    private final int ahead;
    private final int stepsPerEpoch;
    private final double maxBadFraction;
    private final java.util.Set<Integer> bad = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile String lastBad = "";
    private long nextBatch;

    /** Decoding with the default decoder ({@link ImageDecoders#fastest()}: libjpeg-turbo when installed). */
    public TrainImages(ImageDataset dataset, TrainTransform transform, int batchSize, long seed, int workers) {
        this(dataset, transform, batchSize, seed, workers, ImageDecoders.fastest());
    }

    /** Decoding with {@code decoder} (the commands' {@code --decoder}). */
    public TrainImages(ImageDataset dataset, TrainTransform transform, int batchSize, long seed, int workers,
                       ImageDecoder decoder) {
        this(dataset, transform, batchSize, seed, workers, decoder, -1);
    }

    /**
     * Leaving out up to {@code maxBadFraction} of the images when they cannot be decoded (see the class comment;
     * negative: none, the first is an error).
     */
    public TrainImages(ImageDataset dataset, TrainTransform transform, int batchSize, long seed, int workers,
                       ImageDecoder decoder, double maxBadFraction) {
        if (!(maxBadFraction <= 1)) throw new IllegalArgumentException("maxBadFraction must be <= 1, got " + maxBadFraction);
        this.maxBadFraction = maxBadFraction;
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        if (batchSize < 1 || workers < 1) throw new IllegalArgumentException("batch size and workers must be >= 1");
        if (dataset.size() < batchSize) {
            throw new DataException(dataset.describe() + " has fewer images than one batch of " + batchSize);
        }
        this.dataset = dataset;
        this.transform = transform;
        this.batchSize = batchSize;
        this.seed = seed;
        this.stepsPerEpoch = dataset.size() / batchSize;
        this.ahead = 2 * workers;
        this.pool = Executors.newFixedThreadPool(workers, r -> Thread.ofPlatform().daemon().name("mvp-finetune-data").unstarted(r));
    }

    public int stepsPerEpoch() {
        return stepsPerEpoch;
    }

    /** How many different images failed to decode so far (each was warned about once). */
    public int badImages() {
        return bad.size();
    }

    /** The next batch (epochs follow one another without end). */
    public Batch next() {
        while (inFlight.size() < ahead) {
            long b = nextBatch++;
            inFlight.add(pool.submit(() -> load((int) (b / stepsPerEpoch), (int) (b % stepsPerEpoch))));
        }
        try {
            return inFlight.poll().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new DataException("data worker failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted while loading images", e);
        }
    }

    private Batch load(int epoch, int step) {
        int[] order = order(epoch);
        int s = transform.size(), per = 3 * s * s;
        float[] pixels = new float[batchSize * per];
        int[] labels = new int[batchSize];
        for (int i = 0; i < batchSize; i++) {
            int position = step * batchSize + i, index = order[position];
            SplittableRandom rng = new SplittableRandom(mix(seed, epoch, position));
            for (int tries = 0; ; tries++) {
                if (tries == order.length) { // every image of the epoch tried: none decodes (only when all may be bad)
                    throw new dev.mvp.eval.TooManyBadImages(bad.size(), dataset.size(), maxBadFraction, dataset.describe(),
                            lastBad, null);
                }
                if (!bad.contains(index)) {
                    try {
                        transform.apply(decoder.decode(dataset.path(index)), rng, resamplers.get(), pixels, i * per);
                        labels[i] = dataset.label(index);
                        break;
                    } catch (DecodeException e) {
                        if (maxBadFraction < 0) throw new DataException("cannot decode image " + e.getMessage(), e);
                        if (bad.add(index)) {
                            lastBad = e.getMessage();
                            System.err.println("mvp: warning: skipping undecodable training image " + e.getMessage());
                        }
                        if (bad.size() > maxBadFraction * dataset.size()) {
                            throw new dev.mvp.eval.TooManyBadImages(bad.size(), dataset.size(), maxBadFraction,
                                    dataset.describe(), lastBad, e);
                        }
                    }
                }
                index = order[(position + tries + 1) % order.length]; // the next image of the epoch's order instead
            }
        }
        return new Batch(epoch, step, pixels, labels);
    }

    private int[] order(int epoch) {
        return Shuffle.permutation(dataset.size(), mix(seed, epoch, -1));
    }

    static long mix(long seed, long a, long b) {
        long h = seed * 0x9E3779B97F4A7C15L + a;
        h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + b;
        return h ^ (h >>> 29);
    }

    @Override public void close() {
        for (Future<Batch> f : inFlight) f.cancel(true);
        pool.shutdownNow();
    }
}
