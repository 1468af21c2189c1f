package dev.mvp.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code mvp tables}: EvalTables from the launcher, with the command line's errors. */
class TablesCommandTest {

    @Test
    void tablesCommandPrintsTheTableAndRefusesAMissingFolder(@TempDir Path tmp) throws Exception {
        write(tmp.resolve("a/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"raw-pixels\",\"top1\":26.1}");
        var r = MainTest.mvp("tables", tmp.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| raw-pixels | - | 26.1 | - | - |");
        var missing = MainTest.mvp("tables", tmp.resolve("none").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("none: no such folder or file");
        var empty = MainTest.mvp("tables", Files.createDirectories(tmp.resolve("empty")).toString());
        assertThat(empty.code()).isEqualTo(1);
        assertThat(empty.err()).contains("no results.json");
    }

    private static void write(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }
}
