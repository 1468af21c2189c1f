package dev.mvp.cli;

import dev.mvp.api.Torch;
import dev.mvp.data.ImageDataset;
import dev.mvp.eval.Extractors;
import dev.mvp.eval.FeatureCache;
import dev.mvp.eval.FeatureExtractor;
import dev.mvp.eval.FeatureSet;
import dev.mvp.eval.FeatureSpec;
import dev.mvp.eval.Features;
import dev.mvp.eval.Progress;
import dev.mvp.eval.TooManyBadImages;
import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.data.DataException;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/** The flags shared by the commands that evaluate frozen features (knn, linprobe): backbone, features, decoder, cache, bad images. */
final class FeatureOptions {

    @Option(names = "--backbone", paramLabel = "FILE|DIR|raw-pixels", required = true,
            description = "Backbone weights in timm's or BEiT's layout (safetensors or .pth; e.g. from ./mvp export), a "
                    + "pretrain run folder or checkpoint folder, or 'raw-pixels' (the pixels themselves, in [0, 1]).")
    String backbone;

    @Option(names = "--pooling", paramLabel = "cls|mean|both", defaultValue = "cls",
            description = "Image feature: the CLS token, the mean of the patch tokens (with fc_norm if the model has it), or both concatenated.")
    String pooling;

    @Option(names = "--block", paramLabel = "N", defaultValue = "-1",
            description = "Block whose output is read, 0-based; negative counts from the end (-1: the last). The final norm applies.")
    int block;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "0",
            description = "Attention heads (0: from the file's metadata, a run's preset or a BEiT relative position table, else assumed: width / 64, 16 for ViT-H/g/G).")
    int heads;

    @Option(names = "--img-size", paramLabel = "N", defaultValue = "0",
            description = "Input side (0: the backbone's own size; raw-pixels: 32). Position embeddings are resampled to it.")
    int imageSize;

    @Option(names = "--crop-pct", paramLabel = "F", defaultValue = "0",
            description = "Centre-crop fraction: resize the shorter side to img-size / F, crop img-size (0: 0.875, DINO/MAE's; raw-pixels: 1).")
    double cropPct;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "64", description = "Images per forward pass.")
    int batchSize;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "libtorch/OpenBLAS threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int threads;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "0", description = "Image decoding threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int workers;

    @Option(names = "--cache", paramLabel = "DIR", defaultValue = RunFolders.FEATURE_CACHE,
            description = "Feature cache folder (safetensors shards keyed by backbone file, transform, decoder and "
                    + "dataset); the default is relative to the working directory, as the run folders are.")
    Path cache;

    @Option(names = "--no-cache", description = "Neither read nor write the feature cache.")
    boolean noCache;

    @Mixin BadImagesOption badImages;

    @Mixin DecoderOption decoderOption;

    private ImageDecoder decoder;

    /**
     * Checks every flag before any work (usage errors, exit 2, naming the flag): counts, --crop-pct (0 or (0, 1],
     * never NaN), --max-bad-fraction, --heads and --img-size against the backbone file (a multiple of its patch size,
     * see {@link Flags#backbone}), --block against its depth, and the evaluation transform the two sizes make.
     */
    void validate() {
        if (backbone.isBlank()) {
            throw new Main.UsageException("--backbone: an empty path; give a weight file, a run or checkpoint folder, or "
                    + Extractors.RAW_PIXELS);
        }
        Flags.atLeast("--batch-size", batchSize, 1);
        Flags.threads("--threads", threads);
        Flags.threads("--workers", workers);
        Flags.atLeast("--heads", heads, 0);
        Flags.atLeast("--img-size", imageSize, 0);
        if (!(cropPct == 0 || cropPct > 0 && cropPct <= 1)) {
            throw new Main.UsageException("--crop-pct must be 0 (the default) or in (0, 1], got " + cropPct);
        }
        badImages.checked();
        decoderOption.checkedName();
        FeatureSpec spec = spec();
        boolean raw = backbone.equals(Extractors.RAW_PIXELS);
        int size;
        if (raw) {
            Flags.intRange("--img-size", imageSize, 0, Flags.MAX_RAW_IMAGE_SIZE);
            size = imageSize > 0 ? imageSize : 32;
        } else {
            if (!java.nio.file.Files.exists(Path.of(backbone))) {
                throw Main.noSuch("--backbone", Path.of(backbone), "file or folder (or give raw-pixels)");
            }
            dev.mvp.models.VitConfig config = Flags.backbone(Path.of(backbone), heads, imageSize);
            try {
                spec.resolve(config.depth());
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("--block: " + e.getMessage());
            }
            size = imageSize > 0 ? imageSize : config.imageSize();
        }
        double crop = cropPct > 0 ? cropPct : raw ? 1.0 : 0.875;
        Flags.transform(() -> new EvalTransform(size, crop, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
    }

    /** The checked {@code --max-bad-fraction}. */
    double maxBadFraction() {
        return badImages.checked();
    }

    /** The decoder {@code --decoder} names, made once (exit 1 for turbojpeg without libturbojpeg). */
    ImageDecoder decoder() {
        if (decoder == null) decoder = decoderOption.open();
        return decoder;
    }

    /** Its name for results.json and logs: turbojpeg or imageio. */
    String decoderName() {
        return ImageDecoders.nameOf(decoder());
    }

    FeatureSpec spec() {
        try {
            return new FeatureSpec(FeatureSpec.Pooling.parse(pooling), block);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--pooling: " + e.getMessage());
        }
    }

    /** Sets the thread counts, makes the decoder and opens the extractor. */
    FeatureExtractor open() {
        validate();
        FeatureSpec spec = spec();
        decoder();
        Torch.setThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        try {
            return Flags.transform(() -> Extractors.open(backbone, new Extractors.Options(heads, imageSize, cropPct, spec)));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("block ")) throw new Main.UsageException("--block: " + e.getMessage());
            throw e;
        }
    }

    int workerCount() {
        return workers > 0 ? workers : Runtime.getRuntime().availableProcessors();
    }

    /** Features of {@code dataset}, from the cache when possible; says which on {@code out}. */
    FeatureSet features(FeatureExtractor extractor, ImageDataset dataset, String phase, PrintWriter out) {
        try {
            return featuresOrStop(extractor, dataset, phase, out);
        } catch (TooManyBadImages e) {
            throw BadImagesOption.explain(e, phase);
        }
    }

    private FeatureSet featuresOrStop(FeatureExtractor extractor, ImageDataset dataset, String phase, PrintWriter out) {
        long t0 = System.nanoTime();
        Progress progress = lines(out);
        FeatureSet set;
        if (noCache) {
            set = Features.extract(extractor, dataset, batchSize, workerCount(), decoder(), maxBadFraction(), phase, progress);
            out.printf("%s: %d x %d extracted in %.1f s%n", phase, set.size(), set.dim(), (System.nanoTime() - t0) / 1e9);
        } else {
            FeatureCache c = new FeatureCache(cache);
            boolean[] hit = new boolean[1];
            set = c.getOrExtract(extractor, dataset, batchSize, workerCount(), decoder(), maxBadFraction(), phase, progress, hit);
            out.printf("%s: %d x %d %s in %.1f s (%s)%n", phase, set.size(), set.dim(), hit[0] ? "read from the cache" : "extracted",
                    (System.nanoTime() - t0) / 1e9, c.entry(extractor, dataset, decoder()));
        }
        if (set.skipped() > 0) {
            out.printf("%s: %d undecodable image%s skipped (not in the features)%n", phase, set.skipped(), set.skipped() == 1 ? "" : "s");
        }
        out.flush();
        return set;
    }

    /** About ten progress lines per phase. */
    static Progress lines(PrintWriter out) {
        long[] next = {0};
        String[] current = {""};
        return (phase, done, total) -> {
            if (!phase.equals(current[0])) {
                current[0] = phase;
                next[0] = 0;
            }
            if (done >= next[0] || done == total) {
                out.printf("  %s %d/%d%n", phase, done, total);
                out.flush();
                next[0] = done + Math.max(1, total / 10);
            }
        };
    }
}
