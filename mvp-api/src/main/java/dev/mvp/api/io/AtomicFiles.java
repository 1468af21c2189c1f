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
            if (Files.exists(parent) && !Files.isDirectory(parent)) throw new IOException(parent + " is not a folder");
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
            // the temporary file's name says nothing to the user: the file being written is named already
            throw new UncheckedIOException("cannot write " + file + ": " + (tmp == null ? reason(e) : reasonAbout(tmp, e)), e);
        } finally {
            // only a file: a folder at the temporary name is not ours (and was the reason the write failed)
            if (!done && tmp != null && Files.isRegularFile(tmp, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
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

    /**
     * One line for a failed file operation: {@code what} (e.g. "cannot read"), the path and the {@link #reason} in
     * words, the path said once ({@code cannot read /w/probe.safetensors: no such file or folder}); when the error
     * names another file than {@code path}, both are said.
     */
    public static String failure(String what, Path path, IOException e) {
        return what + " " + path + ": " + reasonAbout(path, e);
    }

    /**
     * {@link #reason} for an operation on {@code path}, without a leading "{@code path}: " (as given or absolute):
     * the caller names the path once. An error naming another file keeps that file's name.
     */
    public static String reasonAbout(Path path, IOException e) {
        String why = reason(e);
        for (String name : new String[] {path.toString(), path.toAbsolutePath().toString()}) {
            if (why.startsWith(name + ": ")) return why.substring(name.length() + 2);
        }
        return why;
    }

    /**
     * Why a file operation failed, in words, never a Java class name: the file the error names (if any), then the
     * reason ({@code /data/x: permission denied}, {@code /out/config.json: already exists (a file where a folder is
     * needed?)}, {@code /mnt/ro/x: read-only file system}); for other errors the first line of the message.
     */
    public static String reason(IOException e) {
        String file = e instanceof java.nio.file.FileSystemException f && f.getFile() != null ? f.getFile() + ": " : "";
        if (e instanceof java.nio.file.AccessDeniedException) return file + "permission denied";
        if (e instanceof java.nio.file.NoSuchFileException) return file + "no such file or folder";
        if (e instanceof java.nio.file.DirectoryNotEmptyException) return file + "folder not empty";
        if (e instanceof java.nio.file.NotDirectoryException) return file + "not a folder";
        if (e instanceof java.nio.file.FileAlreadyExistsException) return file + "already exists (a file where a folder is needed?)";
        if (e instanceof java.nio.file.FileSystemException f) {
            String r = f.getReason();
            if (r == null || r.isBlank()) return file + "input/output error";
            return file + Character.toLowerCase(r.charAt(0)) + r.substring(1);
        }
        if (e.getMessage() != null && !e.getMessage().isBlank()) return e.getMessage().lines().findFirst().orElse("").strip();
        return "input/output error";
    }
}
