package dev.mvp.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The one way the evaluation code writes an output file (results.json, attention sheets, feature-cache manifests):
 * into a temporary file next to it ({@code <name>.tmp-<pid>}), then renamed over it, so a reader never sees half a
 * file. When anything fails (a full disk, a folder in the way, an encoder error) the temporary file is removed before
 * the error propagates: no {@code .tmp} file is ever left behind, and the previous file, if any, is untouched.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the temporary file it is given. */
    @FunctionalInterface
    public interface Body {
        void write(Path tmp) throws IOException;
    }

    /**
     * Writes {@code file} through {@code body} atomically, creating its folder.
     *
     * @throws UncheckedIOException {@code cannot write <file>: <reason>}, the temporary file removed
     */
    public static void write(Path file, Body body) {
        Path tmp = null;
        boolean done = false;
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            tmp = parent.resolve(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
            body.write(tmp);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + reason(e), e);
        } finally {
            if (!done && tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException | RuntimeException ignored) {
                    // the write error matters more
                }
            }
        }
    }

    /** Writes {@code text} (UTF-8) to {@code file} atomically. */
    public static void writeString(Path file, String text) {
        write(file, tmp -> Files.writeString(tmp, text));
    }

    /** The reason in words: a file-system error's reason (no Java class names), else the message. */
    static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException fs) {
            String why = fs.getReason();
            if (e instanceof java.nio.file.NoSuchFileException) why = "no such file or folder";
            else if (e instanceof java.nio.file.AccessDeniedException) why = "permission denied";
            else if (e instanceof java.nio.file.DirectoryNotEmptyException) why = "a non-empty folder is in the way";
            else if (e instanceof java.nio.file.FileAlreadyExistsException) why = "a file is in the way";
            String where = fs.getFile();
            return (where == null ? "" : where + ": ") + (why == null ? "error" : why.toLowerCase(java.util.Locale.ROOT));
        }
        return e.getMessage() == null ? "write error" : e.getMessage();
    }
}
