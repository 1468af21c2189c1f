package dev.mvp.cli;

import dev.mvp.eval.BackboneFiles;
import dev.mvp.models.VitConfig;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Up-front checks of numeric flag values for the evaluation commands (knn, linprobe, finetune, segment, attention, targets):
 * each failure is a {@link Main.UsageException} (exit 2) naming the flag, the allowed range and the value given, so
 * NaN, Infinity and out-of-range values are refused before any work instead of being silently replaced, leaking
 * libtorch's messages or failing after training.
 */
final class Flags {
    private Flags() {}

    /** The largest input side: 1024 pixels (BEiT/MVP segment at 512, classify at 224), as for pre-training. */
    static final int MAX_IMAGE_SIZE = dev.mvp.train.PretrainConfig.MAX_IMAGE_SIZE;

    /** The most patches per side (64 x 64 = 4096 tokens; attention memory grows with its square). */
    static final int MAX_GRID = dev.mvp.train.PretrainConfig.MAX_GRID;

    /** The largest --img-size of raw-pixels features (3 x 256 x 256 floats per image). */
    static final int MAX_RAW_IMAGE_SIZE = 256;

    /** The largest learning rate, weight decay or loss weight a flag takes (1000), as for pre-training. */
    static final double MAX_RATE = dev.mvp.train.PretrainConfig.MAX_RATE;

    /** A finite {@code flag} in (0, {@link #MAX_RATE}]. */
    static double rate(String flag, double value) {
        return range(flag, value, 0, false, MAX_RATE, true);
    }

    /** A finite {@code flag} in [0, {@link #MAX_RATE}]. */
    static double rateOrZero(String flag, double value) {
        return range(flag, value, 0, true, MAX_RATE, true);
    }

    /** {@code flag} in {@code min..max}. */
    static int intRange(String flag, int value, int min, int max) {
        if (value < min || value > max) {
            throw new Main.UsageException(flag + " must be in " + min + ".." + max + ", got " + value);
        }
        return value;
    }

    /**
     * The most threads {@code --threads} and {@code --workers} take: 4 x the available processors. More only adds
     * scheduling overhead (and {@code --threads 100000} made the JVM start thousands of threads).
     */
    static int maxThreads() {
        return 4 * Runtime.getRuntime().availableProcessors();
    }

    /** The help text's words for the bound: appended to --threads and --workers descriptions. */
    static final String THREADS_BOUND = "; at most 4 x the available processors";

    /** {@code flag} ({@code --threads} or {@code --workers}): 0 (all cores) up to {@link #maxThreads()}. */
    static int threads(String flag, int value) {
        int max = maxThreads();
        if (value < 0 || value > max) {
            throw new Main.UsageException(flag + " must be in 0.." + max + " (0: all cores; at most 4 x the "
                    + Runtime.getRuntime().availableProcessors() + " available processors), got " + value);
        }
        return value;
    }

    /** {@code flag >= min}. */
    static int atLeast(String flag, long value, int min) {
        if (value < min || value > Integer.MAX_VALUE) {
            throw new Main.UsageException(flag + " must be >= " + min + ", got " + value);
        }
        return (int) value;
    }

    /**
     * A finite {@code flag} in the interval from {@code lo} to {@code hi}, each end included or not
     * ({@code hi} may be infinite: no upper bound).
     */
    static double range(String flag, double value, double lo, boolean loIncluded, double hi, boolean hiIncluded) {
        boolean ok = Double.isFinite(value) && (loIncluded ? value >= lo : value > lo)
                && (Double.isInfinite(hi) || (hiIncluded ? value <= hi : value < hi));
        if (!ok) throw new Main.UsageException(flag + " must be " + describe(lo, loIncluded, hi, hiIncluded) + ", got " + value);
        return value;
    }

    /** A finite {@code flag >= 0}. */
    static double nonNegative(String flag, double value) {
        return range(flag, value, 0, true, Double.POSITIVE_INFINITY, false);
    }

    /** A finite {@code flag > 0}. */
    static double positive(String flag, double value) {
        return range(flag, value, 0, false, Double.POSITIVE_INFINITY, false);
    }

    /** A probability: finite, in [0, 1]. */
    static double probability(String flag, double value) {
        return range(flag, value, 0, true, 1, true);
    }

    static String describe(double lo, boolean loIncluded, double hi, boolean hiIncluded) {
        if (Double.isInfinite(hi)) return "a finite number " + (loIncluded ? ">= " : "> ") + number(lo);
        return "in " + (loIncluded ? "[" : "(") + number(lo) + ", " + number(hi) + (hiIncluded ? "]" : ")");
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%s", v);
    }

    /**
     * Checks {@code --heads} and {@code --img-size} against a backbone file before anything is loaded: the heads must
     * divide the width and agree with what the file states; the image size (0: the backbone's own) must be a multiple
     * of the patch size, at least one patch, at most {@link #MAX_IMAGE_SIZE} pixels and {@link #MAX_GRID} patches a
     * side. Returns the file's configuration (heads resolved). A file that cannot be read stays a runtime error.
     */
    static VitConfig backbone(Path backbone, int heads, int imageSize) {
        atLeast("--heads", heads, 0);
        atLeast("--img-size", imageSize, 0);
        VitConfig config;
        try {
            config = BackboneFiles.inferConfig(backbone, heads);
        } catch (IllegalArgumentException e) {
            if (heads > 0 && e.getMessage() != null && e.getMessage().contains("heads")) {
                throw new Main.UsageException("--heads " + heads + ": " + e.getMessage());
            }
            throw e;
        }
        imageSize("--img-size", imageSize, config.patchSize());
        return config;
    }

    /**
     * {@code make.get()}, with an {@link IllegalArgumentException} whose message starts with {@code --crop-pct} or
     * {@code --img-size} (as {@link dev.mvp.data.EvalTransform}'s do) turned into a usage error.
     */
    static <T> T transform(java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            if (m != null && (m.startsWith("--crop-pct") || m.startsWith("--img-size"))) throw new Main.UsageException(m);
            throw e;
        }
    }

    /** {@code flag} is 0 or a multiple of {@code patch} in {@code patch..min(1024, 64 patch)}. */
    static void imageSize(String flag, int imageSize, int patch) {
        int max = Math.min(MAX_IMAGE_SIZE, MAX_GRID * patch) / patch * patch;
        if (imageSize == 0) return;
        if (imageSize < patch || imageSize > max || imageSize % patch != 0) {
            throw new Main.UsageException(flag + " must be 0 (the backbone's own) or a multiple of the patch size " + patch
                    + " in " + patch + ".." + max + ", got " + imageSize);
        }
    }
}
