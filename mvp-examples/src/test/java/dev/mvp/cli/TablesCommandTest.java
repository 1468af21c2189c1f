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

    @Test
    void kOtherThan20NaNResultsAFileNamedTwiceAndABarInAPath(@TempDir Path tmp) throws Exception {
        write(tmp.resolve("k5/results.json"), "{\"command\":\"knn\",\"backbone\":\"raw-pixels\",\"results\":[{\"k\":5,\"top1\":23.3}]}");
        write(tmp.resolve("nan/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"raw-pixels\",\"top1\":null}");
        write(tmp.resolve("bar/results.json"), "{\"command\":\"finetune\",\"backbone\":\"a|b.safetensors\",\"top1\":50.0}");
        var r = MainTest.mvp("tables", tmp.toString(), tmp.resolve("nan/results.json").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("| raw-pixels | - | NaN | - | - |", "| a\\|b.safetensors | - | - | 50.0 | - |",
                "knn results without k = 20, left out of the k-NN column: " + tmp.resolve("k5/results.json") + " (k = 5)");
        assertThat(r.out()).doesNotContain("newest of", "23.3");
        var only = MainTest.mvp("tables", tmp.resolve("k5").toString());
        assertThat(only.code()).isEqualTo(1);
        assertThat(only.err()).contains("knn results without k = 20 are left out").contains("(k = 5)");
    }

    private static void write(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }
}
