package dev.mvp.cli;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.mvp.cli.MainTest.mvp;
import static dev.mvp.cli.MainTest.tinyRun;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code pretrain --resume} from the command line: the run folder is the checkpoint's (another --out is exit 2
 * naming both, and leaves that folder alone), a bad optimizer.pt is one line naming it, and a fresh run that fails
 * before its first step leaves no run folder.
 */
@Tag("e2e")
class ResumeRunFolderTest {

    @Test
    void resumeWritesIntoTheCheckpointsOwnRunAndRefusesAnotherOut(@TempDir Path tmp) throws Exception {
        Path data = TestPaths.sharedData().resolve("cifar10/test");
        Path a = tmp.resolve("A"), b = tmp.resolve("B");
        for (Path run : new Path[] {a, b}) {
            MainTest.Result r = mvp(tinyRun(data, run, "--steps", "4", "--checkpoint-every", "1", "--keep-checkpoints", "10").toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
        }
        byte[] metricsB = Files.readAllBytes(b.resolve("metrics.jsonl"));
        String a2 = a.resolve("checkpoints/step-00000002").toString();

        MainTest.Result other = mvp("pretrain", "--resume", a2, "--out", b.toString(), "--threads", "1", "--workers", "1");
        assertThat(other.code()).as(other.err()).isEqualTo(2);
        assertThat(other.err().lines().findFirst().orElseThrow()).contains("--out " + b, "--resume " + a2);
        assertThat(Files.readAllBytes(b.resolve("metrics.jsonl"))).isEqualTo(metricsB);
        try (var files = Files.list(b.resolve("checkpoints"))) {
            assertThat(files.count()).as("latest and its 4 checkpoints").isEqualTo(5);
        }

        // the same folder given as --out is fine: steps 3 and 4 run again in A
        MainTest.Result same = mvp("pretrain", "--resume", a2, "--out", a.toString(), "--threads", "1", "--workers", "1");
        assertThat(same.code()).as(same.err()).isZero();
        assertThat(Files.readAllLines(a.resolve("metrics.jsonl"))).hasSize(4);

        // a truncated optimizer.pt: one line naming it, before any step
        Path optimizer = a.resolve("checkpoints/step-00000003/optimizer.pt");
        byte[] bytes = Files.readAllBytes(optimizer);
        Files.write(optimizer, Arrays.copyOf(bytes, bytes.length / 3));
        MainTest.Result bad = mvp("pretrain", "--resume", optimizer.getParent().toString(), "--threads", "1",
                "--workers", "1");
        assertThat(bad.code()).as(bad.out() + bad.err()).isEqualTo(1);
        assertThat(bad.err().strip().lines()).singleElement().asString()
                .contains("cannot resume from " + optimizer + ": not a libtorch optimiser archive");
        assertThat(bad.out()).doesNotContain("step 4/");
        // refused before the rewind: the later checkpoint is still there, and still the latest
        assertThat(Files.readString(a.resolve("checkpoints/latest")).trim()).isEqualTo("step-00000004");
    }

    @Test
    void aFreshRunOnUndecodableFilesLeavesNoRunFolder(@TempDir Path tmp) throws Exception {
        Path junk = Files.createDirectories(tmp.resolve("junk"));
        for (int i = 0; i < 8; i++) Files.writeString(junk.resolve(i + ".jpg"), "not an image " + i);
        Path out = tmp.resolve("run");
        MainTest.Result r = mvp(tinyRun(junk, out).toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(out).doesNotExist();
    }
}
