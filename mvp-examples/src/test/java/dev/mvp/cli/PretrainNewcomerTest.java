package dev.mvp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.testing.TestPaths;
import dev.mvp.train.RunSummary;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.mvp.cli.MainTest.mvp;
import static dev.mvp.cli.MainTest.tinyRun;
import static org.assertj.core.api.Assertions.assertThat;

/** What a newcomer following the README meets in {@code mvp pretrain}: the teacher's grid, exit codes, the summaries. */
class PretrainNewcomerTest {

    private static final Path CLIP = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors"); // 64 px, patch 16: 4x4

    /** {@link MainTest#tinyRun} without its --img-size (and --patch-size): the size is the point here. */
    private static List<String> runWithoutImageSize(Path data, Path out, String... more) {
        List<String> args = new ArrayList<>(tinyRun(data, out, more));
        int i = args.indexOf("--img-size");
        args.subList(i, i + 4).clear(); // --img-size 32 --patch-size 8
        return args;
    }

    @Test
    @Tag("e2e")
    void aClipTeacherWithoutImgSizeSetsTheStudentsImageSizeAndAConflictingOneSaysWhichWouldMatch(@TempDir Path tmp) throws Exception {
        Path data = TestPaths.sharedData().resolve("cifar10/test");
        Path out = tmp.resolve("clip");
        MainTest.Result r = mvp(runWithoutImageSize(data, out, "--teacher", CLIP.toString(), "--steps", "2").toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("--img-size 64, from the teacher's 4x4 target grid x --patch-size 16 (--img-size not given)",
                "done: 2 steps");
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile()).path("config");
        assertThat(config.path("image_size").asInt()).isEqualTo(64);
        assertThat(config.path("image_size_source").asText()).startsWith("the teacher's 4x4 target grid");

        // --patch-size 8 without --img-size: 4x4 patches of 8 pixels
        MainTest.Result p8 = mvp(runWithoutImageSize(data, tmp.resolve("p8"), "--teacher", CLIP.toString(),
                "--patch-size", "8", "--steps", "1").toArray(String[]::new));
        assertThat(p8.code()).as(p8.err()).isZero();
        assertThat(p8.out()).contains("--img-size 32, from the teacher's 4x4 target grid x --patch-size 8");

        // given explicitly and conflicting: a usage error naming the --img-size that matches
        MainTest.Result conflict = mvp(runWithoutImageSize(data, tmp.resolve("conflict"), "--teacher", CLIP.toString(),
                "--img-size", "112").toArray(String[]::new));
        assertThat(conflict.code()).isEqualTo(2);
        assertThat(conflict.err().strip().lines()).hasSize(1);
        assertThat(conflict.err()).contains("targets lie on a 4x4 grid, the student's on 7x7 (--img-size 112, --patch-size 16): "
                + "--img-size 64 matches them");
    }

    @Test
    void everyEnumeratedFlagRefusesAnUnknownValueWithExitCode2NamingTheFlag(@TempDir Path tmp) {
        Map<String, String> flags = new java.util.LinkedHashMap<>();
        flags.put("--model", "huge");
        flags.put("--recipe", "simmim");
        flags.put("--tokenizer", "vqgan");
        flags.put("--masking", "checkerboard");
        flags.put("--backbone", "swin");
        flags.put("--loss", "l2");
        flags.put("--precision", "int8");
        flags.put("--teacher-precision", "fp64");
        flags.put("--device", "tpu");
        flags.put("--decoder", "libpng");
        flags.put("--augmentation", "mixup");
        int i = 0;
        for (var flag : flags.entrySet()) {
            Path out = tmp.resolve("o" + i++);
            MainTest.Result r = mvp("pretrain", flag.getKey(), flag.getValue(), "--out", out.toString(), "--threads", "1");
            assertThat(r.code()).as(flag + ": " + r.err()).isEqualTo(2);
            String first = r.err().lines().findFirst().orElse("");
            assertThat(first).as(flag.toString()).contains(flag.getKey()).contains(flag.getValue());
            assertThat(r.err()).as(flag.toString()).doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(out).as("nothing written for " + flag).doesNotExist();
        }
    }

    @Test
    void aPathAFlagNamesThatDoesNotExistIsARuntimeErrorForEveryFlag(@TempDir Path tmp) {
        Path nope = tmp.resolve("nope");
        for (String[] args : List.of(new String[] {"--data", nope.toString()},
                new String[] {"--teacher", nope + ".safetensors"},
                new String[] {"--resume", nope.toString()})) {
            MainTest.Result r = mvp("pretrain", args[0], args[1], "--out", tmp.resolve("o").toString(), "--threads", "1");
            assertThat(r.code()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(1);
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).contains(args[0]).contains(args[1]);
        }
    }

    @Test
    @Tag("e2e")
    void resumingACompleteRunSaysSoAndWritesNothing(@TempDir Path tmp) throws Exception {
        Path data = TestPaths.sharedData().resolve("cifar10/test");
        Path out = tmp.resolve("run");
        MainTest.Result first = mvp(tinyRun(data, out, "--steps", "3").toArray(String[]::new));
        assertThat(first.code()).as(first.err()).isZero();
        // fewer than 10 steps: the summary says how many it averaged
        assertThat(first.out()).contains("mean of the 3 good steps").doesNotContain("10 steps");
        // no lr flag: config.json records the default lr and its base lr, and says where they came from
        JsonNode root = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(root.path("config").path("lr").asDouble()).isEqualTo(1.5e-3);
        assertThat(root.path("config").path("base_lr").asDouble()).isEqualTo(1.5e-3 * 256 / 4);
        assertThat(root.path("config").path("lr_source").asText()).isEqualTo("DEFAULT");
        assertThat(root.path("environment").path("lr_rule").asText()).endsWith("(from: the default --lr)");
        // plain paths, as docs/DATA.md says
        assertThat(root.path("config").path("data").asText()).isEqualTo(data.toString());
        assertThat(root.path("config").path("out").asText()).isEqualTo(out.toString());

        String lastLine = Files.readAllLines(out.resolve("metrics.jsonl")).getLast();
        double lastLoss = new ObjectMapper().readTree(lastLine).path("loss").asDouble();
        Map<Path, String> before = contents(out);
        MainTest.Result again = mvp("pretrain", "--resume", out.toString(), "--threads", "1", "--workers", "2");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("already complete at step 3 of 3",
                String.format(java.util.Locale.ROOT, "final loss %.4f", lastLoss)).doesNotContain("NaN").doesNotContain("done:");
        assertThat(contents(out)).as("the run folder is unchanged").isEqualTo(before);
    }

    private static Map<Path, String> contents(Path dir) throws Exception {
        Map<Path, String> m = new java.util.TreeMap<>();
        try (var files = Files.walk(dir)) {
            // not the lock file, which every invocation locks and writes its pid into (docs/ENGINE.md)
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals(".lock")).toList()) {
                m.put(dir.relativize(f), Files.getLastModifiedTime(f) + " " + java.util.Arrays.hashCode(Files.readAllBytes(f)));
            }
        }
        return m;
    }

    @Test
    void theSummarySaysHowManyStepsItsMeansAverage() {
        Path m = Path.of("metrics.jsonl");
        // fewer than 10 good steps: the first and the last ones are the same steps, one mean
        RunSummary three = new RunSummary(3, 0.1, -0.2, -0.05, -0.05, 0, 0, 5, Path.of("c"), Path.of("r"), 3, 3, 3);
        assertThat(PretrainCommand.summaryLine(three, m)).contains("(mean of the 3 good steps -0.0500)");
        RunSummary ten = new RunSummary(10, 0.1, -0.2, -0.05, -0.05, 0, 0, 5, Path.of("c"), Path.of("r"), 10, 10, 10);
        assertThat(PretrainCommand.summaryLine(ten, m)).contains("(mean of the 10 good steps -0.0500)");
        RunSummary many = new RunSummary(100, 0.1, -0.7, 0.0, -0.6, 0, 0, 50, Path.of("c"), Path.of("r"), 100, 10, 100);
        assertThat(PretrainCommand.summaryLine(many, m)).contains("mean of first/last 10 steps");
        RunSummary complete = new RunSummary(100, Double.NaN, -0.7, Double.NaN, Double.NaN, 0, 0, 0, Path.of("c"),
                Path.of("r"), 0, 0, 100);
        assertThat(PretrainCommand.summaryLine(complete, m)).contains("already complete at step 100 of 100",
                "final loss -0.7000").doesNotContain("NaN");
    }

    @Test
    void theProgressBarSeparatesItsFieldsAndKeepsItsBarOnAnEightyColumnTerminal() {
        List<String> fields = List.of("loss -0.5212", "cosine 0.5212", "lr 1.23e-03", "35.2 img/s");
        String wide = ConsoleProgress.barLine("pretrain", 45, 100, 0, Duration.ofSeconds(30), fields, 200);
        assertThat(wide).contains("1.50 steps/s loss -0.5212").contains("eta 0m37s").doesNotContain("s/sloss");
        assertThat(bar(wide)).hasSize(ConsoleProgress.MAX_BAR);
        for (int width : new int[] {80, 60, 40}) {
            String line = ConsoleProgress.barLine("pretrain", 45, 100, 0, Duration.ofSeconds(30), fields, width);
            assertThat(line.length()).as(line).isLessThanOrEqualTo(width);
            assertThat(bar(line).length()).as(line).isGreaterThanOrEqualTo(ConsoleProgress.MIN_BAR);
            assertThat(line).as(line).contains("45/100").doesNotContain("  loss").doesNotContain("s/sloss");
        }
        // at 80 columns the loss still shows; the later fields give way first
        assertThat(ConsoleProgress.barLine("pretrain", 45, 100, 0, Duration.ofSeconds(30), fields, 80)).contains("loss -0.5212");
    }

    /** The characters between the brackets. */
    private static String bar(String line) {
        return line.substring(line.indexOf('[') + 1, line.indexOf(']'));
    }
}
