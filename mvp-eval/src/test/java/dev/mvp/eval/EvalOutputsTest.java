package dev.mvp.eval;

import dev.mvp.data.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Evaluation outputs go through mvp-api's AtomicFiles: a failed write leaves no temporary file. */
class EvalOutputsTest {

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
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
