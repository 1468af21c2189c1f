package dev.mvp.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * An indexed, immutable list of image files with optional class labels. Implementations are thread-safe: the batch
 * loader's workers call {@link #path(int)} and {@link #label(int)} concurrently.
 */
public interface ImageDataset {

    /**
     * The dataset {@code path} names, chosen by what it is: a folder is an {@link ImageFolder} (class sub-folders
     * or one flat folder), a regular file a {@link FileListDataset} (one {@code path [label]} per line, relative
     * paths resolved against the list's own folder).
     *
     * @throws DataException if {@code path} does not exist or is neither, or as {@link ImageFolder#open} and
     *                       {@link FileListDataset#open(Path)} say (one line naming the folder, or the list and line)
     */
    static ImageDataset open(Path path) {
        java.util.Objects.requireNonNull(path, "path");
        Path p = path.toAbsolutePath().normalize();
        if (Files.isDirectory(p)) return ImageFolder.open(p);
        if (Files.isRegularFile(p)) return FileListDataset.open(p);
        if (!Files.exists(p)) throw new DataException("image folder or file list not found: " + p);
        throw new DataException("neither an image folder nor a file list: " + p);
    }

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
