package dev.mvp.eval;

import dev.mvp.data.DataException;

import java.util.Locale;
import java.util.function.Consumer;

/**
 * The evaluation loader stopped because more than the allowed fraction of a dataset's images could not be decoded.
 * {@link #bad()} is the number of images that were warned about (one warning line each), counted after the loader
 * stopped, so it agrees with the warnings printed, which the loader's own message (the count when the first worker
 * gave up) need not. Command lines rephrase it with their flag's name.
 */
public final class TooManyBadImages extends DataException {
    private final long bad;
    private final int images;
    private final double maxBadFraction;
    private final String dataset;
    private final String last;

    public TooManyBadImages(long bad, int images, double maxBadFraction, String dataset, String last, Throwable cause) {
        super(String.format(Locale.ROOT, "%d of the %d images could not be decoded (each warned above), more than the "
                + "allowed fraction %s, in %s; last: %s", bad, images, maxBadFraction, dataset, last), cause);
        this.bad = bad;
        this.images = images;
        this.maxBadFraction = maxBadFraction;
        this.dataset = dataset;
        this.last = last;
    }

    public long bad() { return bad; }

    public int images() { return images; }

    public double maxBadFraction() { return maxBadFraction; }

    public String dataset() { return dataset; }

    /** The last undecodable file and why. */
    public String last() { return last; }

    /** Counts the loader's warnings (one per undecodable file) and passes them on. */
    public static final class Counter implements Consumer<String> {
        private static final String PREFIX = "skipping undecodable image ";
        private final Consumer<String> next;
        private long count;
        private String last = "";

        public Counter(Consumer<String> next) {
            this.next = next;
        }

        @Override public void accept(String warning) {
            synchronized (this) {
                count++;
                last = warning.startsWith(PREFIX) ? warning.substring(PREFIX.length()) : warning;
            }
            next.accept(warning);
        }

        synchronized long count() { return count; }

        synchronized String last() { return last; }

        /**
         * {@code e} as a {@link TooManyBadImages} when it is the loader giving up on undecodable files (its message
         * names maxBadFraction), else {@code e} itself. Call after the loader is closed, so every warning is counted.
         */
        public RuntimeException explain(RuntimeException e, int images, double maxBadFraction, String dataset) {
            if (e instanceof DataException && !(e instanceof TooManyBadImages) && count() > 0
                    && e.getMessage() != null && e.getMessage().contains("maxBadFraction")) {
                return new TooManyBadImages(count(), images, maxBadFraction, dataset, last(), e);
            }
            return e;
        }
    }
}
