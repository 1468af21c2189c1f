package dev.mvp.data;

import dev.mvp.api.MaskingStrategy;
import dev.mvp.api.Torch;
import dev.mvp.api.ViewSpec;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Batches of images, assembled by worker threads directly into off-heap memory and handed to libtorch without a
 * copy: pre-training batches ({@link #open}) or evaluation batches ({@link #evaluation}). Both modes share the
 * workers, the bounded memory pool, the bad-file handling and {@link Batch}.
 *
 * <p><b>What a batch holds.</b> Each epoch visits the dataset in a random order; batch {@code b} of epoch {@code e}
 * takes the samples at positions {@code [b * B, (b + 1) * B)} of that order and the last incomplete batch is dropped,
 * as in BEiT. Each sample is decoded, colour-jittered if configured ({@link LoaderConfig#colorJitter()}, on the whole
 * image, as BEiT), cropped once ({@link LoaderConfig#crop()}), flipped or not, and every view of
 * {@link ViewSpec} is resampled from that same crop (PIL-exact, see {@link Resampler}), mirrored alike, and
 * normalised ({@link PixelNormalizer}); views of the same size and interpolation (MVP's student and CLIP teacher at
 * 224, bicubic) are resampled once and only normalised apart. Its mask is drawn by
 * {@code masking.sample(gridSize, gridSize, rng)}.
 *
 * <p><b>Determinism.</b> The epoch order is a permutation of the whole dataset drawn from (seed, epoch); with
 * {@link LoaderConfig#worldSize()} processes, rank {@code r} takes positions {@code r, r + worldSize, ...} of it
 * ({@link #epochOrder}). Each sample's crop, flip, mask and jitter come, in that order, from a generator of its own
 * seeded by (seed, epoch, position in the whole permutation). So the batches do not depend on the number of workers
 * or on timing, a sample is augmented alike whatever the world size, and a loader started at (epoch, batch) yields
 * exactly what an uninterrupted one yields from there: that is how a training run resumes.
 *
 * <p><b>Bad files.</b> A file that fails to decode is reported once through {@link LoaderConfig#warnings()} (its
 * path and the reason), remembered, and replaced by the next file of the epoch order that decodes, using the failed
 * sample's generator; batches stay full and reproducible. {@link #next()} throws a {@link DataException} as soon as
 * the failed files are more than {@link LoaderConfig#maxBadFraction()} of the whole dataset (exact, however few
 * files were read), or, once {@code min(100, files)} files were tried, more than that fraction of the files tried
 * (an early estimate on large datasets). An unexpected exception in a worker
 * is thrown from {@link #next()} too (wrapped in a {@link DataException} naming the file), and the loader stops.
 *
 * <p><b>Memory.</b> At most {@code prefetch + 2} batches of memory exist: {@code prefetch} being filled or waiting,
 * and two held by the caller's tensors. Memory returns to the pool when libtorch frees the tensors over it (see
 * {@link Batch}); if the caller keeps more batches alive, {@link #next()} fails with a message saying so rather than
 * growing without bound.
 *
 * <p><b>Evaluation mode</b> ({@link #evaluation}): one pass over this rank's images in dataset order (all of them
 * with one process; with {@code worldSize} processes, rank {@code r} takes indices {@code r, r + worldSize, ...},
 * and the ranks together cover the dataset), in batches of {@code batchSize} with a smaller last batch; nothing is
 * random (no shuffling, crop, flip, jitter or mask): each image goes through one {@link EvalTransform}. A file that
 * fails to decode is reported, counted and left out (never replaced, so no image is seen twice), and its batch is
 * that much smaller; a batch left with no image at all is not returned. {@link #hasNext()} turns false after the
 * last batch.
 *
 * <p>Not thread-safe: call {@link #next()} from one thread at a time. {@link #close()} stops the workers and frees
 * the memory that libtorch has released (the rest as its tensors die).
 */
public final class BatchLoader implements AutoCloseable {
    /** Batches the caller may hold on to besides the prefetched ones. */
    private static final int HELD_BATCHES = 2;
    /** The bad-file fraction is judged once this many distinct files (or all of them) have been tried. */
    private static final int MIN_FILES_TRIED = 100;
    private static final long STALL_GC_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final ImageDataset dataset;
    /** The evaluation transform in evaluation mode, {@code null} in training mode. */
    private final EvalTransform evalTransform;
    /** Evaluation mode: this rank's dataset indices in order. */
    private final int[] evalOrder;
    /** Batches in all: {@link Long#MAX_VALUE} in training mode (batches run on across epochs). */
    private final long totalBatches;
    private final List<ViewSpec> views;
    private final MaskingStrategy masking;
    private final int gridSize;
    private final LoaderConfig config;
    private final int batchSize;
    private final int perRank;
    private final int batchesPerEpoch;
    private final long firstBatch;
    private final PixelNormalizer[] normalizers;
    /** Per view: the first view with the same size and interpolation, whose resampled pixels it reuses. */
    private final int[] resampledAs;
    /** Per view that is resampled ({@code resampledAs[v] == v}): the views made from its resampling, else null. */
    private final int[][] sameResampling;
    private final BlockPool pool;
    private final BadFiles badFiles;
    private final EpochOrders orders;
    private final Thread[] workers;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // guarded by lock
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private long consumed;   // sequence number of the next batch next() returns
    private long opened;     // sequence number of the next batch to open
    private Pending claiming;
    private int nextSlot;
    private boolean closed;
    private DataException failure;
    /** Set when close() begins; read by workers outside the lock. */
    private volatile boolean stopping;
    /** How long next() waits for the caller to release batch memory before it fails (shorter in tests). */
    long stallTimeoutNanos = TimeUnit.SECONDS.toNanos(10);

    private BatchLoader(ImageDataset dataset, List<ViewSpec> views, MaskingStrategy masking, int gridSize,
                        LoaderConfig config, EvalTransform evalTransform) {
        this.dataset = dataset;
        this.evalTransform = evalTransform;
        this.views = List.copyOf(views);
        this.masking = masking;
        this.gridSize = gridSize;
        this.config = config;
        this.batchSize = config.batchSize();
        if (evalTransform == null) {
            this.perRank = dataset.size() / config.worldSize();
            this.batchesPerEpoch = perRank / batchSize;
            this.firstBatch = (long) config.startEpoch() * batchesPerEpoch + config.startBatch();
            this.totalBatches = Long.MAX_VALUE;
            this.evalOrder = null;
        } else {
            int n = dataset.size(), world = config.worldSize(), rank = config.rank();
            this.perRank = (int) (((long) n - rank + world - 1) / world);
            this.evalOrder = new int[perRank];
            for (int i = 0; i < perRank; i++) evalOrder[i] = rank + i * world;
            this.batchesPerEpoch = (int) (((long) perRank + batchSize - 1) / batchSize);
            this.firstBatch = 0;
            this.totalBatches = batchesPerEpoch;
        }
        this.normalizers = this.views.stream().map(v -> new PixelNormalizer(v.normalization())).toArray(PixelNormalizer[]::new);
        this.resampledAs = new int[this.views.size()];
        for (int v = 0; v < resampledAs.length; v++) {
            resampledAs[v] = v;
            for (int u = 0; u < v; u++) {
                ViewSpec a = this.views.get(u), b = this.views.get(v);
                if (a.size() == b.size() && a.interpolation() == b.interpolation()) {
                    resampledAs[v] = u;
                    break;
                }
            }
        }
        this.sameResampling = new int[this.views.size()][];
        for (int v = 0; v < resampledAs.length; v++) {
            final int first = v;
            if (resampledAs[v] == v) {
                sameResampling[v] = java.util.stream.IntStream.range(0, resampledAs.length)
                        .filter(u -> resampledAs[u] == first).toArray();
            }
        }
        long[] partBytes = new long[this.views.size() + (masking != null ? 1 : 0)];
        for (int i = 0; i < this.views.size(); i++) {
            partBytes[i] = (long) batchSize * sampleBytes(i);
        }
        if (masking != null) partBytes[this.views.size()] = (long) batchSize * sampleBytes(this.views.size());
        this.pool = new BlockPool(partBytes, config.prefetch() + HELD_BATCHES, this::signal);
        this.badFiles = new BadFiles();
        this.orders = new EpochOrders();
        this.workers = new Thread[config.workers()];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("mvp-data-worker-" + i).unstarted(this::work);
        }
    }

    /**
     * Starts a loader; its workers begin filling batches at once.
     *
     * @param views    the views each sample yields, e.g. the student's and the teacher's; at least one
     * @param masking  draws each sample's mask on a {@code gridSize x gridSize} patch grid
     * @throws DataException if the dataset (this rank's share of it) holds fewer images than one batch
     */
    public static BatchLoader open(ImageDataset dataset, List<ViewSpec> views, MaskingStrategy masking, int gridSize,
                                   LoaderConfig config) {
        Objects.requireNonNull(dataset, "dataset");
        Objects.requireNonNull(masking, "masking");
        Objects.requireNonNull(config, "config");
        if (views.isEmpty()) throw new IllegalArgumentException("at least one view is needed");
        if (gridSize < 1) throw new IllegalArgumentException("gridSize must be >= 1, got " + gridSize);
        if (dataset.size() / config.worldSize() < config.batchSize()) {
            throw new DataException(dataset.describe() + (config.worldSize() > 1 ? " shared by " + config.worldSize()
                    + " processes gives each " + dataset.size() / config.worldSize() + " images, fewer than"
                    : " has fewer images than") + " one batch of " + config.batchSize());
        }
        Torch.init();
        BatchLoader loader = new BatchLoader(dataset, views, masking, gridSize, config, null);
        for (Thread t : loader.workers) t.start();
        return loader;
    }

    /**
     * Starts an evaluation loader (see the class comment): every image of this rank's share, once, in dataset
     * order, through {@code transform}, decoded by {@code config.decoder()} ({@link LoaderConfig#defaults()}:
     * libjpeg-turbo when installed). Each {@link Batch} has one view, float32 {@code [b, 3, S, S]} with
     * {@code S = transform.size()} and {@code b <= batchSize}, and no mask; its {@link Batch#sampleIndices()},
     * {@link Batch#labels()} and {@link Batch#paths()} say which images it holds. Of {@code config}, this mode uses
     * the batch size, workers, prefetch, decoder, bad-file fraction, warnings and shard (rank, world size); the
     * seed, crop, flip, colour jitter and start position do not apply.
     */
    public static BatchLoader evaluation(ImageDataset dataset, EvalTransform transform, LoaderConfig config) {
        Objects.requireNonNull(dataset, "dataset");
        Objects.requireNonNull(transform, "transform");
        Objects.requireNonNull(config, "config");
        Torch.init();
        ViewSpec view = new ViewSpec(transform.size(), transform.interpolation(), transform.normalization());
        BatchLoader loader = new BatchLoader(dataset, List.of(view), null, 0, config, transform);
        for (Thread t : loader.workers) t.start();
        return loader;
    }

    /**
     * Training mode: full batches per epoch, {@code (dataset.size() / worldSize) / batchSize} (the remainder is
     * dropped). Evaluation mode: all the batches of the one pass, {@code ceil(images of this rank / batchSize)}.
     */
    public int batchesPerEpoch() {
        return batchesPerEpoch;
    }

    /** Whether this is an evaluation loader ({@link #evaluation}). */
    public boolean isEvaluation() {
        return evalTransform != null;
    }

    /**
     * Whether {@link #next()} has another batch: always in training mode; in evaluation mode, until the last batch
     * was taken. May wait for the workers (to learn whether the remaining batches hold any decodable image).
     *
     * @throws IllegalStateException if the loader is closed
     */
    public boolean hasNext() {
        if (evalTransform == null) {
            lock.lock();
            try {
                if (closed) throw new IllegalStateException("the batch loader is closed");
            } finally {
                lock.unlock();
            }
            return true;
        }
        lock.lock();
        try {
            while (true) {
                if (closed) throw new IllegalStateException("the batch loader is closed");
                if (failure != null) return true; // next() reports it
                if (consumed >= totalBatches) return false;
                Pending head = pending.peek();
                if (head != null && head.remaining == 0) {
                    if (head.error != null || head.good() > 0) return true;
                    dropEmpty(head);
                    continue;
                }
                if (head == null && pool.exhausted()) return true; // next() waits, then says who holds the memory
                changed.await(100, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted while waiting for a batch", e);
        } finally {
            lock.unlock();
        }
    }

    /** Skips a finished evaluation batch none of whose files could be decoded. Holds the lock. */
    private void dropEmpty(Pending head) {
        pending.poll();
        consumed++;
        pool.giveBack(head.block);
        changed.signalAll();
    }

    /** Bytes of one sample in part {@code part}: a view's floats, or the mask's flags. */
    private long sampleBytes(int part) {
        if (part == views.size()) return (long) gridSize * gridSize;
        long s = views.get(part).size();
        return Math.multiplyExact(3 * s * s, (long) Float.BYTES);
    }

    /** Distinct files that failed to decode so far (each was reported once and is skipped from then on). */
    public long badFiles() {
        return badFiles.count();
    }

    /**
     * The next batch, waiting for the workers if needed. Batches run on across epoch boundaries without end.
     *
     * @throws DataException         if too many files failed to decode, a worker failed, or the caller holds on to
     *                               the memory of too many earlier batches
     * @throws IllegalStateException if the loader is closed
     * @throws java.util.NoSuchElementException in evaluation mode, after the last batch
     */
    public Batch next() {
        Pending batch = take();
        if (batch.error != null) {
            DataException e = batch.error instanceof DataException d ? new DataException(d.getMessage(), d)
                    : new DataException("data worker failed: " + batch.error, batch.error);
            lock.lock();
            try {
                if (failure == null) failure = e;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            pool.giveBack(batch.block);
            throw e;
        }
        return wrap(batch);
    }

    private Pending take() {
        lock.lock();
        try {
            long stalledSince = -1;
            boolean collected = false;
            while (true) {
                if (closed) throw new IllegalStateException("the batch loader is closed");
                if (failure != null) throw new DataException(failure.getMessage(), failure);
                if (consumed >= totalBatches) {
                    throw new java.util.NoSuchElementException("the evaluation loader has returned all "
                            + totalBatches + " batches of " + dataset.describe());
                }
                Pending head = pending.peek();
                if (head != null && head.remaining == 0 && head.error == null && head.good() == 0) {
                    dropEmpty(head);
                    continue;
                }
                if (head != null && head.remaining == 0) {
                    pending.poll();
                    consumed++;
                    changed.signalAll();
                    return head;
                }
                if (head == null && pool.exhausted()) {
                    // every buffer is held by tensors of batches already handed out
                    long now = System.nanoTime();
                    if (stalledSince < 0) stalledSince = now;
                    if (!collected && now - stalledSince > Math.min(STALL_GC_NANOS, stallTimeoutNanos / 2)) {
                        collected = true;
                        System.gc(); // tensors only reachable from garbage are freed by JavaCPP after a collection
                    } else if (now - stalledSince > stallTimeoutNanos) {
                        throw new DataException("all " + pool.capacity() + " batch buffers are still used by tensors of"
                                + " earlier batches: close each batch's tensors (run each step inside a PointerScope)"
                                + "; the loader lends at most prefetch + " + HELD_BATCHES + " batches");
                    }
                } else {
                    stalledSince = -1;
                }
                changed.await(100, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted while waiting for a batch", e);
        } finally {
            lock.unlock();
        }
    }

    /** Makes the batch's tensors on the calling thread, so they join its PointerScope. */
    private Batch wrap(Pending p) {
        int b = p.good();
        int[] indices = p.indices, labels = p.labels;
        if (b < p.count) { // evaluation mode, some files undecodable: move the others together
            indices = new int[b];
            labels = new int[b];
            for (int slot = 0, k = 0; slot < p.count; slot++) {
                if (p.indices[slot] < 0) continue;
                if (k != slot) {
                    for (int part = 0; part < p.block.parts(); part++) {
                        long bytes = sampleBytes(part);
                        MemorySegment.copy(p.block.segment, p.block.offset(part) + slot * bytes,
                                p.block.segment, p.block.offset(part) + k * bytes, bytes);
                    }
                }
                indices[k] = p.indices[slot];
                labels[k++] = p.labels[slot];
            }
        }
        Pointer[] parts = p.block.lend();
        Tensor[] tensors = new Tensor[parts.length];
        int made = 0;
        try {
            for (; made < views.size(); made++) {
                long s = views.get(made).size();
                tensors[made] = torch.from_blob(parts[made], new long[] {b, 3, s, s}, BlockPool.deleter(),
                        new TensorOptions(ScalarType.Float));
            }
            if (masking != null) {
                tensors[made] = torch.from_blob(parts[made], new long[] {b, (long) gridSize * gridSize},
                        BlockPool.deleter(), new TensorOptions(ScalarType.Bool));
                made++;
            }
        } catch (RuntimeException | Error e) {
            for (int i = made; i < parts.length; i++) p.block.releasePart(); // never reached libtorch
            for (int i = 0; i < made; i++) tensors[i].close();              // their deleters release the rest
            throw e;
        }
        return new Batch(p.epoch, p.batchInEpoch, Arrays.copyOf(tensors, views.size()),
                masking != null ? tensors[views.size()] : null, indices, labels,
                evalTransform == null ? List.of(p.crops) : List.of(), dataset);
    }

    /** Stops the workers and frees the pooled memory; memory still used by tensors is freed when they are. */
    @Override public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            stopping = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        boolean stopped = true;
        for (Thread t : workers) {
            t.interrupt();
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            stopped &= !t.isAlive();
        }
        lock.lock();
        try {
            // a worker that did not stop may still write into its batch: leave that memory alone
            if (stopped) for (Pending p : pending) pool.giveBack(p.block);
            pending.clear();
        } finally {
            lock.unlock();
        }
        pool.close();
    }

    /** The pool of batch memory, for tests. */
    BlockPool pool() {
        return pool;
    }

    // ---- workers ----

    /** A batch being filled: its block and, per slot, the sample that went in. */
    private final class Pending {
        final int epoch;
        final long batchInEpoch;
        final BlockPool.Block block;
        /** Samples in this batch: batchSize, but for the last batch of an evaluation pass. */
        final int count;
        /** Per slot: the dataset index, or -1 for an undecodable file left out (evaluation mode). */
        final int[] indices;
        final int[] labels;
        final CropBox[] crops;
        int remaining;             // guarded by lock
        Throwable error;           // guarded by lock

        Pending(long sequence, BlockPool.Block block) {
            long absolute = firstBatch + sequence;
            this.epoch = Math.toIntExact(absolute / batchesPerEpoch);
            this.batchInEpoch = absolute % batchesPerEpoch;
            this.block = block;
            this.count = evalTransform == null ? batchSize : (int) Math.min(batchSize, perRank - batchInEpoch * batchSize);
            this.indices = new int[count];
            this.labels = new int[count];
            this.crops = new CropBox[count];
            this.remaining = count;
        }

        /** The samples that went in (call once every slot is done). */
        int good() {
            int g = 0;
            for (int i : indices) if (i >= 0) g++;
            return g;
        }
    }

    /**
     * Per-worker scratch memory, reused for every sample: each view's planar floats and, per resampling, the
     * normalisers and outputs of the views made from it.
     */
    private final class Scratch {
        final Resampler resampler = new Resampler();
        final float[][] planes = new float[views.size()][];
        final PixelNormalizer[][] groupNormalizers = new PixelNormalizer[views.size()][];
        final float[][][] groupPlanes = new float[views.size()][][];

        Scratch() {
            for (int v = 0; v < views.size(); v++) planes[v] = new float[3 * views.get(v).size() * views.get(v).size()];
            for (int v = 0; v < views.size(); v++) {
                if (sameResampling[v] == null) continue;
                int[] group = sameResampling[v];
                groupNormalizers[v] = new PixelNormalizer[group.length];
                groupPlanes[v] = new float[group.length][];
                for (int i = 0; i < group.length; i++) {
                    groupNormalizers[v][i] = normalizers[group[i]];
                    groupPlanes[v][i] = planes[group[i]];
                }
            }
        }
    }

    private void work() {
        Scratch scratch = new Scratch();
        while (true) {
            Pending batch;
            int slot;
            lock.lock();
            try {
                while (true) {
                    if (closed || failure != null) return;
                    if (claiming != null && nextSlot < claiming.count) {
                        batch = claiming;
                        slot = nextSlot++;
                        break;
                    }
                    BlockPool.Block block = opened < consumed + config.prefetch() && opened < totalBatches
                            ? pool.tryAcquire() : null;
                    if (block != null) {
                        claiming = new Pending(opened++, block);
                        nextSlot = 0;
                        pending.add(claiming);
                    } else {
                        changed.await();
                    }
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            Throwable error = null;
            try {
                fill(batch, slot, scratch);
            } catch (Throwable t) {
                error = t;
            }
            lock.lock();
            try {
                if (error != null && batch.error == null) batch.error = error;
                if (--batch.remaining == 0) changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private void signal() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Decodes, transforms and writes sample {@code slot} of {@code batch}. */
    private void fill(Pending batch, int slot, Scratch scratch) {
        if (evalTransform != null) fillEvaluation(batch, slot, scratch);
        else fillTraining(batch, slot, scratch);
    }

    /** Evaluation mode: the next image in order, resized and centre-cropped, or the slot marked empty if it is bad. */
    private void fillEvaluation(Pending batch, int slot, Scratch scratch) {
        int index = evalOrder[Math.toIntExact(batch.batchInEpoch * batchSize + slot)];
        try {
            RgbImage image = badFiles.decode(index);
            if (image == null) {
                batch.indices[slot] = -1;
                batch.labels[slot] = -1;
                return;
            }
            int s = evalTransform.size();
            RgbImage crop = evalTransform.crop(image, scratch.resampler);
            normalizers[0].toPlanar(crop.pixels(), s, s, false, scratch.planes[0]);
            long at = batch.block.offset(0) + slot * sampleBytes(0);
            MemorySegment.copy(scratch.planes[0], 0, batch.block.segment, ValueLayout.JAVA_FLOAT, at, 3 * s * s);
            batch.indices[slot] = index;
            batch.labels[slot] = dataset.label(index);
        } catch (DataException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new DataException("data worker failed on " + dataset.path(index) + " (evaluation, batch "
                    + batch.batchInEpoch + "): " + e, e);
        }
    }

    /** Training mode: decodes, augments and writes the sample at this slot's position of the epoch order. */
    private void fillTraining(Pending batch, int slot, Scratch scratch) {
        int n = perRank;
        long position = batch.batchInEpoch * batchSize + slot;
        int index = -1;
        try {
            int[] order = orders.of(batch.epoch);
            RgbImage image = null;
            for (int k = 0; k < n && image == null; k++) {
                index = order[(int) ((position + k) % n)];
                image = badFiles.decode(index);
            }
            if (image == null) {
                throw new DataException("none of the " + n + " images of " + dataset.describe() + " could be decoded");
            }
            long globalPosition = position * config.worldSize() + config.rank();
            SplittableRandom rng = new SplittableRandom(sampleSeed(config.seed(), batch.epoch, globalPosition));
            CropBox box = config.crop().sample(image.width(), image.height(), rng);
            box = box.withFlip(rng.nextDouble() < config.flipProbability());
            boolean[] mask = masking.sample(gridSize, gridSize, rng);
            if (mask.length != gridSize * gridSize) {
                throw new IllegalStateException("masking " + masking.name() + " returned " + mask.length + " flags for a "
                        + gridSize + "x" + gridSize + " grid");
            }
            if (!config.colorJitter().isNone()) image = ColorJitter.apply(image, config.colorJitter().sample(rng));
            MemorySegment memory = batch.block.segment;
            for (int v = 0; v < views.size(); v++) {
                if (resampledAs[v] != v) continue; // made with the first view of the same size and interpolation
                ViewSpec view = views.get(v);
                int s = view.size();
                // resampled, mirrored and normalised in one go, for every view of this size and interpolation
                scratch.resampler.resizeToPlanar(image, box, s, s, view.interpolation(), scratch.groupNormalizers[v],
                        scratch.groupPlanes[v]);
                for (int u : sameResampling[v]) {
                    long at = batch.block.offset(u) + (long) slot * 3 * s * s * Float.BYTES;
                    MemorySegment.copy(scratch.planes[u], 0, memory, ValueLayout.JAVA_FLOAT, at, 3 * s * s);
                }
            }
            long maskAt = batch.block.offset(views.size()) + (long) slot * mask.length;
            for (int j = 0; j < mask.length; j++) memory.set(ValueLayout.JAVA_BYTE, maskAt + j, (byte) (mask[j] ? 1 : 0));
            batch.indices[slot] = index;
            batch.labels[slot] = dataset.label(index);
            batch.crops[slot] = box;
        } catch (DataException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new DataException("data worker failed on " + (index < 0 ? "sample" : dataset.path(index)) + " (epoch "
                    + batch.epoch + ", position " + position + "): " + e, e);
        }
    }

    // ---- seeds ----

    private static final long ORDER_STREAM = 0x6F72646572L; // "order"
    private static final long SAMPLE_STREAM = 0x73616D706CL; // "sampl"

    /** The seed of epoch {@code epoch}'s order. */
    static long orderSeed(long seed, int epoch) {
        return mix(seed, epoch, ORDER_STREAM, 0);
    }

    /** The seed of the generator of the sample at {@code position} of epoch {@code epoch}'s whole permutation. */
    static long sampleSeed(long seed, int epoch, long position) {
        return mix(seed, epoch, SAMPLE_STREAM, position);
    }

    private static long mix(long seed, long epoch, long stream, long position) {
        long h = mix64(seed ^ 0x9E3779B97F4A7C15L);
        h = mix64(h ^ mix64(stream + epoch * 0xBF58476D1CE4E5B9L));
        return mix64(h ^ mix64(position + 0x94D049BB133111EBL));
    }

    /** Stafford's variant 13 of MurmurHash3's finaliser (SplittableRandom's mixer): a bijection with full avalanche. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The permutation of each epoch, cached for the few epochs in flight. */
    private final class EpochOrders {
        private final Map<Integer, int[]> cache = new LinkedHashMap<>(4, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<Integer, int[]> eldest) {
                return size() > 3;
            }
        };

        synchronized int[] of(int epoch) {
            return cache.computeIfAbsent(epoch, e -> epochOrder(dataset.size(), config.seed(), e, config.rank(),
                    config.worldSize()));
        }
    }

    /**
     * The dataset indices rank {@code rank} of {@code worldSize} visits in epoch {@code epoch}, in order: positions
     * {@code rank, rank + worldSize, ...} of the epoch's permutation of {@code [0, n)}, {@code n / worldSize} of
     * them. The ranks' orders are disjoint; together they cover all but {@code n % worldSize} indices.
     */
    public static int[] epochOrder(int n, long seed, int epoch, int rank, int worldSize) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("shard needs 0 <= rank < worldSize, got rank " + rank + " of " + worldSize);
        }
        int[] all = Shuffle.permutation(n, orderSeed(seed, epoch));
        if (worldSize == 1) return all;
        int[] mine = new int[n / worldSize];
        for (int i = 0; i < mine.length; i++) mine[i] = all[i * worldSize + rank];
        return mine;
    }

    // ---- bad files ----

    /** Decodes files, remembering and reporting (once) those that fail, and enforcing maxBadFraction. */
    private final class BadFiles {
        private final BitSet tried = new BitSet();
        private final BitSet bad = new BitSet();
        private long triedCount, badCount;
        private String lastBad;

        synchronized long count() {
            return badCount;
        }

        /** The decoded image, or {@code null} if the file is bad. */
        RgbImage decode(int index) {
            synchronized (this) {
                if (bad.get(index)) return null;
            }
            try {
                RgbImage image = config.decoder().decode(dataset.path(index));
                String tooMany;
                synchronized (this) {
                    markTried(index);
                    tooMany = verdict();
                }
                // judged on good files too: the last bad file may be met before enough files were tried
                if (tooMany != null) throw new DataException(tooMany);
                return image;
            } catch (DecodeException e) {
                if (stopping) throw new DataException("the batch loader is closing"); // e.g. a read interrupted by close()
                boolean first;
                String tooMany;
                synchronized (this) {
                    first = !bad.get(index);
                    if (first) {
                        bad.set(index);
                        badCount++;
                        lastBad = e.getMessage();
                        markTried(index);
                    }
                    tooMany = verdict();
                }
                if (first) config.warnings().accept("skipping undecodable image " + e.getMessage());
                if (tooMany != null) throw new DataException(tooMany);
                return null;
            }
        }

        private void markTried(int index) {
            if (!tried.get(index)) {
                tried.set(index);
                triedCount++;
            }
        }

        /**
         * The error message when too many files were bad, else {@code null}. Two criteria: exact, as soon as the bad
         * files exceed {@code maxBadFraction} of the whole dataset (then the dataset's fraction is exceeded whatever
         * the files not yet tried hold, so a short run stops too); and an estimate, once {@code min(100, files)}
         * files were tried, when the bad ones exceed that fraction of the files tried so far.
         */
        private String verdict() {
            if (badCount == 0) return null;
            if (badCount > config.maxBadFraction() * dataset.size()) {
                return badCount + " of the " + dataset.size() + " images of the dataset could not be decoded, more "
                        + "than maxBadFraction " + config.maxBadFraction() + " allows (" + triedCount + " tried so far), in "
                        + dataset.describe() + "; last: " + lastBad;
            }
            long judgedAfter = Math.min(MIN_FILES_TRIED, perRank);
            if (triedCount < judgedAfter || badCount <= config.maxBadFraction() * triedCount) return null;
            return badCount + " of the " + triedCount + " images tried so far could not be decoded, more than"
                    + " maxBadFraction " + config.maxBadFraction() + " allows, in " + dataset.describe()
                    + "; last: " + lastBad;
        }
    }
}
