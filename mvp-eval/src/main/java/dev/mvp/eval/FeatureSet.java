package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.Objects;

/**
 * Features of a labelled image set: float32 {@code [N, D]} on the CPU with one label per row (an index into
 * {@link #classes()}, or -1 when unlabelled). Owns its tensor, which was made outside any PointerScope; close it to
 * free the memory early (else it is freed when collected).
 */
public final class FeatureSet implements AutoCloseable {
    private final Tensor features;
    private final int[] labels;
    private final List<String> classes;
    private final int skipped;

    /**
     * @param features float32 [N, D], owned by this set from now on (create it outside any PointerScope)
     */
    public FeatureSet(Tensor features, int[] labels, List<String> classes) {
        this(features, labels, classes, 0);
    }

    /**
     * @param features float32 [N, D], owned by this set from now on (create it outside any PointerScope)
     * @param skipped  images of the dataset left out because they could not be decoded
     */
    public FeatureSet(Tensor features, int[] labels, List<String> classes, int skipped) {
        if (skipped < 0) throw new IllegalArgumentException("skipped must be >= 0, got " + skipped);
        this.skipped = skipped;
        this.features = Objects.requireNonNull(features, "features");
        this.labels = labels.clone();
        this.classes = List.copyOf(classes);
        if (features.dim() != 2 || features.size(0) != labels.length) {
            throw new IllegalArgumentException("features " + Tensors.shapeString(features) + " do not match "
                    + labels.length + " labels");
        }
    }

    /** A set holding a copy of {@code rows x dim} values (row-major), for tests and small tools. */
    public static FeatureSet of(float[] values, int rows, int dim, int[] labels, List<String> classes) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("build a FeatureSet outside any PointerScope: it owns its tensor");
        }
        return new FeatureSet(Tensors.ofFloats(values, rows, dim), labels, classes);
    }

    /** float32 {@code [N, D]}; a handle owned by this set (do not close it). */
    public Tensor features() {
        return features;
    }

    /** Rows N: the dataset's images that could be decoded. */
    public int size() {
        return labels.length;
    }

    /** The dataset's images left out because they could not be decoded (the dataset held {@code size() + skipped()}). */
    public int skipped() {
        return skipped;
    }

    public int dim() {
        return (int) features.size(1);
    }

    /** The label of each row. */
    public int[] labels() {
        return labels.clone();
    }

    public int label(int row) {
        return labels[row];
    }

    public List<String> classes() {
        return classes;
    }

    /** The number of classes: {@code classes().size()}, or 1 + the largest label when there are no names. */
    public int numClasses() {
        if (!classes.isEmpty()) return classes.size();
        int max = -1;
        for (int l : labels) max = Math.max(max, l);
        return max + 1;
    }

    @Override public void close() {
        features.close();
    }
}
