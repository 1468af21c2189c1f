package dev.mvp.data;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.AbstractList;
import java.util.List;
import java.util.Objects;

/**
 * One batch from a {@link BatchLoader}: a pre-training batch (its views and masks) or an evaluation batch (one view,
 * no mask, possibly fewer samples than the batch size; see {@link BatchLoader#evaluation}).
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
    private final ImageDataset dataset;

    Batch(int epoch, long batchInEpoch, Tensor[] views, Tensor mask, int[] sampleIndices, int[] labels, List<CropBox> crops,
          ImageDataset dataset) {
        this.dataset = dataset;
        this.epoch = epoch;
        this.batchInEpoch = batchInEpoch;
        this.views = views;
        this.mask = mask;
        this.sampleIndices = sampleIndices;
        this.labels = labels;
        this.crops = crops;
    }

    /** The epoch this batch belongs to (0 for an evaluation batch). */
    public int epoch() {
        return epoch;
    }

    /**
     * Its position within the epoch (the evaluation pass), from 0 to {@link BatchLoader#batchesPerEpoch()} - 1.
     */
    public long batchInEpoch() {
        return batchInEpoch;
    }

    /**
     * The number of samples B: the loader's batch size, except in evaluation mode for the last batch and batches
     * from which undecodable files were left out.
     */
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

    /**
     * The masks: bool {@code [B, gridSize * gridSize]}, row-major over the patch grid, {@code true} = masked.
     *
     * @throws IllegalStateException for an evaluation batch, which has none (see {@link #hasMask()})
     */
    public Tensor mask() {
        if (mask == null) throw new IllegalStateException("an evaluation batch has no mask");
        return mask;
    }

    /** Whether the batch has masks: true for pre-training batches, false for evaluation batches. */
    public boolean hasMask() {
        return mask != null;
    }

    /** The dataset index of each sample (after replacing undecodable files). */
    public int[] sampleIndices() {
        return sampleIndices.clone();
    }

    /** The dataset label of each sample, {@code -1} where unlabelled. */
    public int[] labels() {
        return labels.clone();
    }

    /** The file of each sample ({@code dataset.path(sampleIndices()[i])}), resolved when read. */
    public List<Path> paths() {
        return new AbstractList<>() {
            @Override public Path get(int i) {
                return dataset.path(sampleIndices[Objects.checkIndex(i, sampleIndices.length)]);
            }

            @Override public int size() {
                return sampleIndices.length;
            }
        };
    }

    /**
     * The crop of each sample, in the pixel coordinates of its decoded image, with its flip; empty for an
     * evaluation batch (its centre crop is {@link EvalTransform}'s, the same rule for every image).
     */
    public List<CropBox> crops() {
        return crops;
    }

    @Override public String toString() {
        return "Batch[epoch " + epoch + ", batch " + batchInEpoch + ", " + sampleIndices.length + " samples, "
                + views.length + " views]";
    }
}
