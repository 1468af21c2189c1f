package dev.mvp.eval;

import dev.mvp.data.ImageDataset;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** A fixed selection of another dataset's images, in the parent's order (labels and classes unchanged). */
public final class Subset implements ImageDataset {
    private final ImageDataset parent;
    private final int[] indices;
    private final String how;

    private Subset(ImageDataset parent, int[] indices, String how) {
        this.parent = parent;
        this.indices = indices;
        this.how = how;
    }

    /**
     * The first {@code perClass} images of each class, in the parent's order (all of a class when it has fewer).
     * Unlabelled images (label -1) are left out.
     */
    public static Subset perClass(ImageDataset parent, int perClass) {
        Objects.requireNonNull(parent, "parent");
        if (perClass < 1) throw new IllegalArgumentException("images per class must be >= 1, got " + perClass);
        int classes = Math.max(parent.classes().size(), 1);
        int[] taken = new int[classes];
        int[] out = new int[parent.size()];
        int n = 0;
        for (int i = 0; i < parent.size(); i++) {
            int l = parent.label(i);
            if (l < 0) continue;
            if (l >= taken.length) taken = Arrays.copyOf(taken, l + 1);
            if (taken[l] < perClass) {
                taken[l]++;
                out[n++] = i;
            }
        }
        return new Subset(parent, Arrays.copyOf(out, n), "first " + perClass + " per class");
    }

    /** Images {@code indices} of the parent (in the given order). */
    public static Subset of(ImageDataset parent, int[] indices) {
        for (int i : indices) Objects.checkIndex(i, parent.size());
        return new Subset(parent, indices.clone(), indices.length + " selected");
    }

    @Override public int size() {
        return indices.length;
    }

    @Override public Path path(int index) {
        return parent.path(indices[Objects.checkIndex(index, indices.length)]);
    }

    @Override public int label(int index) {
        return parent.label(indices[Objects.checkIndex(index, indices.length)]);
    }

    @Override public List<String> classes() {
        return parent.classes();
    }

    @Override public String describe() {
        return parent.describe() + ", subset: " + how + " (" + indices.length + " images)";
    }

    @Override public String toString() {
        return describe();
    }
}
