package dev.mvp.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Every {@code worldSize}-th image of a dataset, starting at {@code rank}: see {@link ImageDataset#shard}. A view:
 * nothing is copied. Thread-safe when the underlying dataset is.
 */
public final class ShardedDataset implements ImageDataset {
    private final ImageDataset base;
    private final int rank;
    private final int worldSize;
    private final int size;

    ShardedDataset(ImageDataset base, int rank, int worldSize) {
        this.base = Objects.requireNonNull(base, "base");
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("shard needs 0 <= rank < worldSize, got rank " + rank + " of " + worldSize);
        }
        this.rank = rank;
        this.worldSize = worldSize;
        this.size = (int) (((long) base.size() - rank + worldSize - 1) / worldSize);
    }

    /** The index in the underlying dataset of image {@code index} of this shard. */
    public int baseIndex(int index) {
        return rank + worldSize * Objects.checkIndex(index, size);
    }

    @Override public int size() {
        return size;
    }

    @Override public Path path(int index) {
        return base.path(baseIndex(index));
    }

    @Override public int label(int index) {
        return base.label(baseIndex(index));
    }

    @Override public List<String> classes() {
        return base.classes();
    }

    @Override public String describe() {
        return base.describe() + ", shard " + rank + " of " + worldSize + ": " + size + " images";
    }

    @Override public String toString() {
        return describe();
    }
}
