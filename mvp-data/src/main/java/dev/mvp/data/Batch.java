package dev.mvp.data;

import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.Objects;

/**
 * One batch from a {@link BatchLoader}.
 *
 * <p>The tensors are CPU tensors over the loader's off-heap memory (no copy). They were created by
 * {@link BatchLoader#next()} on the calling thread, so they belong to the caller's innermost
 * {@link org.bytedeco.javacpp.PointerScope}, if any, and are freed with it; the loader reuses their memory only
 * after libtorch has released the last reference to it. Close them (run each training step inside a scope) or the
 * loader runs out of buffers. They are writable; writing changes only this batch.
 */
public final class Batch {
    private final int epoch;
    private final long batchInEpoch;
    private final Tensor[] views;
    private final Tensor mask;
    private final int[] sampleIndices;
    private final int[] labels;
    private final List<CropBox> crops;

    Batch(int epoch, long batchInEpoch, Tensor[] views, Tensor mask, int[] sampleIndices, int[] labels, List<CropBox> crops) {
        this.epoch = epoch;
        this.batchInEpoch = batchInEpoch;
        this.views = views;
        this.mask = mask;
        this.sampleIndices = sampleIndices;
        this.labels = labels;
        this.crops = crops;
    }

    /** The epoch this batch belongs to. */
    public int epoch() {
        return epoch;
    }

    /** Its position within the epoch, from 0 to {@link BatchLoader#batchesPerEpoch()} - 1. */
    public long batchInEpoch() {
        return batchInEpoch;
    }

    /** The number of samples B. */
    public int size() {
        return sampleIndices.length;
    }

    /**
     * View {@code i} of every sample: float32 {@code [B, 3, S, S]} with S = {@code views.get(i).size()}, resampled
     * from the sample's crop with that view's interpolation and mapped by its normalisation.
     */
    public Tensor view(int i) {
        return views[Objects.checkIndex(i, views.length)];
    }

    /** The number of views. */
    public int viewCount() {
        return views.length;
    }

    /** The masks: bool {@code [B, gridSize * gridSize]}, row-major over the patch grid, {@code true} = masked. */
    public Tensor mask() {
        return mask;
    }

    /** The dataset index of each sample (after replacing undecodable files). */
    public int[] sampleIndices() {
        return sampleIndices.clone();
    }

    /** The dataset label of each sample, {@code -1} where unlabelled. */
    public int[] labels() {
        return labels.clone();
    }

    /** The crop of each sample, in the pixel coordinates of its decoded image, with its flip. */
    public List<CropBox> crops() {
        return crops;
    }

    @Override public String toString() {
        return "Batch[epoch " + epoch + ", batch " + batchInEpoch + ", " + sampleIndices.length + " samples, "
                + views.length + " views]";
    }
}
