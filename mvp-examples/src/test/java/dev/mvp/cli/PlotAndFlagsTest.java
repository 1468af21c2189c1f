package dev.mvp.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code mvp plot}, and the engine flags of {@code mvp pretrain} that are refused before any work starts. */
class PlotAndFlagsTest {

    record Result(int code, String out, String err) {}

    static Result mvp(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(code, out.toString(), err.toString());
    }

    private static Path run(Path dir, int steps) throws Exception {
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder();
        for (int s = 1; s <= steps; s++) {
            sb.append("{\"step\":").append(s).append(",\"loss\":").append(-s / (double) steps)
                    .append(",\"lr\":").append(1e-3 * s / steps).append(",\"grad_norm\":2.5}\n");
        }
        Files.writeString(dir.resolve("metrics.jsonl"), sb);
        return dir;
    }

    @Test
    void anEmptyPathIsRefusedForEveryPathFlagAndPlotSaysAFileIsNotARunFolder(@TempDir Path tmp) throws Exception {
        // "--out ''" (an unset shell variable) would be the working directory: refused before any work, exit 2
        for (String[] args : new String[][] {{"pretrain", "--out", ""}, {"knn", "--backbone", "raw-pixels", "--train", "x",
                "--val", "x", "--out", ""}, {"export", "--checkpoint", "x", "--format", "timm", "--out", ""},
                {"pretrain", "--data", ""}, {"plot", ""}, {"knn", "--backbone", "", "--train", "x", "--val", "x"},
                {"linprobe", "--backbone", "", "--train", "x", "--val", "x"}}) {
            Result r = mvp(args);
            assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(2);
            assertThat(r.err()).contains("an empty path; give a");
        }
        Path file = Files.writeString(tmp.resolve("afile"), "x");
        Result r = mvp("plot", file.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("RUN_DIR " + file + " is a file, not a run folder");
    }

    @Test
    void plotWritesAPngOfSeveralRuns(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 50), b = run(tmp.resolve("b"), 80);
        Path png = tmp.resolve("cmp.png");
        Result r = mvp("plot", a.toString(), b.toString(), "--out", png.toString(), "--metrics", "loss,lr,grad_norm");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("50 steps", "80 steps", "wrote " + png.toAbsolutePath());
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(1200);
        assertThat(img.getHeight()).isEqualTo(28 + 3 * 360);

        Result one = mvp("plot", a.toString());
        assertThat(one.code()).as(one.err()).isZero();
        assertThat(a.resolve("curves.png")).isRegularFile();
    }

    @Test
    void plotProblemsAreUsageErrorsNamingTheirCause(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 5);
        Result unknown = mvp("plot", a.toString(), "--metrics", "accuracy", "--out", tmp.resolve("x.png").toString());
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("accuracy").contains("loss, lr");
        Result missing = mvp("plot", tmp.resolve("nope").toString());
        assertThat(missing.code()).as("a missing path is a runtime error, as in every command").isEqualTo(1);
        assertThat(missing.err()).contains("nope");
        Path notARun = Files.createDirectories(tmp.resolve("empty"));
        Result empty = mvp("plot", notARun.toString());
        assertThat(empty.code()).as("an empty input folder is a runtime error, as in every command").isEqualTo(1);
        assertThat(empty.err()).contains("metrics.jsonl").doesNotContain("\tat ");
        Files.writeString(notARun.resolve("metrics.jsonl"), "");
        Result noSteps = mvp("plot", notARun.toString());
        assertThat(noSteps.code()).isEqualTo(1);
        assertThat(noSteps.err().strip()).isEqualTo("mvp plot: error: " + notARun.resolve("metrics.jsonl") + " holds no steps yet");
    }

    /** --out naming a folder writes the default name inside it; sizes out of range are usage errors. */
    @Test
    void plotIntoAFolderAndSizeLimits(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 5), b = run(tmp.resolve("b"), 5);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Result one = mvp("plot", a.toString(), "--out", empty.toString());
        assertThat(one.code()).as(one.err()).isZero();
        assertThat(empty).isDirectory();
        assertThat(ImageIO.read(empty.resolve("curves.png").toFile())).isNotNull();
        Path full = Files.createDirectories(tmp.resolve("victim"));
        Files.writeString(full.resolve("keep.txt"), "keep");
        Result two = mvp("plot", a.toString(), b.toString(), "--out", full.toString());
        assertThat(two.code()).as(two.err()).isZero();
        assertThat(two.out()).contains("wrote " + full.resolve("compare.png").toAbsolutePath());
        assertThat(full.resolve("keep.txt")).hasContent("keep");
        assertThat(ImageIO.read(full.resolve("compare.png").toFile())).isNotNull();
        // the name inside the folder is a folder itself: refused, nothing replaced, nothing left behind
        Path blocked = Files.createDirectories(tmp.resolve("blocked/curves.png"));
        Result refused = mvp("plot", a.toString(), "--out", blocked.getParent().toString());
        assertThat(refused.code()).isEqualTo(2);
        assertThat(refused.err().strip()).isEqualTo("mvp plot: error: cannot write " + blocked + ": it is a folder (name a file to write)");
        assertThat(blocked).isDirectory().isEmptyDirectory();
        // the parent of --out is a file: one line, exit 1, no Java class name
        Path file = Files.writeString(tmp.resolve("afile"), "x");
        Result notAFolder = mvp("plot", a.toString(), "--out", file.resolve("x.png").toString());
        assertThat(notAFolder.code()).isEqualTo(1);
        assertThat(notAFolder.err().strip()).isEqualTo("mvp plot: error: cannot write " + file.resolve("x.png") + ": "
                + file + " is not a folder");
        try (var files = Files.walk(tmp)) {
            assertThat(files.map(Path::toString)).noneMatch(f -> f.contains(".tmp-"));
        }
        String png = tmp.resolve("s.png").toString();
        for (String[] bad : new String[][] {{"--height", "-1", "--height must be in 0..10000 pixels (0: automatic), got -1"},
                {"--height", "10001", "--height must be in 0..10000"}, {"--width", "199", "--width must be in 200..10000 pixels, got 199"},
                {"--width", "100000", "--width must be in 200..10000"}, {"--height", "150", "--height 150 is too small for 2 panels (at least 200)"}}) {
            Result r = mvp("plot", a.toString(), "--out", png, bad[0], bad[1]);
            assertThat(r.code()).as(bad[0] + " " + bad[1]).isEqualTo(2);
            assertThat(r.err()).contains(bad[2]);
        }
        assertThat(Path.of(png)).doesNotExist();
    }

    @Test
    void conflictingOrMalformedEngineFlagsAreUsageErrors(@TempDir Path tmp) {
        String out = tmp.resolve("o").toString();
        Result both = mvp("pretrain", "--out", out, "--lr", "1e-3", "--base-lr", "1e-4");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--lr or --base-lr");
        Result warmups = mvp("pretrain", "--out", out, "--warmup-steps", "5", "--warmup-epochs", "1");
        assertThat(warmups.code()).isEqualTo(2);
        assertThat(warmups.err()).contains("--warmup-steps or --warmup-epochs");
        Result betas = mvp("pretrain", "--out", out, "--betas", "0.9");
        assertThat(betas.code()).isEqualTo(2);
        assertThat(betas.err()).contains("--betas", "'0.9'");
        Result device = mvp("pretrain", "--out", out, "--device", "tpu");
        assertThat(device.code()).isEqualTo(2);
        assertThat(device.err()).contains("--device", "'tpu'", "cuda:N");
        Result accum = mvp("pretrain", "--out", out, "--accum-steps", "0");
        assertThat(accum.code()).isEqualTo(2);
        assertThat(accum.err()).contains("--accum-steps");
        Result help = mvp("pretrain", "--help");
        assertThat(help.out()).contains("--accum-steps", "--base-lr", "--betas", "Default: 0.9,0.98", "--warmup-epochs",
                "--weight-decay-end", "--drop-path", "--layer-scale", "--precision", "--teacher-precision",
                "--checkpoint-every-epochs", "--max-non-finite", "--device", "Default: cpu", "fp32|bf16|fp16");
    }

    @Test
    void cudaOnAMachineWithoutItIsOneLineAndExitCode1BeforeAnythingIsRead(@TempDir Path tmp) {
        dev.mvp.api.Torch.init();
        org.junit.jupiter.api.Assumptions.assumeFalse(org.bytedeco.pytorch.global.torch.cuda_is_available(), "CUDA is here");
        Path out = tmp.resolve("o");
        Result cuda = mvp("pretrain", "--out", out.toString(), "--device", "cuda", "--data", tmp.resolve("none").toString());
        assertThat(cuda.code()).isEqualTo(1);
        assertThat(cuda.err().strip().lines()).hasSize(1);
        assertThat(cuda.err()).startsWith("mvp pretrain: error: --device cuda:0: CUDA is not available").contains("--device cpu");
        assertThat(cuda.out()).as("refused before the data (which does not exist) is opened").isEmpty();
        assertThat(out).doesNotExist();
    }
}
