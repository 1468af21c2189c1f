package dev.mvp.models.io;

import java.nio.file.Path;

/**
 * A weight file that cannot be used: malformed, truncated, inconsistent, or not matching the model it is loaded into.
 * The message is one line naming the file, the tensor when there is one, and the problem.
 */
public final class WeightFormatException extends RuntimeException {

    public WeightFormatException(String message) {
        super(message);
    }

    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code <file>: <problem>}. */
    public static WeightFormatException of(Path file, String problem) {
        return new WeightFormatException(file + ": " + problem);
    }

    /** {@code <file>: tensor '<name>': <problem>}. */
    public static WeightFormatException of(Path file, String tensor, String problem) {
        return new WeightFormatException(file + ": tensor '" + tensor + "': " + problem);
    }
}
