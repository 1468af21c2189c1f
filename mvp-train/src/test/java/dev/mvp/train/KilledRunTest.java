package dev.mvp.train;

import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * A run killed with SIGKILL while it writes a checkpoint: a child JVM trains, stops in the middle of writing its
 * step-4 checkpoint (weights written into the temporary folder, nothing else), and is killed there. Resuming the run
 * folder as {@code --resume auto} does picks the step-2 checkpoint and reaches the losses of an uninterrupted run.
 */
@Tag("e2e")
class KilledRunTest {
    static PretrainConfig config(Path out) {
        return PretrainConfig.builder(TestPaths.sharedData().resolve("cifar10/test"), out).imageSize(32).patchSize(8)
                .batchSize(4).steps(6).warmupSteps(2).lr(1e-3).checkpointEvery(2).keepCheckpoints(5).threads(1)
                .workers(1).build();
    }

    static List<StepMetrics> run(PretrainConfig config, Path resume) {
        List<StepMetrics> steps = new ArrayList<>();
        Pretrainer.run(config, Recipes.mvp(config), ImageFolder.open(config.data()), resume, new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                steps.add(m);
            }
        });
        return steps;
    }

    /** The child: trains into args[0] and hangs while writing the checkpoint of step args[1]. */
    public static void main(String[] args) {
        MidWriteChild.hangAt(Long.parseLong(args[1]));
        run(config(Path.of(args[0])), null);
        System.out.println("FINISHED (the hook did not fire)");
    }

    @Test
    void aRunKilledWhileWritingACheckpointResumesFromThePreviousOneOnTheSameTrajectory(@TempDir Path tmp) throws Exception {
        Path killed = tmp.resolve("killed");
        Process child = MidWriteChild.start(KilledRunTest.class, killed.toString(), "4");
        MidWriteChild.Output output = MidWriteChild.follow(child, c -> {
            c.destroyForcibly(); // SIGKILL on Linux
            return false;
        });
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(output.reachedMarker()).as("the child reached the step-4 checkpoint; its output:\n" + output.text()).isTrue();
        assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);

        // the half-written checkpoint is there, but latest still names the step-2 one
        Path checkpoints = killed.resolve("checkpoints");
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("latest", "step-00000002", "step-00000004.tmp-" + child.pid());
        }
        assertThat(checkpoints.resolve("step-00000004.tmp-" + child.pid()).resolve("model.safetensors")).isRegularFile();
        assertThat(Files.readAllLines(killed.resolve("metrics.jsonl"))).hasSize(4);
        Path latest = Checkpoints.latest(killed).orElseThrow();
        assertThat(latest).isEqualTo(checkpoints.resolve("step-00000002"));

        List<StepMetrics> resumed = run(config(killed), latest);
        List<StepMetrics> uninterrupted = run(config(tmp.resolve("uninterrupted")), null);

        assertThat(resumed).extracting(StepMetrics::step).containsExactly(3L, 4L, 5L, 6L);
        for (int i = 0; i < 4; i++) {
            StepMetrics a = uninterrupted.get(2 + i), b = resumed.get(i);
            assertThat(b.loss()).as("loss at step " + a.step()).isCloseTo(a.loss(), within(1e-5));
            assertThat(b.lr()).isEqualTo(a.lr());
        }
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).as("the leftover is removed")
                    .containsExactly("latest", "step-00000002", "step-00000004", "step-00000006");
        }
        assertThat(Files.readAllLines(killed.resolve("metrics.jsonl"))).as("one line per step, as one run").hasSize(6);
    }
}
