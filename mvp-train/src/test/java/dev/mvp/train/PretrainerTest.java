package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** End-to-end pre-training on real CIFAR-10 images, small enough for CI (ViT-Ti at 32x32, 8x8 patches). */
@Tag("e2e")
class PretrainerTest {

    private static PretrainConfig.Builder small(Path out) {
        return PretrainConfig.builder(TestPaths.sharedData().resolve("cifar10/test"), out)
                .imageSize(32).patchSize(8).batchSize(8).steps(20).warmupSteps(3).lr(1.5e-3).threads(1).workers(1);
    }

    private static List<StepMetrics> run(PretrainConfig config, Path resume) {
        List<StepMetrics> steps = new ArrayList<>();
        Recipe recipe = Recipes.mvp(config);
        Pretrainer.run(config, recipe, ImageFolder.open(config.data()), resume, new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                steps.add(m);
            }
        });
        return steps;
    }

    @Test
    void twentyStepsOnRealImagesLowerTheLoss(@TempDir Path tmp) throws Exception {
        PretrainConfig config = small(tmp.resolve("run")).build();
        List<StepMetrics> steps = run(config, null);
        assertThat(steps).hasSize(20);
        double first = steps.subList(0, 5).stream().mapToDouble(StepMetrics::loss).average().orElseThrow();
        double last = steps.subList(15, 20).stream().mapToDouble(StepMetrics::loss).average().orElseThrow();
        assertThat(last).as("mean loss of the last 5 steps vs the first 5").isLessThan(first - 0.05);
        assertThat(steps).allSatisfy(m -> assertThat(m.loss()).isBetween(-1.0, 1.0));
        assertThat(steps.get(0).lr()).isEqualTo(0.0);
        assertThat(steps.get(2).lr()).isCloseTo(1.5e-3, within(1e-12));

        Path runDir = config.out();
        assertThat(Files.readAllLines(runDir.resolve("metrics.jsonl"))).hasSize(20)
                .allSatisfy(l -> assertThat(l).contains("\"step\"", "\"epoch\"", "\"loss\"", "\"lr\"",
                        "\"images_per_s\"", "\"elapsed_s\""));
        assertThat(Files.readString(runDir.resolve("config.json"))).contains("\"batch_size\" : 8", "recipe", "cosine");
        Path ckpt = Checkpoints.resolve(runDir);
        assertThat(ckpt.getFileName().toString()).isEqualTo("step-00000020");
        assertThat(ckpt.resolve("model.safetensors")).isRegularFile();
        assertThat(ckpt.resolve("optimizer.pt")).isRegularFile();
        assertThat(Checkpoints.readState(ckpt).step()).isEqualTo(20);
    }

    @Test
    void resumingAtStepTenReproducesTheUninterruptedRun(@TempDir Path tmp) throws Exception {
        PretrainConfig full = small(tmp.resolve("full")).checkpointEvery(10).build();
        List<StepMetrics> uninterrupted = run(full, null);

        // a second run folder that only has the step-10 checkpoint, as if the first run had been killed there
        Path resumed = tmp.resolve("resumed");
        Path from = full.out().resolve("checkpoints/step-00000010");
        Path to = resumed.resolve("checkpoints/step-00000010");
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName()));
        }
        List<StepMetrics> continued = run(full.toBuilder().out(resumed).build(), to);

        assertThat(continued).hasSize(10);
        for (int i = 0; i < 10; i++) {
            StepMetrics a = uninterrupted.get(10 + i), b = continued.get(i);
            assertThat(b.step()).isEqualTo(a.step());
            assertThat(b.loss()).as("loss at step " + a.step()).isCloseTo(a.loss(), within(1e-5));
            assertThat(b.lr()).isEqualTo(a.lr());
        }
    }

    @Test
    void refusesToResumeWithADifferentRunDefinition(@TempDir Path tmp) {
        PretrainConfig config = small(tmp.resolve("run")).steps(2).warmupSteps(1).build();
        run(config, null);
        PretrainConfig other = config.toBuilder().lr(1e-4).build();
        assertThatThrownBy(() -> run(other, Checkpoints.resolve(config.out())))
                .hasMessageContaining("--lr").hasMessageContaining("0.0015").hasMessageContaining("1.0E-4");
    }
}
