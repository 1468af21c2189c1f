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

/** {@code --resume auto}: a fresh run when --out holds none, the latest checkpoint when it does. */
@Tag("e2e")
class ResumeAutoTest {

    static String[] run(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--data", TestPaths.sharedData().resolve("cifar10/test").toString(),
                "--out", out.toString(), "--img-size", "32", "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1",
                "--steps", "4", "--checkpoint-every", "2", "--threads", "1", "--workers", "1", "--resume", "auto"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void resumeAutoStartsFreshThenContinuesFromTheLatestCheckpoint(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        StringWriter o1 = new StringWriter(), e1 = new StringWriter();
        assertThat(Main.run(new PrintWriter(o1, true), new PrintWriter(e1, true), run(out))).as(e1.toString()).isZero();
        assertThat(o1.toString()).contains("done: 4 steps in").doesNotContain("resuming");

        // as if the run had been killed after its step-2 checkpoint
        Path checkpoints = out.resolve("checkpoints");
        try (var files = Files.walk(checkpoints.resolve("step-00000004"))) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
        Files.writeString(checkpoints.resolve("latest"), "step-00000002\n");

        // resuming with another run definition is a usage error naming the flag, and changes nothing
        byte[] metrics = Files.readAllBytes(out.resolve("metrics.jsonl"));
        StringWriter oLr = new StringWriter(), eLr = new StringWriter();
        assertThat(Main.run(new PrintWriter(oLr, true), new PrintWriter(eLr, true), run(out, "--lr", "0.01")))
                .as(eLr.toString()).isEqualTo(2);
        assertThat(eLr.toString()).contains("--lr was", "in that run, 0.01 now").doesNotContain("\tat ");
        assertThat(Files.readAllBytes(out.resolve("metrics.jsonl"))).isEqualTo(metrics);
        assertThat(Files.readString(checkpoints.resolve("latest")).trim()).isEqualTo("step-00000002");

        StringWriter o2 = new StringWriter(), e2 = new StringWriter();
        assertThat(Main.run(new PrintWriter(o2, true), new PrintWriter(e2, true), run(out))).as(e2.toString()).isZero();
        assertThat(o2.toString()).contains("resuming from " + checkpoints.resolve("step-00000002"), "done: 4 steps");
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(4);
        assertThat(Files.readString(checkpoints.resolve("latest")).trim()).isEqualTo("step-00000004");
    }
}
