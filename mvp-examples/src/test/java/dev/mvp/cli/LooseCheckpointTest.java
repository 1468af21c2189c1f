package dev.mvp.cli;

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

/** The procedure the refusal of a checkpoint outside a run's checkpoints/ names (docs/ENGINE.md) works. */
@Tag("e2e")
class LooseCheckpointTest {

    @Test
    void aLooseCheckpointStartsANewRunTheWayTheMessageSays(@TempDir Path tmp) throws Exception {
        Path data = ResumeTeacherTest.data(tmp);
        Path run = tmp.resolve("run");
        var first = mvp(tinyRun(data, run, "--steps", "4", "--checkpoint-every", "2", "--keep-checkpoints", "10")
                .toArray(String[]::new));
        assertThat(first.code()).as(first.err()).isZero();
        Path loose = tmp.resolve("loose");
        copy(run.resolve("checkpoints/step-00000002"), loose);
        var refused = mvp("pretrain", "--resume", loose.toString(), "--threads", "1");
        assertThat(refused.code()).isEqualTo(2);
        assertThat(refused.err()).contains("copy it to NEW/checkpoints/ and resume NEW/checkpoints/loose",
                "--data, --teacher and the run definition");

        Path fresh = tmp.resolve("new");
        Path step = fresh.resolve("checkpoints/step-00000002");
        copy(loose, step);
        List<String> args = new ArrayList<>(tinyRun(data, fresh, "--steps", "4", "--resume", step.toString()));
        var ok = mvp(args.toArray(String[]::new));
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("done: 4 steps");
        assertThat(fresh.resolve("checkpoints/step-00000004")).isDirectory();
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : s.toList()) Files.copy(p, to.resolve(p.getFileName()));
        }
    }
}
