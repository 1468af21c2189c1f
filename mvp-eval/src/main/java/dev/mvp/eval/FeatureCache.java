package dev.mvp.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.api.io.AtomicFiles;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.WeightFormatException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
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
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Extracted features kept on disk, so that k-NN, linear probes and repeated runs do not recompute them.
 *
 * <p>Layout of one entry, {@code <root>/<key>/}:
 * <pre>
 * manifest.json            what was extracted: extractor, transform, decoder, dataset, image count, undecodable
 *                          images left out ("skipped"), dim, classes, shards
 * shard-00000.safetensors  features float32 [n, D], labels int64 [n], rows in dataset order
 * shard-00001.safetensors  ...
 * </pre>
 * The key is a hash of the extractor's description (which names the weight file with its size and modification
 * time), the transform, the image decoder that reads the images ({@link ImageDecoders#nameOf}; by default the
 * one {@link ImageDecoders#fastest()} gives on this machine, else the commands' {@code --decoder}), and
 * every image path and label of the dataset, so a changed backbone, transform, decoder or dataset gets a new entry
 * instead of stale features. The manifest is written last, atomically: an entry without one is
 * incomplete and is recomputed. An entry that cannot be read back (a truncated or altered shard, a manifest that is
 * not JSON, a missing shard, a shard holding NaN or infinite features or a label outside the manifest's classes) is
 * dropped with one warning line on standard error naming the shard and the problem, and recomputed.
 */
public final class FeatureCache {
    /** Rows per shard file by default (65536 x 768 float32 = 192 MiB). */
    public static final int DEFAULT_SHARD_ROWS = 65536;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String FORMAT = "mvp-features/1";

    private final Path root;
    private final int shardRows;

    public FeatureCache(Path root, int shardRows) {
        this.root = root;
        if (shardRows < 1) throw new IllegalArgumentException("shard rows must be >= 1, got " + shardRows);
        this.shardRows = shardRows;
    }

    public FeatureCache(Path root) {
        this(root, DEFAULT_SHARD_ROWS);
    }

    public Path root() {
        return root;
    }

    /** The folder of the entry for these features (it may not exist yet). */
    public Path entry(FeatureExtractor extractor, ImageDataset dataset) {
        return root.resolve(key(extractor, dataset));
    }

    /** The folder of the entry for these features decoded by {@code decoder} (it may not exist yet). */
    public Path entry(FeatureExtractor extractor, ImageDataset dataset, ImageDecoder decoder) {
        return root.resolve(key(extractor, dataset, decoder));
    }

    /**
     * The cached features when a complete entry exists, else extracts them ({@link Features#extract}) and stores them.
     * Call outside any PointerScope.
     *
     * @param hit set to {@code [true]} when the features came from the cache (may be null)
     */
    public FeatureSet getOrExtract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                   String phase, Progress progress, boolean[] hit) {
        return getOrExtract(extractor, dataset, batchSize, workers, ImageDecoders.fastest(), phase, progress, hit);
    }

    /**
     * As {@link #getOrExtract(FeatureExtractor, ImageDataset, int, int, String, Progress, boolean[])}, decoding with
     * {@code decoder}, which is part of the entry's key and recorded in its manifest.
     */
    public FeatureSet getOrExtract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                   ImageDecoder decoder, String phase, Progress progress, boolean[] hit) {
        return getOrExtract(extractor, dataset, batchSize, workers, decoder, Features.DEFAULT_MAX_BAD_FRACTION, phase,
                progress, hit);
    }

    /**
     * As {@link #getOrExtract(FeatureExtractor, ImageDataset, int, int, ImageDecoder, String, Progress, boolean[])},
     * extracting with {@link Features#extract(FeatureExtractor, ImageDataset, int, int, ImageDecoder, double, String,
     * Progress)}'s {@code maxBadFraction} (not part of the key: a complete entry holds every decodable image).
     */
    public FeatureSet getOrExtract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                   ImageDecoder decoder, double maxBadFraction, String phase, Progress progress,
                                   boolean[] hit) {
        Path dir = entry(extractor, dataset, decoder);
        if (Files.isRegularFile(dir.resolve("manifest.json"))) {
            FeatureSet cached = null;
            try {
                cached = read(dir);
            } catch (RuntimeException e) {
                // a damaged entry (truncated shard, edited manifest, disk error) is dropped and recomputed, once
                String why = e.getMessage() == null ? "unreadable" : e.getMessage().lines().findFirst().orElse("");
                System.err.println("mvp: warning: feature cache entry " + dir + " is damaged (" + why + "); recomputing it");
                drop(dir);
            }
            if (cached != null) {
                if (cached.size() + cached.skipped() == dataset.size() && cached.dim() == extractor.dim()) {
                    if (hit != null) hit[0] = true;
                    return cached;
                }
                cached.close();
            }
        }
        FeatureSet set = Features.extract(extractor, dataset, batchSize, workers, decoder, maxBadFraction, phase, progress);
        Map<String, String> about = new LinkedHashMap<>();
        about.put("extractor", extractor.describe());
        about.put("transform", extractor.transform().describe());
        about.put("decoder", ImageDecoders.nameOf(decoder));
        about.put("dataset", dataset.describe());
        write(dir, set, shardRows, about);
        if (hit != null) hit[0] = false;
        return set;
    }

    /** Deletes an entry's manifest first (so it is incomplete from then on), then its other files. */
    private static void drop(Path dir) {
        try {
            Files.deleteIfExists(dir.resolve("manifest.json"));
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot remove the damaged feature cache entry",
                    dir, e) + "; delete it or run with --no-cache", e);
        }
    }

    /**
     * The cache key of features decoded by the default decoder ({@link ImageDecoders#fastest()}: turbojpeg when
     * libjpeg-turbo is installed, else imageio).
     */
    public static String key(FeatureExtractor extractor, ImageDataset dataset) {
        return key(extractor, dataset, ImageDecoders.resolve("auto"));
    }

    /** The cache key of features decoded by {@code decoder} ({@link ImageDecoders#nameOf} goes into it). */
    public static String key(FeatureExtractor extractor, ImageDataset dataset, ImageDecoder decoder) {
        return key(extractor, dataset, ImageDecoders.nameOf(decoder));
    }

    /**
     * The cache key: 16 hex digits of SHA-256 over the extractor, transform, decoder name ({@code turbojpeg} or
     * {@code imageio}) and dataset (every path and label).
     */
    private static String key(FeatureExtractor extractor, ImageDataset dataset, String decoder) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            update(md, FORMAT);
            update(md, extractor.describe());
            update(md, extractor.transform().describe());
            update(md, "decoder " + decoder);
            update(md, Integer.toString(extractor.dim()));
            update(md, Integer.toString(dataset.size()));
            for (int i = 0; i < dataset.size(); i++) {
                update(md, dataset.path(i).toAbsolutePath().toString());
                update(md, Integer.toString(dataset.label(i)));
            }
            update(md, String.join("\n", dataset.classes()));
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void update(MessageDigest md, String s) {
        md.update(s.getBytes(StandardCharsets.UTF_8));
        md.update((byte) 0);
    }

    /**
     * Writes {@code set} as shards of at most {@code shardRows} rows plus a manifest holding {@code about}, replacing
     * any previous entry in {@code dir}.
     */
    public static void write(Path dir, FeatureSet set, int shardRows, Map<String, String> about) {
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve("manifest.json"));
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("format", FORMAT);
            about.forEach(manifest::put);
            manifest.put("images", set.size());
            manifest.put("skipped", set.skipped());
            manifest.put("dim", set.dim());
            ArrayNode classes = manifest.putArray("classes");
            set.classes().forEach(classes::add);
            ArrayNode shards = manifest.putArray("shards");
            int[] labels = set.labels();
            for (int start = 0, s = 0; start < set.size() || (set.size() == 0 && s == 0); start += shardRows, s++) {
                int n = Math.min(shardRows, set.size() - start);
                String name = String.format("shard-%05d.safetensors", s);
                try (PointerScope scope = new PointerScope()) {
                    long[] l = new long[n];
                    for (int i = 0; i < n; i++) l[i] = labels[start + i];
                    Map<String, Tensor> tensors = new LinkedHashMap<>();
                    tensors.put("features", set.features().narrow(0, start, n).contiguous());
                    tensors.put("labels", Tensors.ofLongs(l, n));
                    SafeTensorsWriter.write(dir.resolve(name), tensors, Map.of("format", FORMAT));
                }
                ObjectNode shard = shards.addObject();
                shard.put("file", name);
                shard.put("rows", n);
                if (set.size() == 0) break;
            }
            AtomicFiles.writeString(dir.resolve("manifest.json"), JSON.writeValueAsString(manifest) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot write features to", dir, e), e);
        }
    }

    /** Opens a shard, wording a disk error without class names. */
    private static SafeTensorsFile openShard(Path file) {
        try {
            return SafeTensorsFile.open(file);
        } catch (UncheckedIOException e) {
            IOException io = e.getCause();
            String why = io == null || io.getMessage() == null ? "read error" : io.getMessage();
            if (io instanceof java.nio.file.NoSuchFileException) why = "shard file is missing";
            else if (io instanceof java.nio.file.AccessDeniedException) why = "permission denied";
            throw new UncheckedIOException(file + ": " + why, io);
        }
    }

    /**
     * Reads an entry written by {@link #write}. Call outside any PointerScope.
     *
     * @throws WeightFormatException naming the file when a shard does not match the manifest, is missing, holds NaN
     *     or infinite features or a label outside {@code [0, classes)}
     */
    public static FeatureSet read(Path dir) {
        Torch.init();
        Path manifestFile = dir.resolve("manifest.json");
        JsonNode manifest;
        try {
            manifest = JSON.readTree(manifestFile.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", manifestFile, e), e);
        }
        if (!FORMAT.equals(manifest.path("format").asText())) {
            throw new WeightFormatException(manifestFile + ": not a feature cache manifest (format '"
                    + manifest.path("format").asText() + "', expected '" + FORMAT + "')");
        }
        int n = manifest.path("images").asInt(-1), dim = manifest.path("dim").asInt(-1);
        if (n < 0 || dim < 1) throw new WeightFormatException(manifestFile + ": bad images/dim " + n + "/" + dim);
        List<String> classes = new ArrayList<>();
        manifest.path("classes").forEach(c -> classes.add(c.asText()));
        Tensor all = torch.empty(new long[] {n, dim});
        int[] labels = new int[n];
        int at = 0;
        try {
            for (JsonNode shard : manifest.path("shards")) {
                Path file = dir.resolve(shard.path("file").asText());
                int rows = shard.path("rows").asInt(-1);
                if (!Files.isRegularFile(file)) throw WeightFormatException.of(file, "shard file is missing");
                try (SafeTensorsFile f = openShard(file); PointerScope scope = new PointerScope()) {
                    Tensor feats = f.tensor("features");
                    Tensor lab = f.tensor("labels");
                    if (feats.dim() != 2 || feats.size(0) != rows || feats.size(1) != dim
                            || feats.scalar_type().value != ScalarType.Float.value) {
                        throw WeightFormatException.of(file, "features", "is " + feats.scalar_type() + " "
                                + Tensors.shapeString(feats) + ", expected float32 [" + rows + ", " + dim + "]");
                    }
                    if (lab.dim() != 1 || lab.size(0) != rows) {
                        throw WeightFormatException.of(file, "labels", "shape " + Tensors.shapeString(lab) + ", expected [" + rows + "]");
                    }
                    if (at + rows > n) throw WeightFormatException.of(file, "more rows than the manifest's " + n);
                    if (!feats.isfinite().all().item_bool()) {
                        long bad = feats.numel() - feats.isfinite().sum().item_long();
                        throw WeightFormatException.of(file, "features", bad + " NaN or infinite value"
                                + (bad == 1 ? "" : "s"));
                    }
                    all.narrow(0, at, rows).copy_(feats);
                    long[] l = Tensors.toLongs(lab);
                    for (int i = 0; i < rows; i++) {
                        if (l[i] < 0 || l[i] >= classes.size()) {
                            throw WeightFormatException.of(file, "labels", "row " + i + " has label " + l[i]
                                    + ", outside [0, " + classes.size() + ")");
                        }
                        labels[at + i] = (int) l[i];
                    }
                    at += rows;
                }
            }
            if (at != n) throw new WeightFormatException(manifestFile + ": shards hold " + at + " rows, the manifest says " + n);
        } catch (RuntimeException e) {
            all.close();
            throw e;
        }
        return new FeatureSet(all, labels, classes, Math.max(0, manifest.path("skipped").asInt(0)));
    }
}
