package dev.mvp.api.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A failed write (a full disk, a folder in the way) leaves no temporary file and the previous file untouched. */
class AtomicFilesTest {

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aWriteFailingMidwayRemovesItsTemporaryFile(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("results.json");
        Files.writeString(file, "old\n");
        assertThatThrownBy(() -> AtomicFiles.write(file, t -> {
            Files.writeString(t, "half");
            throw new IOException("No space left on device");
        })).isInstanceOf(UncheckedIOException.class).hasMessage("cannot write " + file + ": No space left on device");
        assertThat(names(tmp)).containsExactly("results.json");
        assertThat(Files.readString(file)).isEqualTo("old\n");
        AtomicFiles.writeString(file, "new\n");
        assertThat(Files.readString(file)).isEqualTo("new\n");
        assertThat(names(tmp)).containsExactly("results.json");
    }

    @Test
    void aPngIsWrittenWithTheUsualPermissionsAndReadsBack(@TempDir Path tmp) throws Exception {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(3, 2, java.awt.image.BufferedImage.TYPE_INT_RGB);
        image.setRGB(1, 1, 0x123456);
        Path png = tmp.resolve("sheet.png");
        AtomicFiles.writePng(png, image);
        java.awt.image.BufferedImage back = javax.imageio.ImageIO.read(png.toFile());
        assertThat(back.getRGB(1, 1) & 0xFFFFFF).isEqualTo(0x123456);
        Path json = tmp.resolve("x.json");
        Files.writeString(json, "{}");
        assertThat(Files.getPosixFilePermissions(png)).isEqualTo(Files.getPosixFilePermissions(json));
        assertThat(names(tmp)).containsExactly("sheet.png", "x.json");
    }

    @Test
    void aPngEncoderErrorIsTheStreamsOwnReason() {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(64, 64, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.io.OutputStream full = new java.io.OutputStream() {
            @Override public void write(int b) throws IOException {
                throw new IOException("No space left on device");
            }
        };
        assertThatThrownBy(() -> AtomicFiles.encodePng(image, full)).isInstanceOf(IOException.class)
                .hasMessage("No space left on device");
    }

    @Test
    void reasonsAreWordsNotClassNames() {
        assertThat(AtomicFiles.reason(new java.nio.file.FileSystemException("/r/x.png", null, "Read-only file system")))
                .isEqualTo("/r/x.png: read-only file system");
        assertThat(AtomicFiles.reason(new java.nio.file.AccessDeniedException("/r/x.png"))).isEqualTo("/r/x.png: permission denied");
        assertThat(AtomicFiles.reason(new java.nio.file.NoSuchFileException("/r/x.png"))).isEqualTo("/r/x.png: no such file or folder");
        assertThat(AtomicFiles.reason(new IOException("No space left on device\n\tmore"))).isEqualTo("No space left on device");
        assertThat(AtomicFiles.reason(new IOException())).isEqualTo("input/output error");
    }

    @Test
    void missingFoldersAreCreatedAndAFileInTheWayIsNamed(@TempDir Path tmp) throws Exception {
        Path deep = tmp.resolve("a/b/results.json");
        AtomicFiles.writeString(deep, "{}");
        assertThat(Files.readString(deep)).isEqualTo("{}");
        Path file = Files.writeString(tmp.resolve("afile"), "x");
        assertThatThrownBy(() -> AtomicFiles.writeString(file.resolve("results.json"), "{}"))
                .isInstanceOf(UncheckedIOException.class)
                .hasMessage("cannot write " + file.resolve("results.json") + ": " + file + " is not a folder");
    }

    @Test
    void aFolderAtTheTemporaryNameIsNotOursAndIsKept(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("sheet.png");
        Path blocker = Files.createDirectory(tmp.resolve("sheet.png.tmp-" + ProcessHandle.current().pid()));
        assertThatThrownBy(() -> AtomicFiles.writeString(file, "x")).isInstanceOf(UncheckedIOException.class)
                .hasMessage("cannot write " + file + ": is a directory"); // the temporary name is not repeated
        assertThat(blocker).isDirectory();
        assertThat(file).doesNotExist();
    }
}
