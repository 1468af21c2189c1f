package dev.mvp.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.Recipe;
import dev.mvp.data.ImageFolder;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
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

/**
 * What one optimisation step does, on real CIFAR-10 images with ViT-Ti at 32x32 (8x8 patches): gradient
 * accumulation, the weight-decay schedule, and the skipping of non-finite steps.
 */
@Tag("e2e")
class PretrainerStepTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static PretrainConfig.Builder small(Path out) {
        return PretrainConfig.builder(TestPaths.sharedData().resolve("cifar10/test"), out)
                .imageSize(32).patchSize(8).batchSize(4).steps(4).warmupSteps(0).lr(1e-3).threads(1).workers(1);
    }

    record Run(List<StepMetrics> steps, List<String> warnings, RunSummary summary) {}

    private static Run run(PretrainConfig config, Path resume, Pretrainer.Faults faults) {
        List<StepMetrics> steps = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        Recipe recipe = Recipes.mvp(config);
        RunListener listener = new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                steps.add(m);
            }

            @Override public void warning(String line) {
                warnings.add(line);
            }
        };
        RunSummary summary = Pretrainer.run(config, recipe,
                BatchSource.images(ImageFolder.open(config.data()), config, recipe, listener::warning), resume, listener,
                faults);
        return new Run(steps, warnings, summary);
    }

    private static double maxWeightDiff(Path checkpointA, Path checkpointB) {
        try (SafeTensorsFile a = SafeTensorsFile.open(checkpointA.resolve("model.safetensors"));
             SafeTensorsFile b = SafeTensorsFile.open(checkpointB.resolve("model.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(a.names()).isEqualTo(b.names());
            double max = 0;
            for (String name : a.names()) max = Math.max(max, TensorAssert.maxAbsDiff(a.tensor(name), b.tensor(name)));
            return max;
        }
    }

    @Test
    void accumulatedSmallBatchesEqualOneLargeBatch(@TempDir Path tmp) {
        // the loader draws each sample's crop, flip and mask from (seed, epoch, position), so the 32 images of a step
        // are the same whatever the batch size; MVP's loss averages a fixed number of tokens per image
        PretrainConfig large = small(tmp.resolve("b32")).batchSize(32).accumSteps(1).steps(3).weightDecayEnd(0.2).build();
        Run one = run(large, null, Pretrainer.Faults.NONE);
        Run two = run(large.toBuilder().out(tmp.resolve("b16x2")).batchSize(16).accumSteps(2).build(), null, Pretrainer.Faults.NONE);
        Run four = run(large.toBuilder().out(tmp.resolve("b8x4")).batchSize(8).accumSteps(4).build(), null, Pretrainer.Faults.NONE);

        for (Run r : List.of(two, four)) {
            assertThat(r.steps()).hasSize(3);
            for (int i = 0; i < 3; i++) {
                StepMetrics a = one.steps().get(i), b = r.steps().get(i);
                System.out.printf("step %d: loss %.9f vs %.9f (diff %.2e), grad norm %.7f vs %.7f%n", i + 1, a.loss(),
                        b.loss(), Math.abs(a.loss() - b.loss()), a.gradNorm(), b.gradNorm());
                assertThat(b.loss()).as("loss at step " + (i + 1)).isCloseTo(a.loss(), within(1e-5));
                assertThat(b.gradNorm()).as("grad norm at step " + (i + 1)).isCloseTo(a.gradNorm(), within(1e-5 * a.gradNorm()));
                assertThat(b.lr()).isEqualTo(a.lr());
                assertThat(b.weightDecay()).isEqualTo(a.weightDecay());
            }
        }
        double diff2 = maxWeightDiff(Checkpoints.resolve(large.out()), Checkpoints.resolve(tmp.resolve("b16x2")));
        double diff4 = maxWeightDiff(Checkpoints.resolve(large.out()), Checkpoints.resolve(tmp.resolve("b8x4")));
        System.out.printf("max |weight diff| after 3 steps: 16x2 %.3e, 8x4 %.3e%n", diff2, diff4);
        // AdamW divides each element's update by that element's own gradient scale, so where a gradient is nearly 0
        // the float32 rounding of a different summation order moves the update by up to the lr itself
        assertThat(diff2).isLessThan(0.05 * large.lr());
        assertThat(diff4).isLessThan(0.05 * large.lr());

        // the weight decay followed BEiT's cosine schedule from 0.05 to 0.2 over the 3 steps
        for (int i = 0; i < 3; i++) {
            double expected = 0.2 + 0.5 * (0.05 - 0.2) * (1 + Math.cos(Math.PI * i / 3));
            assertThat(one.steps().get(i).weightDecay()).isCloseTo(expected, within(1e-15));
        }
    }

    @Test
    void aNonFiniteLossOrGradientSkipsTheStepWithoutTouchingTheWeights(@TempDir Path tmp) throws Exception {
        PretrainConfig config = small(tmp.resolve("run")).checkpointEvery(1).keepCheckpoints(10).build();
        Run r = run(config, null, new Pretrainer.Faults() {
            @Override public boolean nanLoss(long step) {
                return step == 1;
            }

            @Override public boolean nanGradient(long step) {
                return step == 3;
            }
        });
        assertThat(r.steps()).extracting(StepMetrics::skipped).containsExactly(false, true, false, true);
        assertThat(r.steps()).extracting(StepMetrics::skippedSteps).containsExactly(0L, 1L, 1L, 2L);
        assertThat(r.steps().get(1).loss()).isNaN();
        assertThat(r.steps().get(3).loss()).as("the loss was fine, the gradient not").isFinite();
        assertThat(r.steps().get(3).gradNorm()).isNaN();
        assertThat(r.summary().skippedSteps()).isEqualTo(2);
        assertThat(r.warnings()).hasSize(2).allSatisfy(w -> assertThat(w).contains("non-finite", "skipped"));
        assertThat(r.warnings().get(0)).contains("step 2", "loss");
        assertThat(r.warnings().get(1)).contains("step 4", "gradient");

        List<String> lines = Files.readAllLines(config.out().resolve("metrics.jsonl"));
        assertThat(lines).hasSize(4);
        JsonNode second = JSON.readTree(lines.get(1));
        assertThat(second.get("skipped").asBoolean()).isTrue();
        assertThat(second.get("skipped_steps").asLong()).isEqualTo(1);
        assertThat(second.get("loss").asText()).isEqualTo("NaN");

        // no checkpoint follows a skipped step; the final one does, and holds the weights of the step before it
        Path ckpts = config.out().resolve("checkpoints");
        assertThat(ckpts.resolve("step-00000001")).isDirectory();
        assertThat(ckpts.resolve("step-00000002")).doesNotExist();
        assertThat(ckpts.resolve("step-00000003")).isDirectory();
        assertThat(Checkpoints.resolve(config.out())).isEqualTo(ckpts.resolve("step-00000004"));
        assertThat(maxWeightDiff(ckpts.resolve("step-00000003"), ckpts.resolve("step-00000004"))).isZero();
        assertThat(maxWeightDiff(ckpts.resolve("step-00000001"), ckpts.resolve("step-00000003"))).isPositive();
    }

    @Test
    void nonFiniteStepsInARowStopTheRunWithTheLastGoodCheckpointLatest(@TempDir Path tmp) throws Exception {
        PretrainConfig config = small(tmp.resolve("run")).steps(8).checkpointEvery(2).maxConsecutiveNonFinite(3).build();
        Pretrainer.Faults fromStep4 = new Pretrainer.Faults() {
            @Override public boolean nanLoss(long step) {
                return step >= 3;
            }
        };
        Path good = config.out().resolve("checkpoints/step-00000002");
        assertThatThrownBy(() -> run(config, null, fromStep4))
                .isInstanceOf(NonFiniteLossException.class)
                .hasMessageContaining("stopped at step 6").hasMessageContaining("3 steps in a row")
                .hasMessageContaining(good.toString())
                .satisfies(e -> assertThat(((NonFiniteLossException) e).lastGoodCheckpoint()).isEqualTo(good));
        // step 4 was due for a checkpoint but skipped: step 2 stays the latest, complete and loadable
        assertThat(Checkpoints.resolve(config.out())).isEqualTo(good);
        try (var files = Files.list(config.out().resolve("checkpoints"))) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("latest", "step-00000002");
        }
        List<String> lines = Files.readAllLines(config.out().resolve("metrics.jsonl"));
        assertThat(lines).hasSize(6);
        assertThat(JSON.readTree(lines.get(5)).get("skipped_steps").asLong()).isEqualTo(3);

        // the last good checkpoint resumes, and without the fault the run completes
        Run resumed = run(config, good, Pretrainer.Faults.NONE);
        assertThat(resumed.steps()).hasSize(6);
        assertThat(resumed.summary().steps()).isEqualTo(8);
        assertThat(resumed.summary().skippedSteps()).isZero();
        assertThat(Files.readAllLines(config.out().resolve("metrics.jsonl"))).hasSize(8);
    }

    @Test
    void epochRunsWarmUpInEpochsAndCheckpointAtEpochEnds(@TempDir Path tmp) throws Exception {
        // 12 images, batches of 2 accumulated in pairs: 6 batches = 3 optimisation steps per epoch
        Path data = Files.createDirectories(tmp.resolve("data/cat"));
        try (var files = Files.list(TestPaths.sharedData().resolve("cifar10/test/cat"))) {
            for (Path f : files.sorted().limit(12).toList()) Files.copy(f, data.resolve(f.getFileName()));
        }
        PretrainConfig config = small(tmp.resolve("run")).data(tmp.resolve("data")).batchSize(2).accumSteps(2)
                .epochs(2).warmupEpochs(1).minLr(0).checkpointEveryEpochs(1).keepCheckpoints(5).build();
        Run r = run(config, null, Pretrainer.Faults.NONE);

        assertThat(r.steps()).extracting(StepMetrics::epoch).containsExactly(0, 0, 0, 1, 1, 1);
        // warm-up over the first epoch's 3 steps: linspace(0, lr, 3), then cosine over the other 3
        assertThat(r.steps()).extracting(StepMetrics::lr).containsExactly(0.0, 0.5e-3, 1e-3, 1e-3,
                0.5 * 1e-3 * (1 + Math.cos(Math.PI / 3)), 0.5 * 1e-3 * (1 + Math.cos(Math.PI * 2 / 3)));
        Path checkpoints = config.out().resolve("checkpoints");
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("latest", "step-00000003", "step-00000006");
        }
        TrainingState atEpochEnd = Checkpoints.readState(checkpoints.resolve("step-00000003"));
        assertThat(atEpochEnd.epoch()).isEqualTo(1);
        assertThat(atEpochEnd.batchInEpoch()).isZero();
        assertThat(JSON.readTree(Files.readString(config.out().resolve("config.json"))).path("environment")
                .path("total_steps").asLong()).isEqualTo(6);
        // model.json describes the student well enough to rebuild it without the run
        JsonNode model = Checkpoints.readModel(checkpoints.resolve("step-00000006"));
        assertThat(model.path("backbone").path("type").asText()).isEqualTo("vit");
        assertThat(model.path("backbone").path("config").path("width").asInt()).isEqualTo(192);
        assertThat(model.path("backbone").path("config").path("imageSize").asInt()).isEqualTo(32);
        assertThat(model.path("head").path("outputDim").asInt()).isEqualTo(64);
        try (SafeTensorsFile weights = SafeTensorsFile.open(checkpoints.resolve("step-00000006/model.safetensors"))) {
            assertThat(weights.metadata().get("model")).contains("\"patchSize\":8");
            assertThat(weights.names()).contains("backbone.cls_token", "backbone.blocks.11.mlp.fc2.weight", "head.weight");
        }
    }
}
