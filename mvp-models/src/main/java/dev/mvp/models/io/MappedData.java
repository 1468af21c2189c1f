package dev.mvp.models.io;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.PointerConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A read-only memory mapping of part of a weight file, and the zero-copy tensor views over it.
 *
 * <p>A view is made with {@code from_blob} and a deleter that libtorch calls when the view's storage dies (the view
 * and every tensor derived from it without copying). {@link #close()} unmaps only once the last view is gone, so a
 * view can never outlive its mapping. The caller validates every offset before asking for a view; this class checks
 * them again against the mapping's size, so a mistake is an exception, never a read outside the mapping.
 *
 * <p>Views are read-only memory: an in-place operation on one kills the JVM with SIGSEGV (the weight readers' class
 * comments say so to their users). Thread-safe.
 */
final class MappedData implements AutoCloseable {

    /** Open, non-empty mappings by start address, so the shared deleter finds a view's mapping. */
    private static final ConcurrentSkipListMap<Long, MappedData> MAPPED = new ConcurrentSkipListMap<>();

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;

    // guarded by this
    private int liveViews;
    private boolean closed;
    private boolean unmapped;

    private MappedData(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    /** Maps {@code size} bytes of {@code channel} from {@code offset}, read-only. */
    static MappedData map(Path path, FileChannel channel, long offset, long size) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, offset, size, arena);
            MappedData data = new MappedData(path, arena, segment);
            if (size > 0) MAPPED.put(segment.address(), data);
            return data;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The mapped bytes (valid until the mapping is unmapped). */
    MemorySegment segment() {
        return segment;
    }

    long size() {
        return segment.byteSize();
    }

    /**
     * A CPU tensor of {@code dtype} whose element {@code [i0, i1, ...]} is at byte
     * {@code offset + (sum_k i_k * strides[k]) * dtype.size()} of the mapping ({@code strides == null}: contiguous).
     * A zero-copy view when the data is aligned to the element size and not empty; otherwise a copy (an empty
     * tensor has no storage to view, and a misaligned one would be undefined behaviour for libtorch's kernels).
     *
     * @throws IllegalArgumentException if the elements reach outside the mapping (a caller's validation bug)
     * @throws IllegalStateException    if the mapping was closed
     */
    Tensor view(long offset, Dtype dtype, long[] shape, long[] strides) {
        Torch.init();
        long[] s = strides != null ? strides : contiguousStrides(shape);
        long span = spanBytes(shape, s, dtype);
        if (offset < 0 || span > size() - offset) {
            throw new IllegalArgumentException(path + ": elements at byte " + offset + " (+" + span + ") reach outside the "
                    + size() + " mapped bytes");
        }
        long address = segment.address() + offset;
        if (span == 0 || address % dtype.size() != 0) return copyOf(offset, span, dtype, shape, s);
        acquireView();
        // If from_blob failed after taking the deleter, libtorch would release the view itself: we cannot tell, so a
        // (never seen) failure leaves the file mapped rather than risk unmapping under a live view.
        return torch.from_blob(pointerAt(address), shape, s, ViewReleaser.INSTANCE, new TensorOptions(dtype.scalarType()),
                new org.bytedeco.pytorch.DeviceOptional());
    }

    /** Requests the unmap: done now if no view is alive, else when libtorch frees the last one. Idempotent. */
    @Override public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            if (liveViews > 0) return;
        }
        unmap();
    }

    synchronized int liveViews() {
        return liveViews;
    }

    synchronized boolean isMapped() {
        return !unmapped;
    }

    /** Throws if {@link #close()} was called. */
    synchronized void checkOpen() {
        if (closed) throw new IllegalStateException(path + " is closed");
    }

    static long[] contiguousStrides(long[] shape) {
        long[] strides = new long[shape.length];
        long stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= Math.max(shape[i], 1);
        }
        return strides;
    }

    /**
     * The bytes from the first element to the end of the last ({@code (1 + sum (size_k - 1) * stride_k) * dtype}), 0
     * for an empty tensor. The caller has checked that this does not overflow.
     */
    static long spanBytes(long[] shape, long[] strides, Dtype dtype) {
        long last = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 0) return 0;
            last += (shape[i] - 1) * strides[i];
        }
        return (last + 1) * dtype.size();
    }

    private Tensor copyOf(long offset, long span, Dtype dtype, long[] shape, long[] strides) {
        long elements = span / dtype.size();
        Tensor flat = torch.empty(new long[] {elements}, new TensorOptions(dtype.scalarType()), new MemoryFormatOptional());
        synchronized (this) {
            checkOpen();
            if (span > 0) { // an empty tensor has no storage (null data_ptr)
                MemorySegment.ofAddress(flat.data_ptr().address()).reinterpret(span).copyFrom(segment.asSlice(offset, span));
            }
        }
        if (span == 0) return torch.empty(shape, new TensorOptions(dtype.scalarType()), new MemoryFormatOptional());
        return flat.as_strided(shape, strides);
    }

    private synchronized void acquireView() {
        checkOpen();
        liveViews++;
    }

    private void releaseView() {
        synchronized (this) {
            if (--liveViews > 0 || !closed) return;
        }
        unmap();
    }

    private synchronized void unmap() {
        if (unmapped) return;
        unmapped = true;
        MAPPED.remove(segment.address(), this);
        arena.close();
    }

    /** A javacpp pointer at a raw address (no deallocator: the memory belongs to the arena). */
    private static Pointer pointerAt(long rawAddress) {
        // not named "address": inside the subclass that name is Pointer's field
        return new Pointer() {
            {
                address = rawAddress;
            }
        };
    }

    /**
     * The one deleter shared by all views: javacpp allows only a few live instances per callback class, so one
     * instance finds the view's mapping from the data address.
     */
    private static final class ViewReleaser extends PointerConsumer {
        // created during some caller's PointerScope, which would free it (and silence every later release) when it
        // closes: the extra reference keeps it for the life of the JVM
        static final ViewReleaser INSTANCE = new ViewReleaser().retainReference();

        @Override public void call(Pointer viewData) {
            try {
                Map.Entry<Long, MappedData> e = MAPPED.floorEntry(viewData.address());
                if (e != null) e.getValue().releaseView();
            } catch (Throwable t) {
                // never throw into libtorch
                System.getLogger(MappedData.class.getName()).log(System.Logger.Level.ERROR, "releasing a view", t);
            }
        }
    }
}
