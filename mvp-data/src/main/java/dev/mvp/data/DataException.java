package dev.mvp.data;

/**
 * A data problem the caller must fix: a missing or empty image folder, too many undecodable files, a dataset too
 * small for one batch. The message is one line that names the path or the setting at fault.
 */
public class DataException extends RuntimeException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
