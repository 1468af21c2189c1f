package dev.mvp.cli;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line as a user meets it: help, exit codes, one-line errors, a small real run. */
class MainTest {

    record Result(int code, String out, String err) {}

    static Result mvp(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(code, out.toString(), err.toString());
    }

    /** Flags of a tiny run on real images: ViT-Ti at 32x32 with 8x8 patches, 3 steps unless {@code more} says. */
    static List<String> tinyRun(Path data, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--data", data.toString(), "--out", out.toString(),
                "--img-size", "32", "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1",
                "--threads", "1", "--workers", "2"));
        args.addAll(List.of(more));
        if (!args.contains("--steps")) args.addAll(List.of("--steps", "3"));
        return args;
    }

    @Test
    void helpListsEveryFlagWithItsDefault() {
        Result r = mvp("pretrain", "--help");
        assertThat(r.code()).isZero();
        for (String flag : new String[] {"--data", "--teacher", "--model", "--img-size", "--patch-size", "--mask-patches",
                "--batch-size", "--steps", "--epochs", "--lr", "--weight-decay", "--warmup-steps", "--seed", "--out",
                "--resume", "--threads"}) {
            assertThat(r.out()).contains(flag);
        }
        assertThat(r.out()).contains("Default: 0.0015", "Default: 0.05", "Default: mvp", "Default: random", "Default: tiny");
    }

    @Test
    void unknownOrMalformedFlagsAreUsageErrors() {
        Result unknown = mvp("pretrain", "--bogus");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("--bogus").doesNotContain("Exception").doesNotContain("\tat ");
        Result malformed = mvp("pretrain", "--lr", "fast");
        assertThat(malformed.code()).isEqualTo(2);
        assertThat(malformed.err()).contains("--lr").contains("fast");
        Result negative = mvp("pretrain", "--lr", "-1");
        assertThat(negative.code()).isEqualTo(2);
        assertThat(negative.err().lines().findFirst().orElseThrow()).contains("--lr");
        Result both = mvp("pretrain", "--steps", "5", "--epochs", "1");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--steps or --epochs");
    }

    @Test
    void missingOrEmptyDataFolderIsOneClearLine(@TempDir Path tmp) throws Exception {
        Result missing = mvp("pretrain", "--data", tmp.resolve("nope").toString(), "--out", tmp.resolve("o1").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err().strip().lines()).hasSize(1);
        assertThat(missing.err()).contains(tmp.resolve("nope").toString());

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Result none = mvp("pretrain", "--data", empty.toString(), "--out", tmp.resolve("o2").toString());
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains(empty.toString());
        assertThat(none.err().strip().lines()).hasSize(1);
    }

    @Test
    void teacherFileProblemsNameTheFileOrTensor(@TempDir Path tmp) throws Exception {
        Path data = TestPaths.sharedData().resolve("cifar10/test");
        Path notSafetensors = Files.writeString(tmp.resolve("clip.safetensors"), "this is not a checkpoint");
        Result r = mvp(tinyRun(data, tmp.resolve("o1"), "--teacher", notSafetensors.toString()).toArray(String[]::new));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("clip.safetensors");
        assertThat(r.err().strip().lines()).hasSize(1);

        Path incomplete = tmp.resolve("incomplete.safetensors");
        try (var full = dev.mvp.models.io.SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors"));
             var scope = new org.bytedeco.javacpp.PointerScope()) {
            var kept = new java.util.LinkedHashMap<String, org.bytedeco.pytorch.Tensor>();
            for (String name : full.names()) if (!name.equals("visual.proj")) kept.put(name, full.tensor(name));
            dev.mvp.models.io.SafeTensorsWriter.write(incomplete, kept);
        }
        Result m = mvp(tinyRun(data, tmp.resolve("o2"), "--teacher", incomplete.toString()).toArray(String[]::new));
        assertThat(m.code()).isEqualTo(1);
        assertThat(m.err()).contains("proj");
        assertThat(m.err().strip().lines()).hasSize(1);
    }

    @Test
    void badImagesAreSkippedWarnedAndCounted(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data/cat"));
        Path source = TestPaths.sharedData().resolve("cifar10/test/cat");
        try (var files = Files.list(source)) {
            for (Path f : files.sorted().limit(30).toList()) Files.copy(f, data.resolve(f.getFileName()));
        }
        byte[] jpeg = Files.readAllBytes(data.resolve("0000.jpg"));
        Files.write(data.resolve("truncated.jpg"), java.util.Arrays.copyOf(jpeg, jpeg.length / 3));
        Files.writeString(data.resolve("notes.jpg"), "not an image");

        Result r = mvp(tinyRun(tmp.resolve("data"), tmp.resolve("out"), "--steps", "10").toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("notes.jpg");
        assertThat(r.out()).contains("2 bad files skipped");
        assertThat(tmp.resolve("out/metrics.jsonl")).isRegularFile();
    }

    @Test
    void aRunThenItsResumptionFromTheCommandLine(@TempDir Path tmp) throws Exception {
        Path data = TestPaths.sharedData().resolve("cifar10/test");
        Path out = tmp.resolve("run");
        Result first = mvp(tinyRun(data, out, "--steps", "4", "--checkpoint-every", "2").toArray(String[]::new));
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("done: 4 steps", "random");
        assertThat(Files.readString(out.resolve("config.json"))).contains("\"img_size\"".replace("img_size", "image_size"));

        Result again = mvp(tinyRun(data, out).toArray(String[]::new));
        assertThat(again.code()).isEqualTo(2);
        assertThat(again.err()).contains("--resume");

        Result resumed = mvp("pretrain", "--resume", out.resolve("checkpoints/step-00000002").toString(),
                "--threads", "1", "--workers", "2");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("resuming from", "done: 4 steps (2 this time: steps 3-4, resumed at step 2)");
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(4);
    }
}
