package dev.mvp.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What identifies a run's teacher file wherever it sits: its size and the SHA-256 of its bytes (measured: 0.33 s for a
 * 350 MB file, 7 ms for the 0.6 MB CLIP test fixture; once per start or resumption). Recorded in {@code config.json}
 * ({@code environment.teacher_identity}, with the absolute path) when a run starts and by every resumption; a
 * resumption with a teacher file of another identity is refused ({@link TeacherChangedException}); the same file
 * at another path is accepted.
 *
 * @param size   the file's size in bytes
 * @param sha256 the SHA-256 of the file
 * @param path   the absolute path the identity was taken from (not part of the identity)
 */
public record TeacherIdentity(long size, String sha256, String path) {

    /** A resumption with a teacher file of another identity than the run's. */
    public static final class TeacherChangedException extends IllegalArgumentException {
        TeacherChangedException(String message) {
            super(message);
        }
    }

    /** Whether {@code teacher} (a --teacher value) names a file rather than a keyword such as {@code random}. */
    public static boolean isFile(String teacher) {
        return teacher != null && !teacher.equals("random") && Files.isRegularFile(Path.of(teacher));
    }

    /** {@code teacher} as an absolute, normalised path when it names an existing file; else as it is. */
    public static String absolute(String teacher) {
        return isFile(teacher) ? Path.of(teacher).toAbsolutePath().normalize().toString() : teacher;
    }

    /** The identity of a teacher file. */
    public static TeacherIdentity of(Path file) {
        Path abs = file.toAbsolutePath().normalize();
        try (InputStream in = Files.newInputStream(abs)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            long size = 0;
            for (int n; (n = in.read(buf)) > 0; size += n) md.update(buf, 0, n);
            return new TeacherIdentity(size, HexFormat.of().formatHex(md.digest()), abs.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read --teacher", file, e), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether two identities name the same file content (the paths may differ). */
    public boolean sameFile(TeacherIdentity other) {
        return other != null && size == other.size && sha256.equals(other.sha256);
    }
}
