package dev.mvp.data;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The images named in a text file, one per line, in the file's order: {@code path} or {@code path label}.
 *
 * <ul>
 *   <li>Relative paths resolve against a root folder: the list file's folder unless another is given.</li>
 *   <li>The label follows the path after a tab, or, in a line without a tab, after the last run of spaces (so a
 *       path containing spaces needs a tab before its label, and a tab after it when it has none). Either every
 *       line has a label or none has.</li>
 *   <li>Labels that are all non-negative integers are class indices as written (Caffe's ImageNet {@code train.txt}:
 *       {@code n01440764/n01440764_10026.JPEG 0}); {@link #classes()} is then {@code "0" .. "max"}. Other labels
 *       are class names; the classes are their distinct values sorted, and the label is the index of its name.</li>
 *   <li>Blank lines and lines starting with {@code #} are skipped.</li>
 * </ul>
 * The listed files are not checked one by one (a missing one is skipped by the loader as a bad file), except the
 * first, so that a wrong root fails at once. The index is held compactly (paths as UTF-8 in one array). Immutable
 * and thread-safe.
 */
public final class FileListDataset implements ImageDataset {
    private final Path listFile;
    private final Path root;
    private final byte[] paths;     // all path texts, UTF-8, back to back
    private final int[] pathStart;  // per image (+1 sentinel): offset into paths
    private final int[] labels;
    private final List<String> classes;

    private FileListDataset(Path listFile, Path root, byte[] paths, int[] pathStart, int[] labels, List<String> classes) {
        this.listFile = listFile;
        this.root = root;
        this.paths = paths;
        this.pathStart = pathStart;
        this.labels = labels;
        this.classes = List.copyOf(classes);
    }

    /** Reads {@code listFile}, resolving relative paths against its folder. */
    public static FileListDataset open(Path listFile) {
        Objects.requireNonNull(listFile, "listFile");
        Path file = listFile.toAbsolutePath().normalize();
        return open(file, file.getParent());
    }

    /**
     * Reads {@code listFile}, resolving relative paths against {@code root}.
     *
     * @throws DataException if the list or the root is missing or unreadable, the list names no image, its lines
     *                       mix labelled and unlabelled entries, or its first image does not exist
     */
    public static FileListDataset open(Path listFile, Path root) {
        Objects.requireNonNull(listFile, "listFile");
        Objects.requireNonNull(root, "root");
        Path file = listFile.toAbsolutePath().normalize();
        Path dir = root.toAbsolutePath().normalize();
        if (!Files.exists(file)) throw new DataException("file list not found: " + file);
        if (!Files.isRegularFile(file)) throw new DataException("file list is not a file: " + file);
        if (!Files.isDirectory(dir)) throw new DataException("root folder of file list " + file + " not found: " + dir);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new DataException("file list not found: " + file, e);
        } catch (AccessDeniedException e) {
            throw new DataException("file list not readable: " + file + " (permission denied)", e);
        } catch (MalformedInputException e) {
            throw new DataException("file list is not UTF-8 text: " + file, e);
        } catch (IOException e) {
            throw new DataException("cannot read file list " + file + ": " + e.getMessage(), e);
        }

        List<String> names = new ArrayList<>();
        List<String> labelTexts = new ArrayList<>();
        int firstLine = -1;
        Boolean labelled = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank() || line.stripLeading().startsWith("#")) continue;
            String[] entry = split(line);
            if (entry[0].isEmpty()) throw new DataException(file + " line " + (i + 1) + ": no path in \"" + line.strip() + "\"");
            boolean hasLabel = entry[1] != null;
            if (labelled == null) {
                labelled = hasLabel;
                firstLine = i + 1;
            } else if (labelled != hasLabel) {
                throw new DataException(file + " line " + (i + 1) + ": " + (hasLabel ? "has a label" : "has no label")
                        + " but line " + firstLine + (labelled ? " has one" : " has none")
                        + "; label every line or none");
            }
            names.add(entry[0]);
            labelTexts.add(entry[1]);
        }
        if (names.isEmpty()) throw new DataException("no images listed in " + file);
        Path first = dir.resolve(names.getFirst());
        if (!Files.exists(first)) {
            throw new DataException("the first image listed in " + file + " does not exist: " + first
                    + (Path.of(names.getFirst()).isAbsolute() ? "" : " (relative paths resolve against " + dir + ")"));
        }

        int n = names.size();
        int[] labels = new int[n];
        List<String> classes = List.of();
        if (Boolean.TRUE.equals(labelled)) {
            boolean numeric = labelTexts.stream().allMatch(FileListDataset::isIndex);
            if (numeric) {
                int max = 0;
                for (int i = 0; i < n; i++) max = Math.max(max, labels[i] = Integer.parseInt(labelTexts.get(i)));
                List<String> c = new ArrayList<>(max + 1);
                for (int k = 0; k <= max; k++) c.add(Integer.toString(k));
                classes = c;
            } else {
                classes = List.copyOf(new TreeSet<>(labelTexts));
                Map<String, Integer> index = new TreeMap<>();
                for (int k = 0; k < classes.size(); k++) index.put(classes.get(k), k);
                for (int i = 0; i < n; i++) labels[i] = index.get(labelTexts.get(i));
            }
        } else {
            java.util.Arrays.fill(labels, -1);
        }

        int[] start = new int[n + 1];
        byte[][] encoded = new byte[n][];
        int total = 0;
        for (int i = 0; i < n; i++) {
            encoded[i] = names.get(i).getBytes(StandardCharsets.UTF_8);
            total = Math.addExact(total, encoded[i].length);
        }
        byte[] bytes = new byte[total];
        for (int i = 0, at = 0; i < n; i++) {
            start[i] = at;
            System.arraycopy(encoded[i], 0, bytes, at, encoded[i].length);
            at += encoded[i].length;
        }
        start[n] = total;
        return new FileListDataset(file, dir, bytes, start, labels, classes);
    }

    /** {path, label or null}. */
    private static String[] split(String line) {
        String s = line.strip();
        int tab = line.lastIndexOf('\t');
        if (tab >= 0) {
            String path = line.substring(0, tab).strip();
            String label = line.substring(tab + 1).strip();
            return new String[] {path, label.isEmpty() ? null : label};
        }
        int space = -1;
        for (int i = s.length() - 1; i >= 0; i--) {
            if (Character.isWhitespace(s.charAt(i))) {
                space = i;
                break;
            }
        }
        if (space < 0) return new String[] {s, null};
        return new String[] {s.substring(0, space).strip(), s.substring(space + 1)};
    }

    private static boolean isIndex(String s) {
        if (s.isEmpty() || s.length() > 9) return false;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        return true;
    }

    @Override public int size() {
        return labels.length;
    }

    @Override public Path path(int index) {
        Objects.checkIndex(index, labels.length);
        return root.resolve(new String(paths, pathStart[index], pathStart[index + 1] - pathStart[index], StandardCharsets.UTF_8));
    }

    @Override public int label(int index) {
        return labels[Objects.checkIndex(index, labels.length)];
    }

    @Override public List<String> classes() {
        return classes;
    }

    /** The list file, absolute and normalised. */
    public Path listFile() {
        return listFile;
    }

    /** The folder relative paths resolve against. */
    public Path root() {
        return root;
    }

    @Override public String describe() {
        return "FileListDataset " + listFile + ": " + size() + " images, " + classes.size() + " classes"
                + (classes.isEmpty() ? " (unlabelled)" : "");
    }

    @Override public String toString() {
        return describe();
    }
}
