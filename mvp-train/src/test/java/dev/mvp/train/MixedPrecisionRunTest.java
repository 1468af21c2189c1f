package dev.mvp.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import dev.mvp.api.Recipe;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.bytedeco.pytorch.global.torch;
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
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * Whole runs in reduced precision on real CIFAR-10 images (ViT-Ti at 32x32, 8x8 patches, 1 thread): the float16
 * student with its loss scaler (a forced NaN gradient backs the scale off, the run goes on, and a resumed run
 * continues the scaler), a bf16 teacher, and a CUDA device refused on a machine without one.
 */
@Tag("e2e")
class MixedPrecisionRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static PretrainConfig.Builder small(Path out) {
        return PretrainConfig.builder(TestPaths.sharedData().resolve("cifar10/test"), out)
                .imageSize(32).patchSize(8).batchSize(4).steps(6).warmupSteps(0).lr(1e-3).threads(1).workers(1);
    }

    record Run(List<StepMetrics> steps, List<String> warnings) {}

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
        Pretrainer.run(config, recipe, BatchSource.images(ImageFolder.open(config.data()), config, recipe, listener::warning),
                resume, listener, faults);
        return new Run(steps, warnings);
    }

    @Test
    void fp16RunsWithALossScalerThatBacksOffOnANanGradientAndResumesWithIt(@TempDir Path tmp) throws Exception {
        PretrainConfig config = small(tmp.resolve("fp16")).precision(Precision.FP16).checkpointEvery(2).keepCheckpoints(10).build();
        Pretrainer.Faults nanAtStep3 = new Pretrainer.Faults() {
            @Override public boolean nanGradient(long step) {
                return step == 2;
            }
        };
        Run r = run(config, null, nanAtStep3);
        assertThat(r.steps()).hasSize(6);
        for (StepMetrics m : r.steps()) {
            System.out.printf("fp16 step %d: loss %.6f, grad norm %.4f, loss scale %.0f%s%n", m.step(), m.loss(),
                    m.gradNorm(), m.lossScale(), m.skipped() ? " (skipped)" : "");
        }
        assertThat(r.steps().get(0).lossScale()).as("GradScaler's initial scale").isEqualTo(65536.0);
        assertThat(r.steps().get(2).skipped()).as("the forced NaN gradient").isTrue();
        assertThat(r.steps().get(2).loss()).as("the loss itself was fine").isFinite();
        // the state machine: a skipped step halves the scale for the next one, good steps keep it (growth: 2000)
        for (int i = 0; i + 1 < r.steps().size(); i++) {
            StepMetrics m = r.steps().get(i);
            assertThat(r.steps().get(i + 1).lossScale()).as("scale after step " + m.step())
                    .isEqualTo(m.skipped() ? m.lossScale() / 2 : m.lossScale());
        }
        assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains("step 3", "gradient", "fp16 loss scale"));
        StepMetrics last = r.steps().get(5);
        TrainingState state = Checkpoints.readState(Checkpoints.resolve(config.out()));
        assertThat(state.lossScale()).isEqualTo(last.skipped() ? last.lossScale() / 2 : last.lossScale());
        long goodSinceChange = 0;
        for (int i = 5; i >= 0 && !r.steps().get(i).skipped(); i--) goodSinceChange++;
        assertThat(state.lossScaleGrowthTracker()).isEqualTo(goodSinceChange);
        JsonNode line = JSON.readTree(Files.readAllLines(config.out().resolve("metrics.jsonl")).get(0));
        assertThat(line.get("loss_scale").asDouble()).isEqualTo(65536.0);

        // resuming at step 2 (before the NaN) replays the same scaler decisions and losses
        Path resumeFrom = config.out().resolve("checkpoints/step-00000002");
        Path copy = tmp.resolve("resumed");
        Run resumed = run(config.toBuilder().out(copy).build(), resumeFrom, nanAtStep3);
        assertThat(resumed.steps()).hasSize(4);
        for (int i = 0; i < 4; i++) {
            StepMetrics a = r.steps().get(i + 2), b = resumed.steps().get(i);
            assertThat(b.step()).isEqualTo(a.step());
            assertThat(b.lossScale()).as("scale at step " + a.step()).isEqualTo(a.lossScale());
            assertThat(b.skipped()).isEqualTo(a.skipped());
            assertThat(b.loss()).as("loss at step " + a.step()).isCloseTo(a.loss(), within(1e-5));
        }
    }

    @Test
    void aBf16TeacherRunsWithItsWeightsConvertedAndSaysSo(@TempDir Path tmp) throws Exception {
        // --clip-grad 0 on the way: libtorch refused the "no clipping" bound Double.MAX_VALUE (float overflow)
        PretrainConfig config = small(tmp.resolve("bf16")).teacherPrecision(Precision.BF16).clipGrad(0).steps(2).build();
        Run r = run(config, null, Pretrainer.Faults.NONE);
        assertThat(r.steps()).hasSize(2).allSatisfy(m -> {
            assertThat(m.loss()).isFinite();
            assertThat(m.lossScale()).as("no scaler without fp16").isNull();
        });
        JsonNode cfg = JSON.readTree(config.out().resolve("config.json").toFile());
        assertThat(cfg.get("recipe").toString()).contains("weights in bf16");
        assertThat(cfg.get("environment").get("device").asText()).isEqualTo("cpu");
        assertThat(Files.readAllLines(config.out().resolve("metrics.jsonl")).get(0)).doesNotContain("loss_scale");
        assertThat(Checkpoints.readModel(Checkpoints.resolve(config.out())).get("teacher").asText()).endsWith("weights in bf16");
    }

    @Test
    void aCudaDeviceIsRefusedBeforeAnythingIsWrittenWhenThereIsNone(@TempDir Path tmp) {
        Torch.init();
        assumeFalse(torch.cuda_is_available(), "this machine has CUDA");
        PretrainConfig config = small(tmp.resolve("cuda")).device(ComputeDevice.parse("cuda")).build();
        assertThatThrownBy(() -> run(config, null, Pretrainer.Faults.NONE)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("--device cuda:0: CUDA is not available");
        assertThat(config.out()).doesNotExist();
    }
}
