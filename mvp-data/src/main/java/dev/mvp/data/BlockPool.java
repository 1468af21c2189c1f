package dev.mvp.data;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.PointerConsumer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Off-heap memory for batches, lent to libtorch and recycled when libtorch says it is done with it.
 *
 * <p>A block holds one batch: several tensors' data ("parts") at fixed offsets. {@code from_blob} tensors over a
 * part get {@link #deleter()} as their deleter; libtorch calls it when the tensor's storage is freed (the Java
 * tensor closed by its {@code PointerScope}, and no view or autograd node keeping the storage). When every part of
 * a block has been released the block returns to the free list, so memory is reused only after libtorch let go of
 * it. At most {@code capacity} blocks exist. After {@link #close()}, free blocks are freed at once and blocks still
 * lent out are freed by their last deleter call.
 */
final class BlockPool implements AutoCloseable {

    /** Data address of a lent part -> its block. Static: the deleter is a single JVM-wide native callback. */
    private static final Map<Long, Block> LENT = new ConcurrentHashMap<>();

    private final long[] partOffsets;
    private final long blockBytes;
    private final int capacity;
    private final Runnable onRecycle;
    private final ArrayDeque<Block> free = new ArrayDeque<>();
    private final AtomicLong deleterCalls = new AtomicLong();
    private int allocated;
    private boolean closed;

    /**
     * @param partBytes the byte size of each part of a block; parts are 64-byte aligned
     * @param onRecycle called (without locks held) whenever a block becomes free
     */
    BlockPool(long[] partBytes, int capacity, Runnable onRecycle) {
        Torch.init();
        this.partOffsets = new long[partBytes.length];
        long at = 0;
        for (int i = 0; i < partBytes.length; i++) {
            partOffsets[i] = at;
            at += (partBytes[i] + 63) & ~63L;
        }
        this.blockBytes = Math.max(at, 64);
        this.capacity = capacity;
        this.onRecycle = onRecycle;
    }

    /** The one deleter, made on first use (see {@link #createOutsideAnyScope()}). */
    private static volatile PointerConsumer deleter;

    /** The deleter for every {@code from_blob} tensor over a part: never collected, safe to call from any thread. */
    static PointerConsumer deleter() {
        PointerConsumer d = deleter;
        if (d == null) {
            synchronized (BlockPool.class) {
                if (deleter == null) deleter = createOutsideAnyScope();
                d = deleter;
            }
        }
        return d;
    }

    /** How many times libtorch has called the deleter for this pool's memory. */
    long deleterCalls() {
        return deleterCalls.get();
    }

    /**
     * Makes the deleter on a thread of its own: a callback created while the caller has a PointerScope open would
     * be attached to that scope and freed with it, leaving libtorch to call freed code. (Not in a class
     * initialiser: the new thread would wait for the initialisation that is waiting for it.)
     */
    private static PointerConsumer createOutsideAnyScope() {
        PointerConsumer[] made = new PointerConsumer[1];
        Thread t = Thread.ofPlatform().name("mvp-data-deleter-init").unstarted(() -> made[0] = new Deleter());
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating the batch memory deleter", e);
        }
        if (made[0] == null) throw new IllegalStateException("could not create the batch memory deleter");
        return made[0];
    }

    private static final class Deleter extends PointerConsumer {
        @Override public void call(Pointer data) {
            try {
                Block block = LENT.get(data.address());
                if (block != null) block.releasedByLibtorch();
            } catch (Throwable t) { // never let an exception unwind into libtorch
                t.printStackTrace();
            }
        }
    }

    /** A free block, a new one if fewer than {@code capacity} exist, or {@code null}. */
    synchronized Block tryAcquire() {
        if (closed) return null;
        Block b = free.poll();
        if (b == null && allocated < capacity) {
            b = new Block();
            allocated++;
        }
        return b;
    }

    /** True when no block is free and no more may be made. */
    synchronized boolean exhausted() {
        return free.isEmpty() && allocated >= capacity;
    }

    /** Blocks in existence (free, being filled, or lent out). */
    synchronized int allocated() {
        return allocated;
    }

    int capacity() {
        return capacity;
    }

    /** Returns a block that was not (or no longer is) lent to libtorch. */
    void giveBack(Block block) {
        boolean freed;
        synchronized (this) {
            freed = closed;
            if (closed) {
                allocated--;
            } else {
                free.push(block);
            }
        }
        if (freed) block.free();
        else onRecycle.run();
    }

    /** Frees the free blocks now and the lent ones when libtorch releases them. Idempotent. */
    @Override public void close() {
        Block[] toFree;
        synchronized (this) {
            if (closed) return;
            closed = true;
            toFree = free.toArray(Block[]::new);
            allocated -= toFree.length;
            free.clear();
        }
        for (Block b : toFree) b.free();
    }

    /** One batch's memory. */
    final class Block {
        private final Arena arena = Arena.ofShared();
        final MemorySegment segment = arena.allocate(blockBytes, 64);
        private final AtomicInteger lentParts = new AtomicInteger();

        /** The number of parts. */
        int parts() {
            return partOffsets.length;
        }

        /** The byte offset of part {@code i} in {@link #segment}. */
        long offset(int part) {
            return partOffsets[part];
        }

        /**
         * Marks every part as lent to libtorch and returns pointers to them, for {@code from_blob}. Each part must
         * then be released exactly once: by the deleter, or by {@link #releasePart()} if it never reached libtorch.
         */
        Pointer[] lend() {
            lentParts.set(partOffsets.length);
            Pointer[] pointers = new Pointer[partOffsets.length];
            for (int i = 0; i < partOffsets.length; i++) {
                long address = segment.address() + partOffsets[i];
                LENT.put(address, this);
                pointers[i] = new RawPointer(address);
            }
            return pointers;
        }

        private void releasedByLibtorch() {
            deleterCalls.incrementAndGet();
            releasePart();
        }

        void releasePart() {
            if (lentParts.decrementAndGet() == 0) {
                for (long offset : partOffsets) LENT.remove(segment.address() + offset, this);
                giveBack(this);
            }
        }

        private void free() {
            arena.close();
        }
    }

    /** A JavaCPP pointer to foreign memory it does not own. */
    private static final class RawPointer extends Pointer {
        RawPointer(long rawAddress) {
            this.address = rawAddress; // a parameter named "address" would be shadowed by Pointer's field
        }
    }
}
