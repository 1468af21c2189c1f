package dev.mvp.cli;

import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Evaluation commands skip an undecodable image with one warning, say so, and carry on (within 1% of the images). */
class EvalBadImagesCliTest {

    @Test
    void knnLeavesOutAnUndecodableImageAndSaysSo(@TempDir Path tmp) throws Exception {
        var sample = ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample"));
        for (int i = 0; i < 120; i++) {
            int k = i * 8;
            Path dir = Files.createDirectories(tmp.resolve("data").resolve(sample.classes().get(sample.label(k))));
            Files.copy(sample.path(k), dir.resolve(String.format("%03d.jpg", i)));
        }
        Files.writeString(tmp.resolve("data/cat/broken.jpg"), "not an image");
        MainTest.Result r = MainTest.mvp("knn", "--backbone", "raw-pixels", "--train", tmp.resolve("data").toString(),
                "--val", tmp.resolve("data").toString(), "--threads", "1", "--workers", "1", "--no-cache",
                "--out", tmp.resolve("out").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("train features: 120 x 3072", "train features: 1 undecodable image skipped",
                "val features: 1 undecodable image skipped", "top-1");
        // the warning line itself ("skipping undecodable image <path>: <reason>") goes to the process's standard error
    }

    /** Too many bad files: the error counts every warned file and names the flag that allows more. */
    @Test
    void tooManyUndecodableImagesNameTheCountAndTheFlag(@TempDir Path tmp) throws Exception {
        var sample = ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample"));
        for (int i = 0; i < 100; i++) {
            int k = i * 9;
            Path dir = Files.createDirectories(tmp.resolve("data").resolve(sample.classes().get(sample.label(k))));
            Files.copy(sample.path(k), dir.resolve(String.format("%03d.jpg", i)));
        }
        for (String name : new String[] {"a", "b", "c"}) Files.writeString(tmp.resolve("data/cat/broken-" + name + ".jpg"), "no");
        String[] args = {"knn", "--backbone", "raw-pixels", "--train", tmp.resolve("data").toString(), "--val",
                tmp.resolve("data").toString(), "--threads", "1", "--workers", "2", "--no-cache", "--out", tmp.resolve("out").toString()};
        MainTest.Result r = MainTest.mvp(args);
        assertThat(r.code()).as(r.out()).isEqualTo(1);
        String line = r.err().strip();
        assertThat(line.lines()).hasSize(1);
        assertThat(line).contains("train features: 3 of the 103 images could not be decoded (the 3 warnings above)",
                "more than --max-bad-fraction 0.01 allows", "broken-").doesNotContain("maxBadFraction");
        String[] allowed = java.util.Arrays.copyOf(args, args.length + 2);
        allowed[args.length] = "--max-bad-fraction";
        allowed[args.length + 1] = "0.05";
        MainTest.Result ok = MainTest.mvp(allowed);
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("train features: 3 undecodable images skipped");
        MainTest.Result bad = MainTest.mvp("knn", "--backbone", "raw-pixels", "--train", "x", "--val", "x", "--max-bad-fraction", "2");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--max-bad-fraction must be in [0, 1], got 2.0");
    }
}
