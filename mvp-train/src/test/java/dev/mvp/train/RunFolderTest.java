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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What a run leaves in its folder when it fails, is stopped, or is resumed: a fresh run that fails before its first
 * step leaves no folder; a checkpoint is resumed only into its own run folder (or an empty one); resuming an earlier
 * checkpoint of a run discards the later ones; SIGTERM removes the checkpoint being written and says so in one line.
 */
@Tag("e2e")
class RunFolderTest {

    static PretrainConfig.Builder config(Path data, Path out) {
        return PretrainConfig.builder(data, out).imageSize(32).patchSize(8).batchSize(4).steps(4).warmupSteps(1)
                .lr(1e-3).checkpointEvery(1).keepCheckpoints(10).threads(1).workers(1);
    }

    static PretrainConfig config(Path out) {
        return config(TestPaths.sharedData().resolve("cifar10/test"), out).build();
    }

    static List<String> run(PretrainConfig config, Path resume) {
        List<String> warnings = new ArrayList<>();
        Pretrainer.run(config, Recipes.mvp(config), ImageFolder.open(config.data()), resume, new RunListener() {
            @Override public void warning(String line) {
                warnings.add(line);
                System.out.println("warning: " + line);
                System.out.flush();
            }
        });
        return warnings;
    }

    @Test
    void aFreshRunThatFailsBeforeItsFirstStepLeavesNoRunFolder(@TempDir Path tmp) throws Exception {
        Path junk = tmp.resolve("junk");
        Files.createDirectories(junk);
        for (int i = 0; i < 8; i++) Files.writeString(junk.resolve(i + ".jpg"), "not an image " + i);
        Path out = tmp.resolve("undecodable");
        assertThatThrownBy(() -> run(config(junk, out).build(), null)).isInstanceOf(RuntimeException.class);
        assertThat(out).as("no run folder after a run that never stepped").doesNotExist();

        Path big = tmp.resolve("big-batch");
        assertThatThrownBy(() -> run(config(TestPaths.sharedData().resolve("cifar10/test"), big).batchSize(100000).build(), null))
                .hasMessageContaining("fewer images than one batch");
        assertThat(big).doesNotExist();

        // a folder that existed is kept, emptied of what the run wrote
        Path existing = Files.createDirectories(tmp.resolve("existing"));
        Files.writeString(existing.resolve("notes.txt"), "mine");
        assertThatThrownBy(() -> run(config(junk, existing).build(), null)).isInstanceOf(RuntimeException.class);
        try (var files = Files.list(existing)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("notes.txt");
        }
    }

    @Test
    void aCheckpointResumesIntoItsOwnRunAndAnEarlierOneDiscardsTheLaterCheckpoints(@TempDir Path tmp) throws Exception {
        PretrainConfig a = config(tmp.resolve("A"));
        PretrainConfig b = config(tmp.resolve("B"));
        run(a, null);
        run(b, null);
        Path a2 = a.out().resolve("checkpoints/step-00000002");

        // into another run's folder: refused before anything is written there
        byte[] metricsB = Files.readAllBytes(b.out().resolve("metrics.jsonl"));
        assertThatThrownBy(() -> run(b, a2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(a2.toString()).hasMessageContaining(b.out().toString())
                .hasMessageContaining("holds another run");
        assertThat(Files.readAllBytes(b.out().resolve("metrics.jsonl"))).isEqualTo(metricsB);

        // an earlier checkpoint of its own run, with checkpoints now every 2 steps: step 3 of the abandoned
        // continuation does not survive beside the new step 4
        List<String> warnings = run(a.toBuilder().checkpointEvery(2).build(), a2);
        assertThat(warnings).anySatisfy(w -> assertThat(w).contains("discards", "step-00000003", "step-00000004"));
        try (var files = Files.list(a.out().resolve("checkpoints"))) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("latest", "step-00000001", "step-00000002", "step-00000004");
        }
        assertThat(Files.readAllLines(a.out().resolve("metrics.jsonl"))).hasSize(4);
    }

    /** The child: trains into args[0] and hangs while writing the checkpoint of step args[1]. */
    public static void main(String[] args) {
        MidWriteChild.hangAt(Long.parseLong(args[1]));
        run(config(Path.of(args[0])).toBuilder().checkpointEvery(2).build(), null);
        System.out.println("FINISHED (the hook did not fire)");
    }

    @Test
    void sigtermWhileWritingACheckpointRemovesItAndSaysSoInOneLine(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("stopped");
        Process child = MidWriteChild.start(RunFolderTest.class, out.toString(), "4");
        MidWriteChild.Output output = MidWriteChild.follow(child, c -> {
            assertThat(out.resolve("checkpoints/step-00000004.tmp-" + c.pid())).isDirectory();
            // SIGTERM (Process.destroy would also close the stream read here), then read its last words
            try {
                new ProcessBuilder("kill", "-TERM", Long.toString(c.pid())).inheritIO().start().waitFor();
            } catch (java.io.IOException | InterruptedException e) {
                throw new AssertionError("cannot send SIGTERM", e);
            }
            return true;
        });
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(output.reachedMarker()).as("the child reached the step-4 checkpoint; its output:\n" + output.text()).isTrue();
        assertThat(child.exitValue()).as("stopped by SIGTERM").isEqualTo(128 + 15);
        Path checkpoints = out.resolve("checkpoints");
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .as("the temporary folder is removed; output:\n" + output.text())
                    .containsExactly("latest", "step-00000002");
        }
        assertThat(output.text().lines().filter(l -> l.contains("stopped at step")).toList()).singleElement()
                .satisfies(l -> assertThat(l).contains("stopped at step 4 (SIGTERM or Ctrl-C)",
                        "removed the unfinished checkpoint " + checkpoints.resolve("step-00000004.tmp-" + child.pid()),
                        "the latest checkpoint is " + checkpoints.resolve("step-00000002")));
        assertThat(Checkpoints.latest(out)).contains(checkpoints.resolve("step-00000002"));
    }
}
