package dev.mvp.cli;

import dev.mvp.data.ImageDecoders;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code mvp pretrain --data FILE} (a file list) and {@code --decoder}: runs, records, and one-line errors. */
class PretrainDataFlagsTest {

    record Result(int code, String out, String err) {}

    static Result mvp(List<String> args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
        return new Result(code, out.toString(), err.toString());
    }

    /** A tiny run (ViT-Ti at 32x32, 8x8 patches, batch 4, 2 steps) on one libtorch thread and one data worker. */
    static List<String> run(Path data, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--data", data.toString(), "--out", out.toString(),
                "--img-size", "32", "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1", "--steps", "2",
                "--threads", "1", "--workers", "1"));
        args.addAll(List.of(more));
        return args;
    }

    /** 12 CIFAR-10 images: 6 copied next to the list (relative paths), 6 named by absolute path; labels are names. */
    static Path fileList(Path dir) throws Exception {
        Path cifar = TestPaths.sharedData().resolve("cifar10/test");
        Files.createDirectories(dir.resolve("images/cat"));
        StringBuilder lines = new StringBuilder("# path label\n");
        for (int i = 0; i < 6; i++) {
            String name = String.format("%04d.jpg", i);
            Files.copy(cifar.resolve("cat").resolve(name), dir.resolve("images/cat").resolve(name));
            lines.append("images/cat/").append(name).append(" cat\n");
            lines.append(cifar.resolve("dog").resolve(name)).append("\tdog\n");
        }
        return Files.writeString(dir.resolve("train.txt"), lines);
    }

    @Tag("e2e")
    @Test
    void aFileListTrainsAndTheDecoderIsRecorded(@TempDir Path tmp) throws Exception {
        Path list = fileList(tmp);
        Result r = mvp(run(list, tmp.resolve("o1")));
        assertThat(r.code()).as(r.err()).isZero();
        String auto = ImageDecoders.resolve("auto");
        assertThat(r.out()).contains("FileListDataset " + list + ": 12 images, 2 classes", "decoder " + auto, "done: 2 steps",
                "0 bad files skipped");
        String config = Files.readString(tmp.resolve("o1/config.json"));
        assertThat(config).contains("\"decoder\" : \"auto\"", "\"decoder\" : \"" + auto + "\"", "train.txt");

        Result io = mvp(run(list, tmp.resolve("o2"), "--decoder", "imageio"));
        assertThat(io.code()).as(io.err()).isZero();
        assertThat(io.out()).contains("decoder imageio", "done: 2 steps");
        assertThat(Files.readString(tmp.resolve("o2/config.json"))).contains("\"decoder\" : \"imageio\"")
                .doesNotContain("\"decoder\" : \"auto\"");
    }

    @Test
    void aBadLineOrAMissingListIsOneLineNamingTheFile(@TempDir Path tmp) throws Exception {
        Path list = fileList(tmp);
        Path mixed = Files.writeString(tmp.resolve("mixed.txt"), Files.readString(list) + "images/cat/0000.jpg\n");
        Result bad = mvp(run(mixed, tmp.resolve("o1")));
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err().strip().lines()).hasSize(1);
        assertThat(bad.err()).contains(mixed.toString() + " line 14: has no label but line 2 has one");

        Path firstMissing = Files.writeString(tmp.resolve("wrong-root.txt"), "cat/0000.jpg 3\n");
        Result wrong = mvp(run(firstMissing, tmp.resolve("o2")));
        assertThat(wrong.code()).isEqualTo(1);
        assertThat(wrong.err().strip().lines()).hasSize(1);
        assertThat(wrong.err()).contains("the first image listed in " + firstMissing + " does not exist: "
                + tmp.resolve("cat/0000.jpg") + " (relative paths resolve against " + tmp + ")");

        Path missing = tmp.resolve("nope.txt");
        Result none = mvp(run(missing, tmp.resolve("o3")));
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err().strip().lines()).hasSize(1);
        assertThat(none.err()).contains("image folder or file list not found: " + missing);
    }

    @Test
    void anUnknownDecoderIsAUsageError(@TempDir Path tmp) throws Exception {
        Result r = mvp(run(fileList(tmp), tmp.resolve("o"), "--decoder", "pil"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("--decoder: unknown decoder 'pil' (use auto, turbojpeg or imageio)");
        assertThat(tmp.resolve("o")).doesNotExist();
        Result help = mvp(List.of("pretrain", "--help"));
        assertThat(help.out()).contains("--decoder=auto|turbojpeg|imageio", "Default: auto", "--data=DIR|FILE");
    }

    @Tag("e2e")
    @Test
    void tooManyUndecodableImagesStopTheRunNamingTheFlagAndLeaveNoRunFolder(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("bad/a"));
        for (int i = 0; i < 6; i++) Files.writeString(data.resolve(i + ".jpg"), "not a jpeg");
        Result r = mvp(run(tmp.resolve("bad"), tmp.resolve("o")));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("could not be decoded, more than --max-bad-fraction 0.1 allows").doesNotContain("maxBadFraction");
        assertThat(r.err().lines().filter(l -> l.startsWith("mvp pretrain: error:"))).hasSize(1);
        assertThat(tmp.resolve("o")).doesNotExist();
    }
}
