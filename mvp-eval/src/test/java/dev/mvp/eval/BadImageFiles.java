package dev.mvp.eval;

import dev.mvp.testing.TestPaths;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Real CIFAR-10 training JPEGs (from {@link TestPaths#sharedData()}) copied into a test folder, and the three kinds of
 * undecodable file a training set meets: an empty {@code .jpg}, a JPEG cut in half, and text named {@code .jpg}.
 * Also captures standard error, where the training loops warn about each undecodable image.
 */
public final class BadImageFiles {
    private BadImageFiles() {}

    /** The warning line the training loops print for each undecodable training image. */
    public static final String WARNING = "mvp: warning: skipping undecodable training image ";

    /** Copies CIFAR-10 training images {@code first .. first + count - 1} of {@code cifarClass} to {@code dir}. */
    public static List<Path> copyCifar(String cifarClass, int first, int count, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        for (int i = first; i < first + count; i++) {
            Path from = cifar(cifarClass, i);
            out.add(Files.copy(from, dir.resolve(cifarClass + "_" + from.getFileName())));
        }
        return out;
    }

    /** CIFAR-10 training image {@code i} of {@code cifarClass}. */
    public static Path cifar(String cifarClass, int i) {
        Path p = TestPaths.sharedData().resolve("cifar10/train").resolve(cifarClass).resolve(String.format("%04d.jpg", i));
        if (!Files.isRegularFile(p)) throw new IllegalStateException("missing CIFAR-10 image " + p);
        return p;
    }

    /**
     * A class-folder training set of 20 images: 17 real CIFAR-10 JPEGs in 4 classes (airplane 5, automobile, bird and
     * cat 4 each) and 3 undecodable files named {@code bad_*.jpg}: an empty one (airplane), a JPEG cut in half (bird)
     * and text (cat).
     */
    public static dev.mvp.data.ImageFolder trainingFolder(Path root) throws IOException {
        copyCifar("airplane", 0, 5, root.resolve("airplane"));
        copyCifar("automobile", 0, 4, root.resolve("automobile"));
        copyCifar("bird", 0, 4, root.resolve("bird"));
        copyCifar("cat", 0, 4, root.resolve("cat"));
        empty(root.resolve("airplane/bad_empty.jpg"));
        truncated(cifar("bird", 10), root.resolve("bird/bad_truncated.jpg"));
        text(root.resolve("cat/bad_text.jpg"));
        return dev.mvp.data.ImageFolder.open(root);
    }

    /** The same 4 classes, {@code perClass} other good CIFAR-10 training images each (from number 20 on). */
    public static dev.mvp.data.ImageFolder validationFolder(Path root, int perClass) throws IOException {
        for (String c : List.of("airplane", "automobile", "bird", "cat")) copyCifar(c, 20, perClass, root.resolve(c));
        return dev.mvp.data.ImageFolder.open(root);
    }

    /** The {@code bad_*} files of {@code d}. */
    public static List<Path> badFiles(dev.mvp.data.ImageDataset d) {
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < d.size(); i++) if (d.path(i).getFileName().toString().startsWith("bad_")) out.add(d.path(i));
        return out;
    }

    /** A 0-byte file. */
    public static Path empty(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.write(file, new byte[0]);
    }

    /** The first half of a real JPEG: it has a valid header, and its data ends early. */
    public static Path truncated(Path jpeg, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        byte[] all = Files.readAllBytes(jpeg);
        return Files.write(file, Arrays.copyOf(all, all.length / 2));
    }

    /** Text with a .jpg name. */
    public static Path text(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.writeString(file, "this is not a JPEG, only text with a .jpg name\n");
    }

    /** Records standard error (still passing it on) while open; close restores it. */
    public static final class Stderr implements AutoCloseable {
        private final PrintStream original = System.err;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        public Stderr() {
            OutputStream tee = new OutputStream() {
                @Override public void write(int b) {
                    synchronized (bytes) {
                        bytes.write(b);
                    }
                    original.write(b);
                }

                @Override public void write(byte[] b, int off, int len) {
                    synchronized (bytes) {
                        bytes.write(b, off, len);
                    }
                    original.write(b, off, len);
                }
            };
            System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
        }

        /** The lines written so far that start with {@code prefix}. */
        public List<String> lines(String prefix) {
            String text;
            synchronized (bytes) {
                text = bytes.toString(StandardCharsets.UTF_8);
            }
            return text.lines().filter(l -> l.startsWith(prefix)).toList();
        }

        /** The training loops' bad-image warnings so far. */
        public List<String> warnings() {
            return lines(WARNING);
        }

        /** How many of the warnings name {@code file} (by its file name). */
        public long warningsAbout(Path file) {
            String name = file.getFileName().toString();
            return warnings().stream().filter(l -> l.contains(name)).count();
        }

        @Override public void close() {
            System.err.flush();
            System.setErr(original);
        }
    }
}
