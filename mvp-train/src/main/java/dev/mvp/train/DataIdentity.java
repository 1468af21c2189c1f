package dev.mvp.train;

import dev.mvp.data.ImageDataset;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What identifies a run's data set whatever folder it sits in: the image count and a SHA-256 of the ordered list of
 * image paths relative to the data folder (or to a file list's folder) with each image's class name. Recorded in
 * {@code config.json} ({@code environment.data_identity}) when a run starts; a resumption on data of another identity
 * is refused ({@link DataChangedException}) unless allowed. A moved folder keeps its identity.
 *
 * @param images the number of images
 * @param sha256 the hash of the ordered {@code relative-path TAB class} lines
 * @param data   the data path the identity was taken from (not part of the identity)
 */
public record DataIdentity(long images, String sha256, String data) {

    /** A resumption on data of another identity than the run's. */
    public static final class DataChangedException extends IllegalArgumentException {
        DataChangedException(String message) {
            super(message);
        }
    }

    /** The identity of {@code dataset}, opened from {@code dataPath}. */
    public static DataIdentity of(ImageDataset dataset, Path dataPath) {
        Path abs = dataPath.toAbsolutePath().normalize();
        Path root = Files.isDirectory(abs) || abs.getParent() == null ? abs : abs.getParent();
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            var classes = dataset.classes();
            for (int i = 0; i < dataset.size(); i++) {
                Path p = dataset.path(i).toAbsolutePath().normalize();
                String rel = p.startsWith(root) ? root.relativize(p).toString() : p.toString();
                int label = dataset.label(i);
                String cls = label < 0 || label >= classes.size() ? "" : classes.get(label);
                md.update((rel + "\t" + cls + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return new DataIdentity(dataset.size(), HexFormat.of().formatHex(md.digest()), abs.toString());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether two identities name the same data (the paths may differ). */
    public boolean sameData(DataIdentity other) {
        return other != null && images == other.images && sha256.equals(other.sha256);
    }
}
