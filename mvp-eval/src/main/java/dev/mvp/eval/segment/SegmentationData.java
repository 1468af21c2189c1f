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
        Path imageDir = root.resolve("images"), labelDir = root.resolve("annotations");
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
        return new SegmentationData(root, split, images, labels, numClasses, reduceZeroLabel);
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
            throw new DataException("cannot list " + dir + ": " + e.getMessage(), e);
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

    /** The label map of pair {@code i}, reduced if the dataset says so; values are classes or {@link #IGNORE}. */
    public LabelMap label(int i) {
        LabelMap m = LabelMap.read(labels.get(i));
        return reduceZeroLabel ? m.reduceZeroLabel(IGNORE) : m;
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
