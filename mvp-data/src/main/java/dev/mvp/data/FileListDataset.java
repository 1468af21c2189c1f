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
 *   <li>A line with a tab is {@code path<TAB>label} or {@code path<TAB>} (no label): the path is everything before
 *       the tab (spaces inside it kept, around it stripped); one tab at most. A line without a tab is {@code path}
 *       or {@code path label}, separated by spaces; more than two fields is an error, so a path containing spaces
 *       needs a tab (before its label, or after it when it has none). Either every line has a label or none has.</li>
 *   <li>A label of digits only is a class index, 0 to {@link #MAX_CLASS_INDEX} (Caffe's ImageNet {@code train.txt}:
 *       {@code n01440764/n01440764_10026.JPEG 0}); {@link #classes()} is then {@code "0" .. "max"}. Any other label
 *       without spaces is a class name; the classes are their distinct values sorted, and the label is the index of
 *       its name. A list gives indices on every line or names on every line; a negative, signed or too large index
 *       is an error.</li>
 *   <li>Blank lines and lines starting with {@code #} are skipped.</li>
 * </ul>
 * A malformed line is a {@link DataException} naming the list and the line number.
 * A UTF-8 byte-order mark at the start is ignored. Every listed path must exist and be a regular file when the list is
 * opened (a missing first image names the root, so a wrong root is plain); a file that cannot be decoded is still
 * skipped by the loader as a bad file. The index is held compactly (paths as UTF-8 in one array). Immutable
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
     * @throws DataException if the list or the root is missing or unreadable, the list names no image, a line is
     *                       malformed (more than two space-separated fields, more than one tab, a bad label), its
     *                       lines mix labelled and unlabelled entries or indices and names, or a listed image does
     *                       not exist or is not a regular file
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
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot read file list", file, e), e);
        }

        // a byte-order mark (Windows Notepad's "UTF-8 with BOM") is not part of the first path
        if (!lines.isEmpty() && lines.getFirst().startsWith("\uFEFF")) lines.set(0, lines.getFirst().substring(1));
        List<String> names = new ArrayList<>();
        List<String> labelTexts = new ArrayList<>();
        List<Integer> lineNumbers = new ArrayList<>();
        int firstLine = -1, firstLabelLine = -1;
        Boolean labelled = null, indices = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank() || line.stripLeading().startsWith("#")) continue;
            String where = file + " line " + (i + 1) + ": ";
            String[] entry = split(line, where);
            if (entry[0].isEmpty()) throw new DataException(where + "no path in \"" + line.strip() + "\"");
            boolean hasLabel = entry[1] != null;
            if (labelled == null) {
                labelled = hasLabel;
                firstLine = i + 1;
            } else if (labelled != hasLabel) {
                throw new DataException(where + (hasLabel ? "has a label" : "has no label")
                        + " but line " + firstLine + (labelled ? " has one" : " has none")
                        + "; label every line or none");
            }
            if (hasLabel) {
                boolean index = checkLabel(entry[1], where);
                if (indices == null) {
                    indices = index;
                    firstLabelLine = i + 1;
                } else if (indices != index) {
                    throw new DataException(where + "label '" + entry[1] + "' is a class " + (index ? "index" : "name")
                            + " but line " + firstLabelLine + "'s label '" + labelTexts.get(0) + "' is a class "
                            + (indices ? "index" : "name") + "; give indices on every line or names on every line");
                }
            }
            names.add(entry[0]);
            labelTexts.add(entry[1]);
            lineNumbers.add(i + 1);
        }
        if (names.isEmpty()) throw new DataException("no images listed in " + file);
        checkFiles(file, dir, names, lineNumbers);

        int n = names.size();
        int[] labels = new int[n];
        List<String> classes = List.of();
        if (Boolean.TRUE.equals(labelled)) {
            if (Boolean.TRUE.equals(indices)) {
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

    /**
     * Every listed path must be an existing regular file: one line naming the list, the line and the path otherwise.
     * A missing first image says where relative paths resolve (a wrong root fails there). One {@code stat} per entry:
     * about 8 ms for 1000 entries on a local disk, parsing included (FileListDatasetTest measures it), some seconds for ImageNet's
     * 1.28 million; a list is opened once per run.
     */
    private static void checkFiles(Path file, Path dir, List<String> names, List<Integer> lineNumbers) {
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            String where = file + " line " + lineNumbers.get(i) + ": ";
            Path p;
            try {
                p = dir.resolve(name);
            } catch (java.nio.file.InvalidPathException e) {
                throw new DataException(where + "\"" + name + "\" is not a valid path (" + e.getReason() + ")", e);
            }
            java.nio.file.attribute.BasicFileAttributes a;
            try {
                a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class);
            } catch (IOException e) {
                a = null;
            }
            if (a == null) {
                String quotes = name.length() > 1 && (name.startsWith("\"") || name.startsWith("'"))
                        ? " (quotes are read as part of the path: write it without them; a path with spaces needs a tab after it)"
                        : "";
                if (i == 0 && quotes.isEmpty()) {
                    throw new DataException("the first image listed in " + file + " does not exist: " + p
                            + (Path.of(name).isAbsolute() ? "" : " (relative paths resolve against " + dir + ")"));
                }
                throw new DataException(where + "listed image " + p + " does not exist" + quotes);
            }
            if (a.isDirectory()) throw new DataException(where + "listed image " + p + " is a folder, not a file");
            if (!a.isRegularFile()) throw new DataException(where + "listed image " + p + " is not a regular file");
        }
    }

    /**
     * {path, label or null} of a line that is not blank or a comment: {@code path<TAB>label}, {@code path<TAB>},
     * {@code path label} or {@code path} (see the class comment).
     */
    private static String[] split(String line, String where) {
        int tab = line.indexOf('\t');
        if (tab >= 0) {
            if (line.indexOf('\t', tab + 1) >= 0) {
                throw new DataException(where + "more than one tab in \"" + line.strip() + "\"; expected 'path<TAB>label' "
                        + "(a path cannot contain a tab)");
            }
            String path = line.substring(0, tab).strip();
            String label = line.substring(tab + 1).strip();
            return new String[] {path, label.isEmpty() ? null : label};
        }
        String[] fields = line.strip().split("\\s+");
        if (fields.length > 2) {
            throw new DataException(where + fields.length + " fields separated by spaces in \"" + line.strip()
                    + "\"; expected 'path' or 'path label' (a path with spaces needs a tab before its label: "
                    + "'path<TAB>label', or 'path<TAB>' without one)");
        }
        return new String[] {fields[0], fields.length == 2 ? fields[1] : null};
    }

    /** The largest class index a list may give: the classes are {@code "0" .. max}, one entry each. */
    public static final int MAX_CLASS_INDEX = 999_999;

    /**
     * Whether {@code label} is a class index (digits only) rather than a name.
     *
     * @throws DataException for a negative index, an index above {@link #MAX_CLASS_INDEX} or a label with a space
     */
    private static boolean checkLabel(String label, String where) {
        for (int i = 0; i < label.length(); i++) {
            if (Character.isWhitespace(label.charAt(i))) {
                throw new DataException(where + "label '" + label + "' contains a space");
            }
        }
        String digits = label.startsWith("-") || label.startsWith("+") ? label.substring(1) : label;
        boolean integer = !digits.isEmpty() && digits.chars().allMatch(c -> c >= '0' && c <= '9');
        if (!integer) return false;
        if (label.startsWith("-") && !digits.chars().allMatch(c -> c == '0')) {
            throw new DataException(where + "class index " + label + " is negative");
        }
        String value = digits.replaceFirst("^0+(?=.)", "");
        if (value.length() > 7 || Integer.parseInt(value) > MAX_CLASS_INDEX) {
            throw new DataException(where + "class index " + label + " is too large (at most " + MAX_CLASS_INDEX + ")");
        }
        if (label.startsWith("+") || label.startsWith("-")) {
            throw new DataException(where + "class index " + label + " has a sign; write it as " + value);
        }
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
