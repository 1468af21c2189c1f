package dev.mvp.cli;

import dev.mvp.data.DataException;
import dev.mvp.eval.Features;
import dev.mvp.eval.TooManyBadImages;
import picocli.CommandLine.Option;

/**
 * {@code --max-bad-fraction F}, the same flag on every evaluation command that reads images (knn, linprobe with and
 * without --augment, finetune, segment, attention) and on targets: an undecodable image is warned about (one line) and left out;
 * more than this share of a split's images stops the command (exit 1) naming the flag. NaN, Infinity and values
 * outside [0, 1] are usage errors (exit 2).
 */
final class BadImagesOption {

    @Option(names = "--max-bad-fraction", paramLabel = "F", defaultValue = "" + Features.DEFAULT_MAX_BAD_FRACTION,
            description = "Stop when more than this fraction of a split's images cannot be decoded (each is warned "
                    + "about and left out); 0: stop at the first.")
    double maxBadFraction;

    /** The value, checked: a usage error unless it is in [0, 1]. */
    double checked() {
        return Flags.probability("--max-bad-fraction", maxBadFraction);
    }

    /** The one-line error for {@code e}, naming the flag: {@code <phase>: N of the M images could not be decoded ...}. */
    static DataException explain(TooManyBadImages e, String phase) {
        return new DataException(String.format(java.util.Locale.ROOT, "%s: %d of the %d images could not be decoded "
                + "(the %s above), more than --max-bad-fraction %s allows, in %s; last: %s", phase, e.bad(),
                e.images(), e.bad() == 1 ? "warning" : e.bad() + " warnings", e.maxBadFraction(), e.dataset(), e.last()), e);
    }
}
