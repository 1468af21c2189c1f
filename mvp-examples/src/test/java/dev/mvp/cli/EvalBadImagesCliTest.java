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
}
