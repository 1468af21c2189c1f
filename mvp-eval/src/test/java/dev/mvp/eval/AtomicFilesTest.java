package dev.mvp.eval;

import dev.mvp.data.RgbImage;
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
    void resultsAndAttentionSheetsLeaveNoTemporaryFileWhenTheRenameFails(@TempDir Path tmp) throws Exception {
        // a non-empty folder where the file should go: the rename fails after the temporary file was written
        Files.createDirectories(tmp.resolve("results.json/x"));
        Files.createDirectories(tmp.resolve("attention-000.png/x"));
        assertThatThrownBy(() -> Results.write(tmp.resolve("results.json"), Results.object().put("top1", 1.0)))
                .hasMessageStartingWith("cannot write " + tmp.resolve("results.json") + ": ")
                .hasMessageNotContaining("java.").hasMessageNotContaining("Exception");
        var entry = new AttentionMaps.Entry(new RgbImage(4, 4, new byte[4 * 4 * 3]), new float[16], "x");
        assertThatThrownBy(() -> AttentionMaps.writeSheet(List.of(entry), 1, tmp.resolve("attention-000.png")))
                .hasMessageStartingWith("cannot write " + tmp.resolve("attention-000.png") + ": ")
                .hasMessageNotContaining("Exception");
        assertThat(names(tmp)).containsExactly("attention-000.png", "results.json");
    }
}
