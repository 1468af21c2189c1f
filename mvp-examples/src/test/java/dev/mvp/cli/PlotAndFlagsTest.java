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
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("nope");
        Path notARun = Files.createDirectories(tmp.resolve("empty"));
        Result empty = mvp("plot", notARun.toString());
        assertThat(empty.code()).isEqualTo(2);
        assertThat(empty.err()).contains("metrics.jsonl").doesNotContain("\tat ");
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
