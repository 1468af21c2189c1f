package dev.mvp.cli;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * --img-size and --patch-size: the model preset's own 224 pixels are never checked against --patch-size (12 does not
 * divide 224, but 48 is what the run uses); without --img-size, a default that --patch-size does not divide gives
 * way to the teacher's grid, and without a teacher grid it is a usage error naming both flags.
 */
@Tag("e2e")
class PretrainSizeFlagsTest {
    private static final Path CLIP = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors"); // 4x4 grid
    private static final Path DATA = TestPaths.sharedData().resolve("cifar10/test");

    static String[] run(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("pretrain", "--data", DATA.toString(), "--out", out.toString(),
                "--batch-size", "4", "--warmup-steps", "1", "--steps", "1", "--threads", "1", "--workers", "1"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void aPatchSizeThatDoesNotDivideThePresetsSizeIsJudgedAgainstImgSize(@TempDir Path tmp) {
        MainTest.Result r = mvp(run(tmp.resolve("p12"), "--img-size", "48", "--patch-size", "12"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("done: 1 steps");

        MainTest.Result bad = mvp(run(tmp.resolve("bad"), "--img-size", "50", "--patch-size", "12"));
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--img-size 50 must be a positive multiple of --patch-size 12");
    }

    @Test
    void withoutImgSizeTheTeachersGridDecidesAndWithoutOneTheDefaultIsNamed(@TempDir Path tmp) {
        MainTest.Result r = mvp(run(tmp.resolve("clip"), "--teacher", CLIP.toString(), "--patch-size", "32"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("--img-size 128, from the teacher's 4x4 target grid x --patch-size 32");

        MainTest.Result random = mvp(run(tmp.resolve("random"), "--patch-size", "32"));
        assertThat(random.code()).isEqualTo(2);
        assertThat(random.err().strip().lines()).hasSize(1);
        assertThat(random.err()).contains("--img-size 112 (the default) is not a multiple of --patch-size 32: give "
                + "--img-size (e.g. 128)");
        assertThat(tmp.resolve("random")).doesNotExist();
    }

    @Test
    void outOfRangeSizesRatesAndStepsAreUsageErrorsNamingTheFlagBeforeAnyWork(@TempDir Path tmp) {
        String[][] cases = {
                {"--patch-size", "0", "--patch-size must be in 1..1024, got 0"},
                {"--img-size", "100000", "--img-size 100000 is too large: at most 1024 pixels and 64 patches a side"},
                {"--img-size", "2048", "--img-size 2048 is too large"},
                {"--lr", "1e300", "--lr must be in (0, 1000], got 1.0E300"},
                {"--base-lr", "1e300", "--base-lr 1.0E300 gives lr"},
                {"--weight-decay", "1e300", "--weight-decay must be in [0, 1000], got 1.0E300"},
                {"--layer-scale", "1e300", "--layer-scale must be in [0, 1000] (0 = none), got 1.0E300"},
                {"--steps", "0", "--steps must be at least 1 (or give --epochs), got 0"},
                {"--epochs", "0", "--epochs must be at least 1, got 0"},
                {"--clip-grad", "3.5e38", "--clip-grad must be in [0, 1000000] (0: no clipping), got 3.5E38"},
                {"--clip-grad", "Infinity", "--clip-grad must be in [0, 1000000]"},
                {"--accum-steps", "1073741824", "--batch-size 2 x --accum-steps 1073741824 must be at most 2147483647"},
                {"--teacher", "", "--teacher: an empty path; give a weight file or 'random'"},
                {"--resume", "", "--resume: an empty path; give a run or checkpoint folder, or 'auto'"},
                {"--teacher-cache", DATA.resolve("cat/0000.jpg").toString(), "is a file; give a folder"}};
        for (String[] c : cases) {
            Path out = tmp.resolve("r");
            List<String> args = new ArrayList<>(List.of("pretrain", "--data", DATA.toString(), "--out", out.toString(),
                    "--batch-size", "2", c[0], c[1]));
            MainTest.Result r = mvp(args.toArray(String[]::new));
            assertThat(r.code()).as(c[0] + " " + c[1] + ": " + r.err()).isEqualTo(2);
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).as(c[0]).contains(c[2]);
            assertThat(out).as("nothing is left behind").doesNotExist();
        }
        // the largest sizes are taken: 1024 pixels with 16-pixel patches is a 64x64 grid
        assertThat(mvp("pretrain", "--img-size", "1024", "--patch-size", "8", "--out", tmp.resolve("g").toString()).err())
                .contains("at most 1024 pixels and 64 patches a side (512 at --patch-size 8)");
    }

    @Test
    void tooManyThreadsOrWorkersAreAUsageError(@TempDir Path tmp) {
        for (String flag : List.of("--threads", "--workers")) {
            MainTest.Result r = mvp("pretrain", "--data", DATA.toString(), "--out", tmp.resolve("t").toString(), flag, "100000");
            assertThat(r.code()).as(r.err()).isEqualTo(2);
            assertThat(r.err().strip().lines()).hasSize(1);
            assertThat(r.err()).contains(flag + " 100000 is more than " + dev.mvp.train.PretrainConfig.MAX_THREADS);
            assertThat(tmp.resolve("t")).doesNotExist();
        }
    }

    @Test
    void outIsCheckedBeforeAnythingIsLoadedAndLeavesNoFoldersBehind(@TempDir Path tmp) throws Exception {
        // a name too long for the file system: one line, exit 1, and none of the folders on the way is left
        Path longOut = tmp.resolve("long/x/" + "n".repeat(300));
        MainTest.Result r = mvp(run(longOut));
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.err().strip().lines()).singleElement().satisfies(l -> assertThat(l).contains("cannot write to --out"));
        assertThat(r.out()).doesNotContain("ImageFolder"); // before the data is opened
        assertThat(tmp.resolve("long")).doesNotExist();

        // a file in the way: a usage error, before a missing --data is even looked at
        Path file = java.nio.file.Files.writeString(tmp.resolve("file"), "x");
        MainTest.Result f = mvp("pretrain", "--data", tmp.resolve("missing").toString(), "--out", file.toString());
        assertThat(f.code()).isEqualTo(2);
        assertThat(f.err()).contains("--out " + file + " is a file");

        // a run that fails before its first step (a batch larger than the data) removes the folders it made
        MainTest.Result big = mvp("pretrain", "--data", DATA.toString(), "--out", tmp.resolve("a/b/run").toString(),
                "--img-size", "32", "--patch-size", "8", "--batch-size", "100000", "--steps", "1", "--threads", "1",
                "--workers", "1");
        assertThat(big.code()).as(big.err()).isEqualTo(1);
        assertThat(big.err()).contains("fewer images than one batch of 100000: lower --batch-size");
        assertThat(tmp.resolve("a")).doesNotExist();
    }
}
