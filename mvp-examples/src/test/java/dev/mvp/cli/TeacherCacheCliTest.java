package dev.mvp.cli;

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

/** {@code mvp pretrain --teacher-cache}: built on the first run, reused by the next, refused without fixed crops. */
@Tag("e2e")
class TeacherCacheCliTest {

    record Result(int code, String out, String err) {}

    static Result mvp(List<String> args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
        return new Result(code, out.toString(), err.toString());
    }

    static List<String> run(Path data, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--data", data.toString(), "--out", out.toString(),
                "--img-size", "32", "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1", "--steps", "2",
                "--threads", "1", "--workers", "1"));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void theCacheIsBuiltOnceAndReused(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data/cat"));
        try (var files = Files.list(TestPaths.sharedData().resolve("cifar10/test/cat"))) {
            for (Path f : files.sorted().limit(12).toList()) Files.copy(f, data.resolve(f.getFileName()));
        }
        Path cache = tmp.resolve("cache");
        Result refused = mvp(run(tmp.resolve("data"), tmp.resolve("o0"), "--teacher-cache", cache.toString()));
        assertThat(refused.code()).isEqualTo(2);
        assertThat(refused.err()).contains("--teacher-cache needs --augmentation fixed");

        Result first = mvp(run(tmp.resolve("data"), tmp.resolve("o1"), "--augmentation", "fixed", "--teacher-cache", cache.toString()));
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("teacher cache: 12 of 12 images", "teacher targets from the cache", "done: 2 steps");
        assertThat(cache.resolve("cache.json")).isRegularFile();

        Result second = mvp(run(tmp.resolve("data"), tmp.resolve("o2"), "--augmentation", "fixed", "--teacher-cache", cache.toString()));
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("teacher targets from the cache").doesNotContain("teacher cache: 12 of 12");
        assertThat(Files.readString(tmp.resolve("o2/config.json"))).contains("\"augmentation\" : \"FIXED\"");

        // the cache records its decoder; a run decoding with another one is refused in one line naming both and the flag
        String built = dev.mvp.data.ImageDecoders.resolve("auto"), other = built.equals("imageio") ? "turbojpeg" : "imageio";
        assertThat(Files.readString(cache.resolve("cache.json"))).contains("\"decoder\" : \"" + built + "\"");
        if (other.equals("turbojpeg") && !dev.mvp.data.TurboJpegDecoder.available()) return;
        Result mismatch = mvp(run(tmp.resolve("data"), tmp.resolve("o3"), "--augmentation", "fixed", "--teacher-cache",
                cache.toString(), "--decoder", other));
        assertThat(mismatch.code()).isEqualTo(1);
        assertThat(mismatch.err().strip()).isEqualTo("mvp pretrain: error: teacher cache " + cache + " was made with decoder "
                + built + ", this run decodes with " + other + ": pass --decoder " + built
                + " (or choose another --teacher-cache folder)");
    }
}
