package dev.mvp.data;

import java.nio.file.Path;
import java.util.List;

/**
 * An indexed, immutable list of image files with optional class labels. Implementations are thread-safe: the batch
 * loader's workers call {@link #path(int)} and {@link #label(int)} concurrently.
 */
public interface ImageDataset {

    /** The number of images. */
    int size();

    /** The file of image {@code index}, {@code 0 <= index < size()}. */
    Path path(int index);

    /** The class of image {@code index} as an index into {@link #classes()}, or {@code -1} if unlabelled. */
    int label(int index);

    /** The class names, in label order; empty if the dataset is unlabelled. */
    List<String> classes();

    /** One line for logs, e.g. {@code ImageFolder /data/train: 1281167 images, 1000 classes (class folders)}. */
    String describe();

    /**
     * A fixed part of this dataset for one of {@code worldSize} processes: the images at indices {@code rank},
     * {@code rank + worldSize}, {@code rank + 2 * worldSize}, ... (the strided split of PyTorch's
     * {@code DistributedSampler} without shuffling). The shards of all ranks are disjoint and together are the
     * dataset; their sizes differ by at most one. For training, prefer {@link LoaderConfig#withShard}, which deals
     * the whole dataset out afresh every epoch.
     *
     * @throws IllegalArgumentException unless {@code 0 <= rank < worldSize}
     */
    default ImageDataset shard(int rank, int worldSize) {
        return new ShardedDataset(this, rank, worldSize);
    }
}
