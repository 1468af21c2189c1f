package dev.mvp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A run records its data's identity (image count, hash of the ordered file list and labels) when it starts; a
 * resumption on other data is a usage error naming both, unless --allow-data-change; a moved folder of the same
 * images resumes; config.json keeps the run's start and appends each resumption.
 */
@Tag("e2e")
class ResumeDataChangeTest {

    record Result(int rc, String out, String err) {}

    static Result mvp(String... args) {
        StringWriter o = new StringWriter(), e = new StringWriter();
        int rc = Main.run(new PrintWriter(o, true), new PrintWriter(e, true), args);
        return new Result(rc, o.toString(), e.toString());
    }

    static java.util.Map<String, String> snapshot(Path dir) throws Exception {
        java.util.Map<String, String> files = new java.util.TreeMap<>();
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(p).toString(), java.util.Arrays.toString(
                        java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return files;
    }

    static String[] resume(Path checkpoint, Path data, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("pretrain", "--resume", checkpoint.toString(),
                "--data", data.toString(), "--threads", "1", "--workers", "1"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void resumingOnOtherDataIsRefusedUnlessAllowedAndAMovedFolderResumes(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data/cls"));
        Path source = TestPaths.sharedData().resolve("cifar10/test/airplane");
        for (int i = 0; i < 12; i++) {
            String name = String.format("%04d.jpg", i);
            Files.copy(source.resolve(name), data.resolve(name));
        }
        Path run = tmp.resolve("run");
        Result first = mvp("pretrain", "--data", tmp.resolve("data").toString(), "--out", run.toString(), "--img-size",
                "32", "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1", "--steps", "6",
                "--checkpoint-every", "2", "--keep-checkpoints", "10", "--threads", "1", "--workers", "1");
        assertThat(first.rc()).as(first.err()).isZero();
        String configBefore = Files.readString(run.resolve("config.json"));
        JsonNode identity = new ObjectMapper().readTree(configBefore).path("environment").path("data_identity");
        assertThat(identity.path("images").asInt()).isEqualTo(12);
        Path step2 = run.resolve("checkpoints/step-00000002");

        // shrunk: refused, exit 2, naming both counts and folders; the run is as it was
        for (int i = 6; i < 12; i++) Files.delete(data.resolve(String.format("%04d.jpg", i)));
        var before = snapshot(run);
        Result shrunk = mvp(resume(step2, tmp.resolve("data")));
        assertThat(shrunk.rc()).as(shrunk.err()).isEqualTo(2);
        assertThat(shrunk.err().lines().toList()).singleElement().satisfies(l -> assertThat(l).contains(
                "(6 images) is not the data of the run", "12 images", "--allow-data-change"));
        assertThat(snapshot(run)).isEqualTo(before);

        // the same images in another folder: resumes (a rewind to step 2), the start record kept
        Path moved = Files.createDirectories(tmp.resolve("moved/cls"));
        for (int i = 0; i < 12; i++) {
            String name = String.format("%04d.jpg", i);
            Files.copy(source.resolve(name), moved.resolve(name));
        }
        Result ok = mvp(resume(step2, tmp.resolve("moved")));
        assertThat(ok.rc()).as(ok.err()).isZero();
        JsonNode config = new ObjectMapper().readTree(run.resolve("config.json").toFile());
        assertThat(config.path("config")).isEqualTo(new ObjectMapper().readTree(configBefore).path("config"));
        assertThat(config.path("environment").path("data_identity")).isEqualTo(identity);
        assertThat(config.path("resumes")).hasSize(1);
        assertThat(config.path("resumes").get(0).path("config").path("data").asText()).endsWith("moved");

        // other data of the same size (six other files), allowed: a warning, and it runs
        Path automobile = TestPaths.sharedData().resolve("cifar10/test/automobile");
        for (int i = 6; i < 12; i++) {
            Files.copy(automobile.resolve(String.format("%04d.jpg", i)), data.resolve(String.format("car-%04d.jpg", i)));
        }
        Result refused = mvp(resume(step2, tmp.resolve("data")));
        assertThat(refused.rc()).isEqualTo(2);
        assertThat(refused.err()).contains("(12 images) is not the data of the run", "other files or labels");
        Result allowed = mvp(resume(step2, tmp.resolve("data"), "--allow-data-change"));
        assertThat(allowed.rc()).as(allowed.err()).isZero();
        assertThat(allowed.err()).contains("is not the data of the run", "--allow-data-change");
        assertThat(new ObjectMapper().readTree(run.resolve("config.json").toFile()).path("environment")
                .path("data_identity")).isEqualTo(identity);

        // a later --resume without --data: the data the run used most recently (the allowed change), checked
        // against that identity; the original identity is now the change
        Result plain = mvp("pretrain", "--resume", step2.toString(), "--threads", "1", "--workers", "1");
        assertThat(plain.rc()).as(plain.err()).isZero();
        assertThat(plain.err()).doesNotContain("is not the data of the run");
        JsonNode resumes = new ObjectMapper().readTree(run.resolve("config.json").toFile()).path("resumes");
        assertThat(resumes.get(resumes.size() - 1).path("environment").path("data_identity").path("sha256").asText())
                .isEqualTo(resumes.get(resumes.size() - 2).path("environment").path("data_identity").path("sha256").asText())
                .isNotEqualTo(identity.path("sha256").asText());
        Result back = mvp(resume(step2, tmp.resolve("moved")));
        assertThat(back.rc()).isEqualTo(2);
        assertThat(back.err()).contains("is not the data of the run");
    }
}
