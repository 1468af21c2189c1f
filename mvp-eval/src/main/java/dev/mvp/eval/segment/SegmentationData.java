package dev.mvp.eval.segment;

import dev.mvp.data.DataException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Image / label-map pairs in ADE20K's folder format ({@code ADEChallengeData2016}):
 * <pre>
 * root/images/training/ADE_train_00000001.jpg        root/annotations/training/ADE_train_00000001.png
 * root/images/validation/ADE_val_00000001.jpg        root/annotations/validation/ADE_val_00000001.png
 * </pre>
 * Label maps are 8-bit PNGs: 0 = "other" (ignored), 1..150 the classes; {@link #open} applies mmseg's
 * {@code reduce_zero_label} when reading ({@link #label}), so classes are 0..149 and 255 is ignored. Pairs match by
 * file name without extension, sorted; an image without a label map (or the reverse) is an error naming it.
 * Also accepted: {@code root/images/} and {@code root/annotations/} holding the files directly (no split folder).
 * {@link #open} refuses an empty (0-byte) file at once; {@link #label} refuses a value that is no class for
 * {@code numClasses}; {@link #verify} decodes every label map and image header up front.
 */
public final class SegmentationData {
    /** ADE20K's class count after {@code reduce_zero_label}. */
    public static final int ADE_CLASSES = 150;
    /** The ignore value. */
    public static final int IGNORE = 255;

    private final Path root;
    private final String split;
    private final List<Path> images;
    private final List<Path> labels;
    private final int numClasses;
    private final boolean reduceZeroLabel;

    private SegmentationData(Path root, String split, List<Path> images, List<Path> labels, int numClasses, boolean reduceZeroLabel) {
        this.root = root;
        this.split = split;
        this.images = List.copyOf(images);
        this.labels = List.copyOf(labels);
        this.numClasses = numClasses;
        this.reduceZeroLabel = reduceZeroLabel;
    }

    /** ADE20K's layout and conventions (150 classes, 0 ignored). */
    public static SegmentationData ade20k(Path root, String split) {
        return open(root, split, ADE_CLASSES, true);
    }

    /**
     * Pairs under {@code root/images[/split]} and {@code root/annotations[/split]}.
     *
     * @param numClasses      classes after the optional label reduction
     * @param reduceZeroLabel whether label 0 is "other" (ignored) and the rest shift down by one
     */
    public static SegmentationData open(Path root, String split, int numClasses, boolean reduceZeroLabel) {
        if (!Files.exists(root)) throw new DataException("segmentation data folder does not exist: " + root);
        if (!Files.isDirectory(root)) throw new DataException("segmentation data " + root + " is a file, expected a folder");
        Path imageDir = root.resolve("images"), labelDir = root.resolve("annotations");
        if (!Files.isDirectory(imageDir)) {
            throw new DataException("no images/ folder in " + root + " (expected ADE20K's layout: images/<split>/*.jpg, "
                    + "annotations/<split>/*.png)");
        }
        if (split != null && !split.isEmpty() && Files.isDirectory(imageDir.resolve(split))) {
            imageDir = imageDir.resolve(split);
            labelDir = labelDir.resolve(split);
        } else if (split != null && !split.isEmpty()) {
            throw new DataException("no split '" + split + "' in " + root.resolve("images") + " (ADE20K: training, validation)");
        }
        if (!Files.isDirectory(imageDir)) throw new DataException("segmentation images not found: " + imageDir);
        if (!Files.isDirectory(labelDir)) throw new DataException("segmentation label maps not found: " + labelDir);
        Map<String, Path> im = list(imageDir, ".jpg", ".jpeg", ".png"), lb = list(labelDir, ".png");
        List<Path> images = new ArrayList<>(), labels = new ArrayList<>();
        for (Map.Entry<String, Path> e : im.entrySet()) {
            Path l = lb.get(e.getKey());
            if (l == null) throw new DataException("no label map for " + e.getValue() + " in " + labelDir);
            images.add(e.getValue());
            labels.add(l);
        }
        for (String name : lb.keySet()) {
            if (!im.containsKey(name)) throw new DataException("label map " + lb.get(name) + " has no image in " + imageDir);
        }
        if (images.isEmpty()) throw new DataException("no images in " + imageDir);
        for (int i = 0; i < images.size(); i++) { // a stat per file: cheap, and found before any training
            nonEmpty(images.get(i), "image");
            nonEmpty(labels.get(i), "label map");
        }
        return new SegmentationData(root, split, images, labels, numClasses, reduceZeroLabel);
    }

    private static void nonEmpty(Path file, String what) {
        try {
            if (Files.size(file) == 0) throw new DataException("segmentation " + what + " " + file + " is empty (0 bytes)");
        } catch (IOException e) {
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot read segmentation " + what, file, e), e);
        }
    }

    private static Map<String, Path> list(Path dir, String... extensions) {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString(), lower = name.toLowerCase(Locale.ROOT);
                for (String ext : extensions) {
                    if (lower.endsWith(ext) && Files.isRegularFile(p)) out.put(name.substring(0, name.lastIndexOf('.')), p);
                }
            }
        } catch (IOException e) {
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot list", dir, e), e);
        }
        return out;
    }

    /** The first {@code n} pairs (all when n is 0 or larger than the set). */
    public SegmentationData first(int n) {
        if (n <= 0 || n >= images.size()) return this;
        return new SegmentationData(root, split, images.subList(0, n), labels.subList(0, n), numClasses, reduceZeroLabel);
    }

    public int size() {
        return images.size();
    }

    public Path image(int i) {
        return images.get(i);
    }

    /**
     * The label map of pair {@code i}, reduced if the dataset says so; values are classes or {@link #IGNORE}.
     *
     * @throws DataException if it cannot be read, or holds a value that is no class ({@link #checkValues})
     */
    public LabelMap label(int i) {
        LabelMap m = LabelMap.read(labels.get(i));
        checkValues(m, labels.get(i));
        return reduceZeroLabel ? m.reduceZeroLabel(IGNORE) : m;
    }

    /**
     * The raw values a label map may hold: with {@code reduce_zero_label} 0 and 255 (ignored) and 1..numClasses
     * (classes 0..numClasses-1 once reduced); without it 0..numClasses-1 and 255. Anything else (a map made for
     * more classes, a wrong {@code --num-classes}) would reach the loss as an out-of-range target.
     *
     * @throws DataException naming the file, the value, its first pixel and {@code --num-classes}
     */
    void checkValues(LabelMap m, Path file) {
        int[] v = m.labels();
        for (int k = 0; k < v.length; k++) {
            int x = v[k];
            boolean ok = x == IGNORE || (reduceZeroLabel ? x >= 0 && x <= numClasses : x >= 0 && x < numClasses);
            if (!ok) {
                throw new DataException("label map " + file + " holds the value " + x + " (pixel x=" + k % m.width()
                        + ", y=" + k / m.width() + "); with --num-classes " + numClasses + " the values must be "
                        + (reduceZeroLabel ? "1.." + numClasses + ", or 0 and 255 (ignored; reduce_zero_label)"
                        : "0.." + (numClasses - 1) + ", or 255 (ignored; --no-reduce-zero-label)"));
            }
        }
    }

    /**
     * Checks every pair before any work: each image's header decodes (format and size, without decoding its pixels)
     * and each label map decodes, holds only valid values ({@link #checkValues}) and has its image's size. Meant for
     * the validation set before training, so that a bad file is found before hours of training rather than after;
     * it reads every label map whole (about 5 ms each for ADE20K's).
     *
     * @throws DataException naming the first bad file
     */
    public void verify() {
        for (int i = 0; i < images.size(); i++) {
            int[] size = headerSize(images.get(i));
            LabelMap m = label(i);
            if (m.width() != size[0] || m.height() != size[1]) {
                throw new DataException("label map " + labels.get(i) + " is " + m.width() + "x" + m.height()
                        + " but its image " + images.get(i) + " is " + size[0] + "x" + size[1]);
            }
        }
    }

    /** {width, height} from an image file's header. */
    static int[] headerSize(Path file) {
        try (javax.imageio.stream.ImageInputStream in = javax.imageio.ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new DataException("cannot read segmentation image " + file);
            var readers = javax.imageio.ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new DataException("segmentation image " + file + " is not an image (unknown format)");
            javax.imageio.ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return new int[] {reader.getWidth(0), reader.getHeight(0)};
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new DataException("segmentation image " + file + " cannot be decoded: " + e.getMessage(), e);
        }
    }

    public Path labelFile(int i) {
        return labels.get(i);
    }

    public int numClasses() {
        return numClasses;
    }

    public String describe() {
        return "segmentation data " + root + (split == null || split.isEmpty() ? "" : " [" + split + "]") + ": " + images.size()
                + " pairs, " + numClasses + " classes" + (reduceZeroLabel ? " (label 0 ignored, reduce_zero_label)" : "");
    }
}
