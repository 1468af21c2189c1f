package dev.mvp.api.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The one way the library writes an output file (results.json, attention and mask sheets, feature-cache manifests):
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

    /**
     * Writes {@code image} as a PNG file atomically (see {@link #write}); encoded by {@link #encodePng}, so a failure
     * is one reason in words and nothing is printed.
     */
    public static void writePng(Path file, java.awt.image.BufferedImage image) {
        write(file, tmp -> {
            try (java.io.OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(tmp))) {
                encodePng(image, os);
            }
        });
    }

    /**
     * Encodes {@code image} as PNG onto {@code os} through an in-memory {@link javax.imageio.stream.ImageOutputStream}
     * of our own. {@code ImageIO.write(image, "png", File)} prints a stack trace to standard error when it cannot
     * open the file, and {@code ImageIO.write(image, "png", OutputStream)}, with ImageIO's file cache on (the default),
     * registers a cache file with ImageIO's "StreamCloser" shutdown hook, which prints a NullPointerException stack
     * trace at exit when the write failed (a full disk). An encoder error is rethrown as the stream's own reason.
     */
    public static void encodePng(java.awt.image.BufferedImage image, java.io.OutputStream os) throws IOException {
        java.util.Iterator<javax.imageio.ImageWriter> writers = javax.imageio.ImageIO.getImageWritersByFormatName("png");
        if (!writers.hasNext()) throw new IOException("no PNG writer in this Java runtime");
        javax.imageio.ImageWriter writer = writers.next();
        try (javax.imageio.stream.MemoryCacheImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(os)) {
            writer.setOutput(out);
            writer.write(image);
            out.flush();
        } catch (javax.imageio.IIOException e) {
            // "I/O error writing PNG file!" wraps the stream's own reason (no space left on device, ...)
            if (e.getCause() instanceof IOException cause) throw cause;
            throw e;
        } finally {
            writer.dispose();
        }
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
