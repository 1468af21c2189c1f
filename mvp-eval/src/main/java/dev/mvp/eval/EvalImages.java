package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.data.DataException;
import dev.mvp.data.DecodeException;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageIoDecoder;
import dev.mvp.data.Resampler;
import dev.mvp.data.RgbImage;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Every image of a dataset, in dataset order, through an {@link EvalTransform}, in batches: worker threads decode
 * and transform whole batches ahead of the consumer (at most {@code 2 * workers} batches in flight). The last batch
 * may be smaller. Nothing is random and nothing is skipped: an image that fails to decode is a
 * {@link DataException} naming the file (an evaluation must see every image).
 *
 * <p>Not thread-safe: one consumer. {@link #close()} stops the workers.
 */
public final class EvalImages implements AutoCloseable {

    /**
     * One batch: {@code pixels} is {@code [b, 3, size, size]} float32 planar, row-major; {@code indices} and
     * {@code labels} are per image.
     */
    public record Chunk(int start, int[] indices, int[] labels, float[] pixels, int size) {
        public int count() {
            return indices.length;
        }

        /** The pixels as a new float32 tensor {@code [b, 3, size, size]} in the caller's scope. */
        public Tensor tensor() {
            return Tensors.ofFloats(pixels, count(), 3, size, size);
        }
    }

    private final ImageDataset dataset;
    private final EvalTransform transform;
    private final int batchSize;
    private final ImageDecoder decoder;
    private final ExecutorService pool;
    private final ThreadLocal<Resampler> resamplers = ThreadLocal.withInitial(Resampler::new);
    private final ArrayDeque<Future<Chunk>> inFlight = new ArrayDeque<>();
    private final int maxInFlight;
    private int nextStart;

    /**
     * @param workers decoding threads (at least 1)
     */
    public EvalImages(ImageDataset dataset, EvalTransform transform, int batchSize, int workers) {
        this(dataset, transform, batchSize, workers, new ImageIoDecoder());
    }

    public EvalImages(ImageDataset dataset, EvalTransform transform, int batchSize, int workers, ImageDecoder decoder) {
        this.dataset = Objects.requireNonNull(dataset, "dataset");
        this.transform = Objects.requireNonNull(transform, "transform");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (workers < 1) throw new IllegalArgumentException("workers must be >= 1, got " + workers);
        this.batchSize = batchSize;
        this.maxInFlight = 2 * workers;
        this.pool = Executors.newFixedThreadPool(workers, r -> Thread.ofPlatform().daemon().name("mvp-eval-decode").unstarted(r));
    }

    /** The number of batches: {@code ceil(size / batchSize)}. */
    public int batches() {
        return (dataset.size() + batchSize - 1) / batchSize;
    }

    /** Whether {@link #next()} has another batch. */
    public boolean hasNext() {
        return !inFlight.isEmpty() || nextStart < dataset.size();
    }

    /**
     * The next batch, in dataset order.
     *
     * @throws DataException naming the file when an image cannot be decoded
     */
    public Chunk next() {
        if (!hasNext()) throw new java.util.NoSuchElementException("no more images");
        while (inFlight.size() < maxInFlight && nextStart < dataset.size()) {
            int start = nextStart, end = Math.min(dataset.size(), start + batchSize);
            nextStart = end;
            inFlight.add(pool.submit(() -> load(start, end)));
        }
        try {
            return inFlight.poll().get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            throw new DataException("image worker failed: " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted while loading images", e);
        }
    }

    /** Decodes and transforms one image (used by the workers; public for single-image tools). */
    public RgbImage cropped(int index) {
        try {
            RgbImage image = decoder.decode(dataset.path(index));
            return transform.crop(image, resamplers.get());
        } catch (DecodeException e) {
            throw new DataException("cannot decode image " + e.getMessage(), e);
        }
    }

    private Chunk load(int start, int end) {
        int n = end - start, s = transform.size(), per = 3 * s * s;
        float[] pixels = new float[Math.multiplyExact(n, per)];
        int[] indices = new int[n], labels = new int[n];
        for (int i = 0; i < n; i++) {
            indices[i] = start + i;
            labels[i] = dataset.label(start + i);
            transform.toPlanar(cropped(start + i), pixels, i * per);
        }
        return new Chunk(start, indices, labels, pixels, s);
    }

    @Override public void close() {
        for (Future<Chunk> f : inFlight) f.cancel(true);
        inFlight.clear();
        pool.shutdownNow();
    }
}
