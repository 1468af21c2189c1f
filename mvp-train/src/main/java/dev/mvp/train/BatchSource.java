package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.api.ViewSpec;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.LoaderConfig;
import dev.mvp.data.RandomResizedCrop;
import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.function.Consumer;

/**
 * Where the {@link Pretrainer} gets its batches: normally a {@link BatchLoader} over an image folder
 * ({@link #images}); a benchmark or a test may hand in batches already in memory.
 *
 * <p>Contract: batches run on across epochs without end; batch {@code b} of epoch {@code e} is the same whatever
 * happened before (a source opened at {@code (e, b)} continues an uninterrupted one exactly), which is what makes a
 * resumed run follow the same trajectory. Not thread-safe; the engine calls it from its training thread.
 */
public interface BatchSource extends AutoCloseable {

    /**
     * One loader batch. The tensors were either made by {@link #next()} on the calling thread, and then belong to its
     * innermost {@link org.bytedeco.javacpp.PointerScope}, or are long-lived tensors the source owns and keeps alive
     * until it is closed (batches held in memory). The engine only reads them.
     *
     * @param epoch          the epoch it belongs to
     * @param batchInEpoch   its position in the epoch, {@code 0 <= batchInEpoch < batchesPerEpoch()}
     * @param studentView    float32 [B, 3, S, S] for the student
     * @param teacherView    float32 [B, 3, T, T] for the teacher, as {@code tokenizer.inputSpec()} says
     * @param mask           bool [B, N], {@code true} = masked
     * @param sampleIndices  the dataset index of each sample
     * @param targets        the teacher's targets when the source has them (a {@link TargetCache}), else {@code null};
     *                       {@code teacherView} is then {@code null} too
     */
    record Item(int epoch, long batchInEpoch, Tensor studentView, Tensor teacherView, Tensor mask, int[] sampleIndices,
                Tensor targets) {}

    /** Opens a source at a position, for a fresh run ({@code 0, 0}) or a resumed one. */
    @FunctionalInterface
    interface Opener {
        BatchSource open(int startEpoch, long startBatch);
    }

    /** Loader batches per epoch. */
    int batchesPerEpoch();

    /** The next batch. */
    Item next();

    /** Images skipped so far because they failed to decode. */
    default long badFiles() {
        return 0;
    }

    /** One line for config.json and logs. */
    String describe();

    /** Images in the dataset. */
    long images();

    /**
     * The dataset's identity, to refuse resuming a run on other data: its image count and a SHA-256 of its ordered
     * file list (paths relative to the folder or list, and labels); null when the source has none (then a
     * resumption is not checked).
     */
    default DataIdentity identity() {
        return null;
    }

    @Override void close();

    /**
     * Batches of an image folder: BEiT's pre-training augmentation (RandomResizedCrop(0.08, 1), flip 0.5) cropped
     * once per sample, the student's and the teacher's view resampled from that crop, and the recipe's masks.
     */
    static Opener images(ImageDataset data, PretrainConfig config, Recipe recipe, Consumer<String> warnings) {
        return images(data, config, recipe, warnings, null);
    }

    /**
     * As {@link #images(ImageDataset, PretrainConfig, Recipe, Consumer)}, with the teacher's targets read from a
     * cache instead of a teacher view; the crops are then {@link TargetCache#FIXED_CROP} without flips, the views
     * the cache was made from.
     */
    static Opener images(ImageDataset data, PretrainConfig config, Recipe recipe, Consumer<String> warnings,
                         TargetCache cache) {
        return images(data, config, recipe, warnings, cache, cache != null);
    }

    /** As above; {@code fixedCrops} chooses {@link TargetCache#FIXED_CROP} without flips even without a cache. */
    static Opener images(ImageDataset data, PretrainConfig config, Recipe recipe, Consumer<String> warnings,
                         TargetCache cache, boolean fixedCrops) {
        if (cache != null && !fixedCrops) throw new IllegalArgumentException("a teacher cache needs fixed crops");
        return (startEpoch, startBatch) -> {
            List<ViewSpec> views = cache != null ? List.of(Pretrainer.studentView(config.imageSize()))
                    : List.of(Pretrainer.studentView(config.imageSize()), recipe.tokenizer().inputSpec());
            int workers = config.workers() > 0 ? config.workers() : Runtime.getRuntime().availableProcessors();
            LoaderConfig loaderConfig = LoaderConfig.defaults().withBatchSize(config.batchSize())
                    .withSeed(config.seed()).withThreads(workers, 2).withMaxBadFraction(config.maxBadFraction())
                    .withDecoder(ImageDecoders.named(config.decoder()))
                    .withAugmentation(fixedCrops ? TargetCache.FIXED_CROP : RandomResizedCrop.pretraining(),
                            fixedCrops ? 0 : 0.5).withStart(startEpoch, startBatch)
                    .withWarnings(warnings);
            BatchLoader loader = BatchLoader.open(data, views, recipe.masking(), recipe.backbone().gridSize(), loaderConfig);
            return new BatchSource() {
                @Override public int batchesPerEpoch() {
                    return loader.batchesPerEpoch();
                }

                @Override public Item next() {
                    Batch b = loader.next();
                    if (cache == null) {
                        return new Item(b.epoch(), b.batchInEpoch(), b.view(0), b.view(1), b.mask(), b.sampleIndices(), null);
                    }
                    int[] indices = b.sampleIndices();
                    return new Item(b.epoch(), b.batchInEpoch(), b.view(0), null, b.mask(), indices, cache.targets(indices));
                }

                @Override public long badFiles() {
                    return loader.badFiles();
                }

                @Override public String describe() {
                    return data.describe();
                }

                @Override public long images() {
                    return data.size();
                }

                @Override public DataIdentity identity() {
                    return DataIdentity.of(data, config.data());
                }

                @Override public void close() {
                    loader.close();
                }
            };
        };
    }
}
