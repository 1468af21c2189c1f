package dev.mvp.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The images under one folder, in either of the field's two layouts:
 * <ul>
 *   <li><b>class folders</b> (torchvision's {@code ImageFolder}, the ImageNet layout {@code train/n01440764/*.JPEG}):
 *       every sub-folder of the root is a class; the label is the index of its name among the sorted names; its
 *       images are found recursively (following links), sorted as torchvision sorts them (folders by path, then
 *       files by name). Files directly in the root are ignored. A class folder without images is an error, as in
 *       torchvision.</li>
 *   <li><b>a flat folder</b> of images (no sub-folders): the files sorted by name. When every name has a non-empty
 *       prefix before a first {@code '_'} (e.g. {@code n01440764_tench.JPEG}), the prefixes are the classes, sorted,
 *       and the label is the prefix's index; otherwise labels are {@code -1}.</li>
 * </ul>
 * Images are files ending in {@code .jpg}, {@code .jpeg} or {@code .png}, in any case. Names sort by Unicode code
 * point, like Python's {@code sorted}. The index is held compactly (the names as UTF-8 in one array), so an
 * ImageNet-sized folder costs tens of megabytes, not hundreds. Immutable and thread-safe.
 */
public final class ImageFolder implements ImageDataset {
    private static final Comparator<String> CODE_POINT_ORDER = ImageFolder::compareCodePoints;

    private final Path root;
    private final boolean classFolders;
    private final List<String> classes;
    private final Path[] folders;     // distinct parent folders
    private final int[] folderOf;     // per image: index into folders
    private final byte[] names;       // all file names, UTF-8, back to back
    private final int[] nameStart;    // per image (+1 sentinel): offset into names
    private final int[] labels;

    private ImageFolder(Path root, boolean classFolders, List<String> classes, List<Path> folders, List<Entry> entries) {
        this.root = root;
        this.classFolders = classFolders;
        this.classes = List.copyOf(classes);
        this.folders = folders.toArray(Path[]::new);
        int n = entries.size();
        this.folderOf = new int[n];
        this.labels = new int[n];
        this.nameStart = new int[n + 1];
        byte[][] encoded = new byte[n][];
        int total = 0;
        for (int i = 0; i < n; i++) {
            encoded[i] = entries.get(i).name.getBytes(StandardCharsets.UTF_8);
            total = Math.addExact(total, encoded[i].length);
        }
        this.names = new byte[total];
        for (int i = 0, at = 0; i < n; i++) {
            Entry e = entries.get(i);
            folderOf[i] = e.folder;
            labels[i] = e.label;
            nameStart[i] = at;
            System.arraycopy(encoded[i], 0, names, at, encoded[i].length);
            at += encoded[i].length;
        }
        nameStart[n] = total;
    }

    private record Entry(int folder, String name, int label) {}

    /**
     * Indexes the images under {@code root}.
     *
     * @throws DataException if the folder is missing, not a folder, unreadable, holds no images, or (class-folder
     *                       layout) has a class folder without images
     */
    public static ImageFolder open(Path root) {
        Objects.requireNonNull(root, "root");
        Path dir = root.toAbsolutePath().normalize();
        if (!Files.exists(dir)) throw new DataException("image folder not found: " + dir);
        if (!Files.isDirectory(dir)) throw new DataException("not a folder: " + dir);
        if (!Files.isReadable(dir)) throw new DataException("image folder not readable: " + dir);
        try {
            List<Path> children;
            try (Stream<Path> s = Files.list(dir)) {
                children = s.toList();
            }
            List<String> classNames = children.stream().filter(Files::isDirectory)
                    .map(p -> p.getFileName().toString()).sorted(CODE_POINT_ORDER).toList();
            return classNames.isEmpty() ? flat(dir, children) : withClassFolders(dir, classNames);
        } catch (AccessDeniedException e) {
            throw new DataException("cannot read image folder " + dir + ": permission denied on " + e.getFile(), e);
        } catch (IOException e) {
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot read image folder", dir, e), e);
        } catch (UncheckedIOException e) {
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot read image folder", dir, e.getCause()), e);
        }
    }

    private static ImageFolder flat(Path dir, List<Path> children) {
        List<String> files = children.stream().filter(p -> isImage(p) && Files.isRegularFile(p))
                .map(p -> p.getFileName().toString()).sorted(CODE_POINT_ORDER).toList();
        if (files.isEmpty()) {
            throw new DataException("no images (.jpg, .jpeg, .png) in " + dir + " and no class sub-folders");
        }
        boolean prefixed = files.stream().allMatch(name -> name.indexOf('_') > 0);
        List<String> classes = prefixed
                ? files.stream().map(ImageFolder::prefix).distinct().sorted(CODE_POINT_ORDER).toList()
                : List.of();
        Map<String, Integer> classIndex = indexOf(classes);
        List<Entry> entries = new ArrayList<>(files.size());
        for (String name : files) entries.add(new Entry(0, name, prefixed ? classIndex.get(prefix(name)) : -1));
        return new ImageFolder(dir, false, classes, List.of(dir), entries);
    }

    private static ImageFolder withClassFolders(Path dir, List<String> classNames) throws IOException {
        List<Path> folders = new ArrayList<>();
        List<Entry> entries = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        for (int label = 0; label < classNames.size(); label++) {
            Path classDir = dir.resolve(classNames.get(label));
            // torchvision: for root, _, names in sorted(os.walk(class_dir, followlinks=True)): for name in sorted(names)
            TreeMap<String, List<String>> byFolder = new TreeMap<>(CODE_POINT_ORDER);
            try (Stream<Path> walk = Files.walk(classDir, FileVisitOption.FOLLOW_LINKS)) {
                walk.filter(p -> isImage(p) && Files.isRegularFile(p)).forEach(p ->
                        byFolder.computeIfAbsent(p.getParent().toString(), k -> new ArrayList<>()).add(p.getFileName().toString()));
            }
            if (byFolder.isEmpty()) empty.add(classNames.get(label));
            for (Map.Entry<String, List<String>> folder : byFolder.entrySet()) {
                folders.add(Path.of(folder.getKey()));
                List<String> files = folder.getValue();
                files.sort(CODE_POINT_ORDER);
                for (String name : files) entries.add(new Entry(folders.size() - 1, name, label));
            }
        }
        if (!empty.isEmpty()) {
            throw new DataException("no images (.jpg, .jpeg, .png) in class folder" + (empty.size() > 1 ? "s " : " ")
                    + String.join(", ", empty.subList(0, Math.min(5, empty.size()))) + (empty.size() > 5 ? ", ..." : "")
                    + " of " + dir);
        }
        return new ImageFolder(dir, true, classNames, folders, entries);
    }

    @Override public int size() {
        return labels.length;
    }

    @Override public Path path(int index) {
        Objects.checkIndex(index, labels.length);
        String name = new String(names, nameStart[index], nameStart[index + 1] - nameStart[index], StandardCharsets.UTF_8);
        return folders[folderOf[index]].resolve(name);
    }

    @Override public int label(int index) {
        return labels[Objects.checkIndex(index, labels.length)];
    }

    @Override public List<String> classes() {
        return classes;
    }

    /** The folder this dataset was opened on, absolute and normalised. */
    public Path root() {
        return root;
    }

    @Override public String describe() {
        String layout = classFolders ? "class folders"
                : classes.isEmpty() ? "flat, unlabelled" : "flat, labels from file-name prefixes";
        return "ImageFolder " + root + ": " + size() + " images, " + classes.size() + " classes (" + layout + ")";
    }

    @Override public String toString() {
        return describe();
    }

    private static boolean isImage(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jpg") || name.endsWith(".jpeg") || name.endsWith(".png");
    }

    private static String prefix(String name) {
        return name.substring(0, name.indexOf('_'));
    }

    private static Map<String, Integer> indexOf(List<String> names) {
        Map<String, Integer> index = new TreeMap<>(CODE_POINT_ORDER);
        for (int i = 0; i < names.size(); i++) index.put(names.get(i), i);
        return index;
    }

    /** Python's string order (by code point); differs from {@link String#compareTo} only around surrogates. */
    private static int compareCodePoints(String a, String b) {
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
            char x = a.charAt(i), y = b.charAt(i);
            if (x != y) {
                return Character.isSurrogate(x) || Character.isSurrogate(y)
                        ? Integer.compare(a.codePointAt(i), b.codePointAt(i)) : x - y;
            }
        }
        return a.length() - b.length();
    }
}
