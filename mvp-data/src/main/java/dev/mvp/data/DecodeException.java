package dev.mvp.data;

import java.nio.file.Path;

/**
 * One file could not be decoded into an image. The message is {@code "<path>: <reason>"}, for instance
 * {@code "/data/x.jpg: truncated JPEG (Premature end of JPEG file)"}; {@link #reason()} is the part after the path.
 */
public final class DecodeException extends Exception {
    private final transient Path file;
    private final String reason;

    public DecodeException(Path file, String reason) {
        this(file, reason, null);
    }

    public DecodeException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
        this.reason = reason;
    }

    /** The file that failed. */
    public Path file() {
        return file;
    }

    /** Why it failed, without the path. */
    public String reason() {
        return reason;
    }
}
