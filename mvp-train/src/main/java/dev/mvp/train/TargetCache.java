package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.Torch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.LoaderConfig;
import dev.mvp.data.RandomResizedCrop;
import dev.mvp.masking.NoMasking;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The teacher's targets of every image of a dataset, computed once and kept on disk, for users who pre-train many
 * students against one teacher. Valid only when the teacher's view of an image never changes: with
 * {@link #FIXED_CROP} (the central square of each image, no flip) instead of random crops; the masks may still
 * change, since the teacher sees the unmasked view.
 *
 * <p>Layout of the cache folder:
 * <pre>
 * cache.json               identity and layout (below)
 * probe.safetensors        the teacher's targets of a fixed pseudo-random probe batch
 * shard-00000.safetensors  "indices" int64 [n] (dataset indices), "targets" [n, ...] (float32 or float16)
 * </pre>
 * {@code cache.json} names the teacher ({@link Tokenizer#name()}, its input view and target kind), the dataset
 * (size, description, and a SHA-256 over each image's path relative to the folder and its size in index order),
 * the crop, the image decoder ({@code turbojpeg} or {@code imageio}: they differ by a few levels on rare JPEGs, and so
 * do the targets), the dtype and the shards. {@link #open} refuses a cache whose teacher, view, decoder or dataset
 * differ, and re-runs the teacher on the probe: that, not the name, identifies the teacher, so the same weight file
 * at another path is accepted and other weights under the same name are refused.
 * Format 1 (before the decoder was recorded) is refused with a message saying to rebuild it.
 *
 * <p>{@link #targets(int[])} returns new float32 tensors in the caller's scope; the shards stay memory-mapped until
 * {@link #close()}. The first time a shard is read its targets are checked to be finite: a shard holding NaN or
 * infinite values stops the run with one line naming the shard and saying to delete the folder to rebuild it. Thread-compatible (one training thread).
 */
public final class TargetCache implements AutoCloseable {
    /** The fixed augmentation: scale 1 and ratio 1 always fall back to the central square crop of the image. */
    public static final RandomResizedCrop FIXED_CROP = new RandomResizedCrop(1, 1, 1, 1);
    /** Its description in cache.json. */
    static final String FIXED_CROP_NAME = "central square crop (RandomResizedCrop(1, 1, 1, 1)), no flip";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** 2: cache.json records the decoder; 1 (no decoder) is refused. */
    private static final int FORMAT = 2;
    private static final int PROBE_IMAGES = 2;
    private static final double PROBE_TOLERANCE = 1e-4;

    /** What cache.json holds; {@code decoder} is {@link ImageDecoders#nameOf} of the decoder that read the images. */
    public record Manifest(int format, String teacher, String teacherInput, String targets, int imageSize,
                           String crop, String decoder, long images, String dataset, String datasetSha256, String dtype,
                           int imagesPerShard, List<String> shards) {}

    private final Path dir;
    private final Manifest manifest;
    private final List<SafeTensorsFile> files = new ArrayList<>();
    private final List<Tensor> shardTargets = new ArrayList<>();
    private final int[] shardOf;
    private final int[] rowOf;
    /** Shards whose targets were checked to be finite (each once, when first read). */
    private final boolean[] checked;

    private TargetCache(Path dir, Manifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
        this.shardOf = new int[Math.toIntExact(manifest.images())];
        this.rowOf = new int[shardOf.length];
        Arrays.fill(shardOf, -1);
        this.checked = new boolean[manifest.shards().size()];
        for (int s = 0; s < manifest.shards().size(); s++) {
            SafeTensorsFile f = SafeTensorsFile.open(dir.resolve(manifest.shards().get(s)));
            files.add(f);
            shardTargets.add(f.tensor("targets")); // long-lived views of the mapping, freed by close()
            long[] indices;
            try (PointerScope scope = new PointerScope()) {
                Tensor t = f.tensor("indices").contiguous();
                indices = new long[(int) t.numel()];
                t.data_ptr_long().get(indices);
            }
            for (int r = 0; r < indices.length; r++) {
                int i = Math.toIntExact(indices[r]);
                if (i < 0 || i >= shardOf.length || shardOf[i] >= 0) {
                    throw new IllegalArgumentException("teacher cache " + dir + ": shard " + manifest.shards().get(s)
                            + " holds image index " + i + " twice or out of range [0, " + shardOf.length + ")");
                }
                shardOf[i] = s;
                rowOf[i] = r;
            }
        }
        for (int i = 0; i < shardOf.length; i++) {
            if (shardOf[i] < 0) throw new IllegalArgumentException("teacher cache " + dir + " has no targets for image " + i);
        }
    }

    /** The cache folder. */
    public Path dir() {
        return dir;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** Images cached. */
    public long size() {
        return manifest.images();
    }

    /**
     * The cached targets of the given dataset indices: a new float32 tensor [B, ...] (the teacher's target shape) in
     * the caller's scope.
     */
    public Tensor targets(int[] indices) {
        TensorVector rows = new TensorVector();
        for (int i : indices) {
            if (i < 0 || i >= shardOf.length) {
                throw new IndexOutOfBoundsException("image index " + i + " not in the teacher cache of " + shardOf.length);
            }
            if (!checked[shardOf[i]]) checkFinite(shardOf[i]);
            rows.push_back(shardTargets.get(shardOf[i]).select(0, rowOf[i]));
        }
        return torch.stack(rows).to(ScalarType.Float);
    }

    /**
     * Refuses a shard whose targets hold NaN or infinite values (a damaged cache: training on them would only fail
     * later with a non-finite loss). One {@code isfinite().all()} over the shard, the first time one of its rows is read.
     *
     * @throws IllegalStateException one line naming the shard and saying to delete the cache folder
     */
    private void checkFinite(int shard) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = shardTargets.get(shard);
            if (!t.isfinite().all().item_bool()) {
                long bad = t.numel() - t.isfinite().sum().item_long();
                throw new IllegalStateException("teacher cache " + dir + ": " + dir.resolve(manifest.shards().get(shard))
                        + ": tensor 'targets' holds " + bad + " NaN or infinite value" + (bad == 1 ? "" : "s")
                        + ": the cache is damaged; delete " + dir + " to rebuild it");
            }
        }
        checked[shard] = true;
    }

    @Override public void close() {
        for (Tensor t : shardTargets) t.close();
        shardTargets.clear();
        for (SafeTensorsFile f : files) f.close();
        files.clear();
    }

    /** Opens a valid cache, or builds it (see {@link #build}) when the folder holds none. */
    public static TargetCache openOrBuild(Path dir, Tokenizer teacher, ImageDataset data, boolean half, int workers,
                                          Consumer<String> progress) {
        return openOrBuild(dir, teacher, data, half, workers, ImageDecoders.fastest(), progress);
    }

    /** As {@link #openOrBuild(Path, Tokenizer, ImageDataset, boolean, int, Consumer)}, decoding with {@code decoder}. */
    public static TargetCache openOrBuild(Path dir, Tokenizer teacher, ImageDataset data, boolean half, int workers,
                                          ImageDecoder decoder, Consumer<String> progress) {
        if (Files.isRegularFile(dir.resolve("cache.json"))) return open(dir, teacher, data, decoder);
        return build(dir, teacher, data, half, workers, decoder, progress);
    }

    /** As {@link #open(Path, Tokenizer, ImageDataset, ImageDecoder)} for the default decoder ({@link ImageDecoders#fastest()}). */
    public static TargetCache open(Path dir, Tokenizer teacher, ImageDataset data) {
        return open(dir, teacher, data, ImageDecoders.fastest());
    }

    /**
     * Opens a cache after checking that it was made by this teacher (view, target kind, and its targets of the
     * probe batch to 1e-4; not the name, which holds the weight file's path) for this dataset (size and fingerprint), its images read by the same kind of decoder as
     * {@code decoder} ({@link ImageDecoders#nameOf}).
     *
     * @throws IllegalArgumentException one line naming the cache and what differs
     */
    public static TargetCache open(Path dir, Tokenizer teacher, ImageDataset data, ImageDecoder decoder) {
        Path file = dir.resolve("cache.json");
        Manifest m;
        try {
            m = JSON.readValue(file.toFile(), Manifest.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("teacher cache " + dir + " is damaged: "
                    + dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e) + "; delete " + dir + " to rebuild it", e);
        }
        String where = "teacher cache " + dir + " ";
        require(m.format() != 1, where + "has format 1, which does not record the image decoder its targets were computed"
                + " with; this library reads format " + FORMAT + ": delete " + dir + " (or choose another --teacher-cache"
                + " folder) to rebuild it");
        require(m.format() == FORMAT, where + "has format " + m.format() + ", this library reads " + FORMAT);
        require(m.teacherInput().equals(teacher.inputSpec().toString()), where + "was made for teacher input "
                + m.teacherInput() + ", not " + teacher.inputSpec());
        require(m.targets().equals(teacher.targetSpec().toString()), where + "holds targets " + m.targets() + ", the teacher makes "
                + teacher.targetSpec());
        require(m.crop().equals(FIXED_CROP_NAME), where + "was made with crop '" + m.crop() + "'");
        String decoderName = ImageDecoders.nameOf(decoder);
        require(decoderName.equals(m.decoder()), where + "was made with decoder " + m.decoder() + ", this run decodes with "
                + decoderName + ": pass --decoder " + m.decoder() + " (or choose another --teacher-cache folder)");
        require(m.images() == data.size(), where + "holds " + m.images() + " images, the dataset " + data.size()
                + " (" + data.describe() + ")");
        String fingerprint = fingerprint(data);
        require(m.datasetSha256().equals(fingerprint), where + "was made for another dataset (its files or sizes differ: "
                + m.dataset() + ")");
        try (SafeTensorsFile probeFile = damagedIfUnreadable(dir, () -> SafeTensorsFile.open(dir.resolve("probe.safetensors")));
             PointerScope scope = new PointerScope()) {
            Tensor expected = probeFile.tensor("targets");
            Tensor actual = probeTargets(teacher, m.imageSize());
            double diff = actual.sub(expected).abs().max().item_double();
            // the teacher's name is not its identity: it holds the weight file's path, and the same file at another
            // path is the same teacher (the outputs on the probe are)
            require(diff <= PROBE_TOLERANCE, where + (m.teacher().equals(teacher.name())
                    ? "was made by a teacher with other weights under the same name"
                    : "was made by teacher '" + m.teacher() + "', not '" + teacher.name() + "'")
                    + ": its targets of the probe batch differ by " + diff + " (> " + PROBE_TOLERANCE + ")");
        }
        return damagedIfUnreadable(dir, () -> new TargetCache(dir, m));
    }

    /**
     * {@code open.get()}, with a file of the cache that is missing or unreadable (a shard or the probe deleted or
     * truncated) said as a damaged cache: one line naming the file, the reason and the remedy.
     */
    private static <T> T damagedIfUnreadable(Path dir, java.util.function.Supplier<T> open) {
        try {
            return open.get();
        } catch (UncheckedIOException | dev.mvp.models.io.WeightFormatException e) {
            throw new IllegalArgumentException("teacher cache " + dir + " is damaged: " + e.getMessage()
                    + "; delete " + dir + " to rebuild it", e);
        }
    }

    /**
     * Runs the teacher once over every image of the dataset, each cropped by {@link #FIXED_CROP} and prepared as
     * {@code teacher.inputSpec()} says, and writes the shards, the probe and cache.json (last: a folder without it is
     * no cache). Returns the opened cache.
     *
     * @param half store the targets as float16 (half the disk; targets rounded to about 3 significant digits)
     */
    public static TargetCache build(Path dir, Tokenizer teacher, ImageDataset data, boolean half, int workers,
                                    Consumer<String> progress) {
        return build(dir, teacher, data, half, workers, ImageDecoders.fastest(), progress);
    }

    /** As {@link #build(Path, Tokenizer, ImageDataset, boolean, int, Consumer)}, decoding with {@code decoder}. */
    public static TargetCache build(Path dir, Tokenizer teacher, ImageDataset data, boolean half, int workers,
                                    ImageDecoder decoder, Consumer<String> progress) {
        Torch.init();
        int imagesPerShard = 4096, chunk = 32;
        int n = data.size();
        List<String> shards = new ArrayList<>();
        boolean existed = Files.isDirectory(dir);
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve("cache.json"));
            removePartial(dir, true); // shards of an earlier build that was killed (SIGKILL leaves them)
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot create teacher cache", dir, e), e);
        }
        // SIGTERM / Ctrl-C or an error while building: no half-built cache is left (its shards without cache.json)
        java.util.concurrent.atomic.AtomicInteger built = new java.util.concurrent.atomic.AtomicInteger();
        Thread hook = new Thread(() -> {
            if (Files.exists(dir.resolve("cache.json"))) return; // finished just now: a complete cache stays
            int removed = removePartial(dir, existed);
            progress.accept("teacher cache " + dir + ": stopped at " + built.get() + " of " + n + " images (SIGTERM or "
                    + "Ctrl-C)" + (removed > 0 ? "; removed its " + removed + " partial file" + (removed == 1 ? "" : "s") : "")
                    + "; the next run with this --teacher-cache builds it again");
        }, "mvp-teacher-cache-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        Manifest m;
        try {
            // batches of one image: an epoch visits every image exactly once (nothing is dropped); they are stacked
            // into chunks for the teacher
            LoaderConfig loaderConfig = LoaderConfig.defaults().withBatchSize(1).withSeed(0).withThreads(Math.max(1, workers), 8)
                    .withMaxBadFraction(0).withAugmentation(FIXED_CROP, 0).withWarnings(progress).withDecoder(decoder);
            long started = System.nanoTime();
            try (BatchLoader loader = BatchLoader.open(data, List.of(teacher.inputSpec()), new NoMasking(), teacher.gridSize(), loaderConfig)) {
                List<Tensor> shardRows = new ArrayList<>();
                List<Long> shardIndices = new ArrayList<>();
                int done = 0;
                while (done < n) {
                    try (PointerScope scope = new PointerScope()) {
                        int size = Math.min(chunk, n - done);
                        TensorVector images = new TensorVector();
                        long[] indices = new long[size];
                        for (int k = 0; k < size; k++) {
                            var batch = loader.next();
                            images.push_back(batch.view(0).clone()); // the clone lets the loader reuse its buffer
                            batch.view(0).close();
                            batch.mask().close();
                            indices[k] = batch.sampleIndices()[0];
                        }
                        Tensor targets;
                        try (NoGradGuard noGrad = new NoGradGuard()) {
                            targets = teacher.targets(torch.cat(images));
                        }
                        Tensor stored = (half ? targets.to(ScalarType.Half) : targets).contiguous();
                        for (int k = 0; k < size; k++) {
                            Tensor row = stored.select(0, k).clone();
                            row.retainReference(); // outlives this scope until its shard is written
                            shardRows.add(row);
                            shardIndices.add(indices[k]);
                        }
                        done += size;
                        built.set(done);
                    }
                    if (shardRows.size() >= imagesPerShard || done == n) {
                        String name = String.format("shard-%05d.safetensors", shards.size());
                        writeShard(dir.resolve(name), shardRows, shardIndices);
                        for (Tensor t : shardRows) t.releaseReference();
                        shardRows.clear();
                        shardIndices.clear();
                        shards.add(name);
                        progress.accept(String.format("teacher cache: %d of %d images (%.0f s)", done, n,
                                (System.nanoTime() - started) / 1e9));
                    }
                }
            }
            int imageSize = teacher.inputSpec().size();
            try (PointerScope scope = new PointerScope()) {
                SafeTensorsWriter.write(dir.resolve("probe.safetensors"), Map.of("targets", probeTargets(teacher, imageSize)));
            }
            m = new Manifest(FORMAT, teacher.name(), teacher.inputSpec().toString(), teacher.targetSpec().toString(),
                    imageSize, FIXED_CROP_NAME, ImageDecoders.nameOf(decoder), n, data.describe(), fingerprint(data),
                    half ? "float16" : "float32", imagesPerShard, shards);
            try {
                Checkpoints.writeAtomically(dir.resolve("cache.json"), JSON.writeValueAsString(m) + "\n");
            } catch (IOException e) {
                throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot write", dir.resolve("cache.json"), e), e);
            }
        } catch (RuntimeException | Error e) {
            removePartial(dir, existed);
            throw e;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
        return new TargetCache(dir, m);
    }

    /**
     * Removes what an unfinished {@link #build} wrote in {@code dir} (shards, the probe, their temporary files;
     * nothing once cache.json, written last, is there) and the folder itself if the build created it and it is now empty.
     * Returns the number of files removed. A shard still being renamed into place is caught by a second pass.
     */
    private static int removePartial(Path dir, boolean existed) {
        if (Files.exists(dir.resolve("cache.json"))) return 0;
        int removed = 0;
        for (int pass = 0; pass < 3; pass++) {
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if ((name.startsWith("shard-") || name.startsWith("probe.safetensors")) && Files.deleteIfExists(f)) removed++;
                }
            } catch (IOException | UncheckedIOException e) {
                break; // the folder is gone or unreadable: nothing more to tidy
            }
        }
        if (!existed) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException notEmpty) {
                // holds other files: kept
            }
        }
        return removed;
    }

    private static void writeShard(Path file, List<Tensor> rows, List<Long> indices) {
        try (PointerScope scope = new PointerScope()) {
            TensorVector v = new TensorVector();
            for (Tensor t : rows) v.push_back(t);
            long[] idx = indices.stream().mapToLong(Long::longValue).toArray();
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("targets", torch.stack(v));
            tensors.put("indices", dev.mvp.api.Tensors.ofLongs(idx, idx.length));
            SafeTensorsWriter.write(file, tensors, Map.of("format", "mvp-teacher-cache"));
        }
    }

    /** The teacher's float32 targets of a fixed pseudo-random batch (Java's SplittableRandom, so the same everywhere). */
    private static Tensor probeTargets(Tokenizer teacher, int imageSize) {
        SplittableRandom rng = new SplittableRandom(0x70726F6265L);
        float[] pixels = new float[PROBE_IMAGES * 3 * imageSize * imageSize];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) (rng.nextDouble() * 4 - 2);
        Tensor images = dev.mvp.api.Tensors.ofFloats(pixels, PROBE_IMAGES, 3, imageSize, imageSize);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            return teacher.targets(images).to(ScalarType.Float).contiguous();
        }
    }

    /** SHA-256 over each image's path (relative to the common root when possible) and size, in index order. */
    static String fingerprint(ImageDataset data) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            Path root = data.size() == 0 ? null : data.path(0).toAbsolutePath().getParent();
            for (int i = 0; i < data.size(); i++) {
                Path p = data.path(i).toAbsolutePath();
                while (root != null && !p.startsWith(root)) root = root.getParent();
            }
            for (int i = 0; i < data.size(); i++) {
                Path p = data.path(i).toAbsolutePath();
                String rel = root == null ? p.toString() : root.relativize(p).toString();
                long size;
                try {
                    size = Files.size(p);
                } catch (IOException e) {
                    size = -1;
                }
                sha.update((rel + "\u0000" + size + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
