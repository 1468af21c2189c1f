package dev.mvp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.mvp.cli.MainTest.mvp;
import static dev.mvp.cli.MainTest.tinyRun;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A teacher file is recorded by its absolute path and its identity (size, SHA-256): a resumption without --teacher
 * uses the recorded path, the same file at another path resumes, another file (even at the same path) is exit 2
 * naming both.
 */
@Tag("e2e")
class ResumeTeacherTest {
    private static final Path CLIP = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors");

    static Path data(Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data/cls"));
        Path source = TestPaths.sharedData().resolve("cifar10/test/airplane");
        for (int i = 0; i < 8; i++) {
            String name = String.format("%04d.jpg", i);
            Files.copy(source.resolve(name), data.resolve(name));
        }
        return tmp.resolve("data");
    }

    static String[] resume(Path target, String... more) {
        List<String> a = new ArrayList<>(List.of("pretrain", "--resume", target.toString(), "--threads", "1", "--workers", "1"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void theTeacherIsIdentifiedByItsContentNotItsPathString(@TempDir Path tmp) throws Exception {
        Path data = data(tmp);
        Path teacher = Files.copy(CLIP, Files.createDirectories(tmp.resolve("t")).resolve("clip.safetensors"));
        Path run = tmp.resolve("run");
        // given through a path with '..': recorded absolute and normalised, with its identity
        var first = mvp(tinyRun(data, run, "--teacher", tmp.resolve("t/../t/clip.safetensors").toString(), "--steps", "4",
                "--checkpoint-every", "2", "--keep-checkpoints", "10").toArray(String[]::new));
        assertThat(first.code()).as(first.err()).isZero();
        JsonNode config = new ObjectMapper().readTree(run.resolve("config.json").toFile());
        assertThat(config.path("config").path("teacher").asText()).isEqualTo(teacher.toString());
        assertThat(config.path("environment").path("teacher_identity").path("size").asLong()).isEqualTo(Files.size(CLIP));
        Path step2 = run.resolve("checkpoints/step-00000002");

        // without --teacher: the recorded file
        var plain = mvp(resume(step2));
        assertThat(plain.code()).as(plain.err()).isZero();

        // another file at the recorded path (one weight byte changed): refused, exit 2, naming both
        Path copy = Files.copy(CLIP, tmp.resolve("elsewhere.safetensors"));
        byte[] bytes = Files.readAllBytes(teacher);
        bytes[bytes.length - 2] ^= 0x40;
        Files.write(teacher, bytes);
        var changed = mvp(resume(step2));
        assertThat(changed.code()).as(changed.err()).isEqualTo(2);
        assertThat(changed.err().lines().toList()).singleElement().satisfies(l -> assertThat(l).contains(
                "--teacher " + teacher, "is not the teacher of the run", "bytes, SHA-256"));

        // the same file at another path: accepted, and from then on the recorded path
        var moved = mvp(resume(step2, "--teacher", copy.toString()));
        assertThat(moved.code()).as(moved.err()).isZero();
        var changedGiven = mvp(resume(step2, "--teacher", teacher.toString()));
        assertThat(changedGiven.code()).isEqualTo(2);
        assertThat(changedGiven.err()).contains("--teacher " + teacher, "(" + copy + ", ");
        var again = mvp(resume(step2));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("from " + copy);
    }
}
