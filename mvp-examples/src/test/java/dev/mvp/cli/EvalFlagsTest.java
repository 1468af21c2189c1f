package dev.mvp.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every numeric flag of the evaluation commands (knn, linprobe, finetune, segment, attention) is checked before any
 * work: NaN, Infinity, out-of-range and oversized values are one-line usage errors (exit 2) naming the flag, and no
 * output folder is left behind; --out is checked (created and written) before any work. The backbone is a tiny ViT
 * (width 64, 2 blocks, 4 heads, patch 8, 32x32 images).
 */
class EvalFlagsTest {
    @TempDir static Path tmp;
    static Path backbone;
    static Path sample;

    @BeforeAll
    static void tinyBackbone() {
        backbone = EvalCommandsTest.writeTinyBackbone(tmp.resolve("tiny.safetensors"));
        sample = TestPaths.repoRoot().resolve("data/cifar10-sample");
    }

    static String[] base(String command, Path out) {
        String b = backbone.toString(), s = sample.toString();
        return switch (command) {
            case "knn", "linprobe" -> new String[] {command, "--backbone", b, "--train", s, "--val", s, "--out", out.toString()};
            case "knn-raw" -> new String[] {"knn", "--backbone", "raw-pixels", "--train", s, "--val", s, "--out", out.toString()};
            case "finetune" -> new String[] {command, "--backbone", b, "--train", s, "--val", s, "--batch-size", "8", "--out", out.toString()};
            case "segment" -> new String[] {command, "--backbone", b, "--data", tmp.toString(), "--out", out.toString()};
            case "attention" -> new String[] {command, "--backbone", b, "--images", s.toString(), "--out", out.toString()};
            default -> throw new IllegalArgumentException(command);
        };
    }

    /** {command, flag, value, text the error must contain}. */
    static final String[][] BAD = {
            {"knn", "--crop-pct", "NaN", "--crop-pct"},
            {"knn", "--crop-pct", "1.5", "--crop-pct"},
            {"knn", "--crop-pct", "0.0001", "--crop-pct"},
            {"knn", "--img-size", "100000", "--img-size must be 0 (the backbone's own) or a multiple of the patch size 8"},
            {"knn", "--img-size", "17", "multiple of the patch size 8 in 8..512, got 17"},
            {"knn-raw", "--img-size", "100000", "--img-size must be in 0..256"},
            {"knn", "--heads", "7", "--heads 7"},
            {"knn", "--heads", "-1", "--heads must be >= 0"},
            {"knn", "--temperature", "NaN", "--temperature"},
            {"knn", "--temperature", "Infinity", "--temperature"},
            {"knn", "--max-bad-fraction", "NaN", "--max-bad-fraction"},
            {"knn", "--batch-size", "0", "--batch-size"},
            {"knn", "--block", "5", "--block"},
            {"linprobe", "--blr", "Infinity", "--blr must be in (0, 1000], got Infinity"},
            {"linprobe", "--blr", "NaN", "--blr"},
            {"linprobe", "--weight-decay", "NaN", "--weight-decay"},
            {"linprobe", "--warmup-epochs", "NaN", "--warmup-epochs"},
            {"linprobe", "--warmup-epochs", "100", "--warmup-epochs must be in [0, 90]"},
            {"linprobe", "--epochs", "0", "--epochs"},
            {"linprobe", "--probe-batch-size", "0", "--probe-batch-size"},
            {"linprobe", "--max-bad-fraction", "2", "--max-bad-fraction"},
            {"finetune", "--mixup", "NaN", "--mixup "},
            {"finetune", "--mixup", "-1", "--mixup "},
            {"finetune", "--cutmix", "NaN", "--cutmix"},
            {"finetune", "--reprob", "NaN", "--reprob"},
            {"finetune", "--reprob", "1.5", "--reprob must be in [0, 1]"},
            {"finetune", "--mixup-prob", "NaN", "--mixup-prob"},
            {"finetune", "--mixup-switch-prob", "NaN", "--mixup-switch-prob"},
            {"finetune", "--model-ema-decay", "NaN", "--model-ema-decay"},
            {"finetune", "--model-ema-decay", "1", "--model-ema-decay must be in [0, 1)"},
            {"finetune", "--min-lr", "1", "--min-lr must be in [0, 0.004]"},
            {"finetune", "--lr", "NaN", "--lr"},
            {"finetune", "--smoothing", "1.5", "--smoothing"},
            {"finetune", "--drop-path", "NaN", "--drop-path"},
            {"finetune", "--drop-path", "1", "--drop-path"},
            {"finetune", "--layer-decay", "0", "--layer-decay"},
            {"finetune", "--weight-decay", "Infinity", "--weight-decay"},
            {"finetune", "--warmup-epochs", "200", "--warmup-epochs"},
            {"finetune", "--img-size", "17", "--img-size"},
            {"finetune", "--img-size", "4000", "--img-size"},
            {"finetune", "--heads", "7", "--heads 7"},
            {"finetune", "--max-bad-fraction", "-1", "--max-bad-fraction"},
            {"segment", "--stride", "-1", "--stride"},
            {"segment", "--stride", "1000", "--stride must be in 0..32"},
            {"segment", "--max-train", "-1", "--max-train"},
            {"segment", "--max-val", "-1", "--max-val"},
            {"segment", "--lr", "NaN", "--lr"},
            {"segment", "--num-classes", "0", "--num-classes"},
            {"segment", "--num-classes", "300", "--num-classes"},
            {"segment", "--aux-weight", "NaN", "--aux-weight"},
            {"segment", "--cat-max-ratio", "NaN", "--cat-max-ratio"},
            {"segment", "--weight-decay", "Infinity", "--weight-decay"},
            {"segment", "--layer-decay", "NaN", "--layer-decay"},
            {"segment", "--warmup-iters", "-1", "--warmup-iters"},
            {"segment", "--iters", "0", "--iters"},
            {"segment", "--img-size", "4000", "--img-size"},
            {"segment", "--heads", "7", "--heads 7"},
            {"segment", "--out-indices", "0,0,1,9", "--out-indices"},
            {"segment", "--max-bad-fraction", "NaN", "--max-bad-fraction"},
            {"attention", "--zoom", "10000", "--zoom must be in 0..16"},
            {"attention", "--zoom", "16", "--zoom 16 makes"},
            {"attention", "--img-size", "4000", "--img-size"},
            {"attention", "--img-size", "17", "--img-size"},
            {"attention", "--per-sheet", "0", "--per-sheet"},
            {"attention", "--crop-pct", "NaN", "--crop-pct"},
            {"attention", "--crop-pct", "0.0001", "--crop-pct"},
            {"attention", "--heads", "7", "--heads 7"},
            {"attention", "--max-bad-fraction", "NaN", "--max-bad-fraction"},
            {"attention", "--threads", "100000", "--threads must be in 0.." + Flags.maxThreads()},
            {"knn", "--threads", "100000", "--threads must be in 0.." + Flags.maxThreads()},
            {"knn", "--workers", "100000", "--workers must be in 0.." + Flags.maxThreads()},
            {"linprobe", "--threads", "-1", "--threads must be in 0.."},
            {"linprobe", "--workers", "100000", "--workers must be in 0.."},
            {"finetune", "--threads", "100000", "--threads must be in 0.."},
            {"finetune", "--workers", "100000", "--workers must be in 0.."},
            {"segment", "--threads", "100000", "--threads must be in 0.."},
            {"segment", "--workers", "100000", "--workers must be in 0.."},
    };

    @Test
    void everyBadNumberIsAOneLineUsageErrorNamingItsFlagBeforeAnyWork() {
        List<String> failures = new ArrayList<>();
        int i = 0;
        for (String[] row : BAD) {
            Path out = tmp.resolve("out-" + i++);
            String[] args = Stream.concat(Arrays.stream(base(row[0], out)), Stream.of(row[1], row[2])).toArray(String[]::new);
            if (row[0].equals("attention") && row[1].equals("--zoom") && row[2].equals("16")) {
                args = Stream.concat(Arrays.stream(args), Stream.of("--img-size", "512")).toArray(String[]::new);
            }
            MainTest.Result r = mvp(args);
            String what = String.join(" ", row) + " -> exit " + r.code() + ": " + r.err().strip();
            if (r.code() != 2 || !r.err().contains(row[3]) || r.err().strip().lines().count() > 2
                    || r.err().contains("Exception") || r.err().contains("\tat ") || Files.exists(out)) {
                failures.add(what);
            }
        }
        assertThat(failures).as("bad values that were not a one-line usage error naming the flag").isEmpty();
    }

    @Test
    void anOutputThatIsAFileOrUnderAFileStopsBeforeAnyWork() throws Exception {
        Path file = Files.writeString(tmp.resolve("config.json"), "{}");
        for (String command : new String[] {"knn", "linprobe", "finetune", "segment", "attention"}) {
            MainTest.Result r = mvp(base(command, file));
            assertThat(r.code()).as(command + ": " + r.err()).isEqualTo(2);
            assertThat(r.err()).contains("--out " + file + " is a file");
            assertThat(r.out()).as(command).doesNotContain("epoch", "features", "iter ");
            MainTest.Result under = mvp(base(command, file.resolve("run")));
            assertThat(under.code()).as(command + ": " + under.err()).isEqualTo(1);
            assertThat(under.err()).contains("cannot write to --out " + file.resolve("run") + ": ")
                    .containsAnyOf("not a directory", "already exists").doesNotContain("Exception");
            assertThat(under.err().strip().lines().count()).isEqualTo(1);
        }
        assertThat(Files.readString(file)).isEqualTo("{}");
    }

    @Test
    void errorLinesCarryNoJavaClassNames() {
        assertThat(Main.oneLine(new UncheckedIOException(new IOException("disk full")))).isEqualTo("disk full");
        assertThat(Main.oneLine(new FileAlreadyExistsException("/tmp/t/run1/config.json")))
                .isEqualTo("/tmp/t/run1/config.json: already exists (a file where a folder is needed?)");
        assertThat(Main.oneLine(new UncheckedIOException(new FileSystemException("/tmp/rom/ft", null, "Read-only file system"))))
                .isEqualTo("/tmp/rom/ft: read-only file system");
        assertThat(Main.oneLine(new IllegalStateException("cannot read x: java.io.IOException: Stale file handle")))
                .isEqualTo("cannot read x: Stale file handle");
        assertThat(Main.oneLine(new RuntimeException("plain words"))).isEqualTo("plain words");
    }

    @Test
    void learningRatesThatWouldOverflowAreUsageErrors() {
        // 1e300 used to reach libtorch: "value cannot be converted to type float without overflow"
        MainTest.Result r = mvp("linprobe", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString(),
                "--blr", "1e300", "--out", tmp.resolve("overflow").toString());
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--blr must be in (0, 1000], got 1.0E300");
    }

    @Test
    void classMismatchNamesTheFirstDifferingClass() throws Exception {
        Path train = tmp.resolve("cls-train"), val = tmp.resolve("cls-val");
        for (String[] c : new String[][] {{"cat", "dog"}, {"cat", "dot"}}) {
            Path root = c[1].equals("dog") ? train : val;
            for (String name : c) {
                Path d = Files.createDirectories(root.resolve(name));
                Files.copy(sample.resolve("cat/0000.jpg"), d.resolve("0.jpg"));
            }
        }
        MainTest.Result r = mvp("knn", "--backbone", "raw-pixels", "--train", train.toString(), "--val", val.toString(),
                "--k", "1", "--out", tmp.resolve("cls-out").toString());
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("(2 vs 2; class 1 is 'dog' in --train, 'dot' in --val)");
        assertThat(LabelledSplits.difference(List.of("a", "b", "c"), List.of("a", "b"))).isEqualTo("3 vs 2; --val has no 'c'");
    }

    @Test
    void aDamagedFeatureCacheEntryIsRecomputedWithOneWarning() throws Exception {
        Path cache = tmp.resolve("cache");
        String[] args = {"knn", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "3", "--val-per-class", "2", "--k", "2", "--threads", "1", "--workers", "1",
                "--cache", cache.toString(), "--out", tmp.resolve("cache-out").toString()};
        MainTest.Result first = mvp(args);
        assertThat(first.code()).as(first.err()).isZero();
        List<Path> shards;
        try (var files = Files.walk(cache)) {
            shards = files.filter(f -> f.getFileName().toString().startsWith("shard-")).toList();
        }
        assertThat(shards).isNotEmpty();
        for (Path shard : shards) Files.write(shard, new byte[] {1, 2, 3});
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
        MainTest.Result second;
        try {
            System.setErr(new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
            second = mvp(args);
        } finally {
            System.setErr(stderr);
        }
        assertThat(second.code()).as(second.err()).isZero();
        String warned = warnings.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(warned).contains("is damaged", "recomputing it", "shard-00000.safetensors");
        assertThat(warned.lines().filter(l -> l.contains("is damaged")).count()).isEqualTo(shards.size());
        MainTest.Result third = mvp(args);
        assertThat(third.code()).isZero();
        assertThat(third.out()).contains("read from the cache");
        assertThat(third.err()).doesNotContain("damaged");
        assertThat(new ObjectMapper().readTree(tmp.resolve("cache-out/results.json").toFile()).path("command").asText()).isEqualTo("knn");
    }
}
