package dev.mvp.eval;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.data.EvalTransform;
import dev.mvp.models.VitConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the {@link FeatureExtractor} a command line names: a backbone file or folder, or {@code raw-pixels}. */
public final class Extractors {
    /** The name that selects {@link RawPixels}. */
    public static final String RAW_PIXELS = "raw-pixels";

    private Extractors() {}

    /**
     * What to extract.
     *
     * @param heads     attention heads (0: inferred, see {@link BackboneFiles})
     * @param imageSize input side (0: the backbone's own; raw pixels: 32, CIFAR's size)
     * @param cropPct   centre-crop fraction of the evaluation transform (0: 0.875 for backbones, 1 for raw pixels)
     * @param spec      pooling and block (ignored for raw pixels)
     */
    public record Options(int heads, int imageSize, double cropPct, FeatureSpec spec) {
        public Options {
            if (heads < 0 || imageSize < 0) throw new IllegalArgumentException("heads and image size must be >= 0");
            if (!(cropPct == 0 || cropPct > 0 && cropPct <= 1)) { // NaN too: it used to fall back to the default
                throw new IllegalArgumentException("--crop-pct must be in (0, 1] (0: the default), got " + cropPct);
            }
            java.util.Objects.requireNonNull(spec, "spec");
        }

        public static Options defaults() {
            return new Options(0, 0, 0, FeatureSpec.cls());
        }
    }

    /**
     * The extractor for {@code backbone}: {@link #RAW_PIXELS} (pixels in [0, 1], no mean/std normalisation, so the
     * baseline is the classic raw-pixel one), or a weight file / checkpoint folder loaded by {@link BackboneFiles}
     * (ImageNet normalisation, as BEiT/MVP students are trained). Call outside any PointerScope.
     */
    public static FeatureExtractor open(String backbone, Options options) {
        if (backbone.equals(RAW_PIXELS)) {
            int size = options.imageSize() > 0 ? options.imageSize() : 32;
            double crop = options.cropPct() > 0 ? options.cropPct() : 1.0;
            return new RawPixels(new EvalTransform(size, crop, Interpolation.BICUBIC, ImageNormalization.UNIT));
        }
        Path source = Path.of(backbone);
        VitConfig full = BackboneFiles.inferConfig(source, options.heads());
        int block = options.spec().resolve(full.depth());
        BackboneFiles.Loaded loaded = BackboneFiles.load(source, new BackboneFiles.Options(full.heads(),
                options.imageSize(), block + 1));
        double crop = options.cropPct() > 0 ? options.cropPct() : 0.875;
        EvalTransform transform = new EvalTransform(loaded.model().imageSize(), crop, Interpolation.BICUBIC,
                ImageNormalization.IMAGENET);
        return new VitFeatures(loaded.model(), options.spec().pooling(), transform, identity(loaded.weightFile())
                + ", heads " + full.heads() + ", block " + block + " of " + full.depth());
    }

    /**
     * A file's identity for cache keys and logs: absolute path, size and modification time (ISO-8601 UTC, to the
     * millisecond, e.g. {@code 2026-12-04T17:03:12.464Z}).
     */
    public static String identity(Path file) {
        try {
            return file.toAbsolutePath().normalize() + " (" + Files.size(file) + " bytes, modified "
                    + Files.getLastModifiedTime(file).toInstant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS) + ")";
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e), e);
        }
    }
}
