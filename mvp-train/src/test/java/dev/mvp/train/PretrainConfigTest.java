package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PretrainConfigTest {
    private static final Path DATA = Path.of("data"), OUT = Path.of("out");

    @Test
    void linearScalingRuleDerivesThePeakLearningRateFromTheEffectiveBatch() {
        // MVP: 1.5e-3 at batch 2048 is a base lr of 1.875e-4 per 256 images
        PretrainConfig paper = PretrainConfig.builder(DATA, OUT).batchSize(256).accumSteps(8).baseLr(1.875e-4).build();
        assertThat(paper.effectiveBatchSize()).isEqualTo(2048);
        assertThat(paper.lr()).isCloseTo(1.5e-3, within(1e-15));
        assertThat(paper.baseLr()).isEqualTo(1.875e-4);
        assertThat(paper.lrRule()).contains("from: --base-lr", "2048", "256 x 8");
        assertThat(paper.lrSource()).isEqualTo(PretrainConfig.LrSource.BASE_LR);
        // changing the batch of a base-lr run rescales its lr
        assertThat(paper.toBuilder().batchSize(64).accumSteps(1).build().lr()).isCloseTo(1.875e-4 / 4, within(1e-15));

        PretrainConfig direct = PretrainConfig.builder(DATA, OUT).batchSize(16).lr(1.5e-3).build();
        assertThat(direct.lr()).isEqualTo(1.5e-3);
        // the base lr records what the given lr amounts to
        assertThat(direct.baseLr()).isCloseTo(1.5e-3 * 256 / 16, within(1e-15));
        assertThat(direct.effectiveBaseLr()).isCloseTo(1.5e-3 * 256 / 16, within(1e-15));
        assertThat(direct.lrRule()).contains("from: --lr").doesNotContain("default");
        // setting lr after a base lr replaces it
        PretrainConfig replaced = paper.toBuilder().lr(2e-3).build();
        assertThat(replaced.lr()).isEqualTo(2e-3);
        assertThat(replaced.baseLr()).isCloseTo(2e-3 * 256 / 2048, within(1e-15));
        assertThat(replaced.lrSource()).isEqualTo(PretrainConfig.LrSource.LR);
        // no learning-rate flag: the default lr, said so
        PretrainConfig byDefault = PretrainConfig.builder(DATA, OUT).build();
        assertThat(byDefault.lr()).isEqualTo(PretrainConfig.DEFAULT_LR);
        assertThat(byDefault.baseLr()).isCloseTo(PretrainConfig.DEFAULT_LR * 256 / PretrainConfig.DEFAULT_BATCH_SIZE, within(1e-15));
        assertThat(byDefault.lrSource()).isEqualTo(PretrainConfig.LrSource.DEFAULT);
        assertThat(byDefault.lrRule()).endsWith("(from: the default --lr)");
        // a derived base lr does not turn into a given one: the lr stays when the batch changes
        assertThat(byDefault.toBuilder().batchSize(64).build().lr()).isEqualTo(PretrainConfig.DEFAULT_LR);
    }

    @Test
    void configJsonHoldsPlainPathsTheLrSourceAndTheImageSizeSourceAndOldFilesStillRead() throws Exception {
        var json = RunFiles.JSON;
        PretrainConfig c = PretrainConfig.builder(Path.of("data/cifar10-sample"), Path.of("runs/x")).imageSize(64, "teacher grid 4x4").build();
        var tree = json.valueToTree(c);
        assertThat(tree.path("data").asText()).isEqualTo("data/cifar10-sample");
        assertThat(tree.path("out").asText()).isEqualTo("runs/x");
        assertThat(tree.path("base_lr").asDouble()).isCloseTo(1.5e-3 * 256 / 16, within(1e-15));
        assertThat(tree.path("lr_source").asText()).isEqualTo("DEFAULT");
        assertThat(tree.path("image_size_source").asText()).isEqualTo("teacher grid 4x4");
        PretrainConfig back = json.treeToValue(tree, PretrainConfig.class);
        assertThat(back).isEqualTo(c);
        // a config.json written before: file:// URIs, base_lr 0 for a given lr, no lr_source nor image_size_source
        var old = (com.fasterxml.jackson.databind.node.ObjectNode) tree.deepCopy();
        old.put("data", Path.of("/d/x").toUri().toString());
        old.put("out", Path.of("/r/y").toUri().toString());
        old.put("base_lr", 0.0);
        old.put("lr", 2e-3);
        old.remove("lr_source");
        old.remove("image_size_source");
        PretrainConfig read = json.treeToValue(old, PretrainConfig.class);
        assertThat(read.data()).isEqualTo(Path.of("/d/x"));
        assertThat(read.out()).isEqualTo(Path.of("/r/y"));
        assertThat(read.lr()).isEqualTo(2e-3);
        assertThat(read.lrSource()).isEqualTo(PretrainConfig.LrSource.LR);
        assertThat(read.runDefinition()).isEqualTo(c.toBuilder().lr(2e-3).build().runDefinition());
    }

    @Test
    void warmupAndRunLengthCountOptimisationSteps() {
        PretrainConfig byEpochs = PretrainConfig.builder(DATA, OUT).batchSize(4).accumSteps(2).epochs(3).warmupEpochs(1).build();
        // 10 loader batches per epoch = 5 optimisation steps
        assertThat(byEpochs.stepsPerEpoch(10)).isEqualTo(5.0);
        assertThat(byEpochs.totalSteps(10)).isEqualTo(15);
        assertThat(byEpochs.warmupStepsFor(10)).isEqualTo(5);
        assertThat(byEpochs.warmupSteps()).isZero();
        // an epoch that the accumulation does not divide: the run is the whole number of steps in its batches
        assertThat(byEpochs.totalSteps(11)).isEqualTo(16);

        PretrainConfig bySteps = byEpochs.toBuilder().steps(100).warmupSteps(30).build();
        assertThat(bySteps.totalSteps(10)).isEqualTo(100);
        assertThat(bySteps.warmupStepsFor(10)).isEqualTo(30);
        assertThat(bySteps.warmupEpochs()).isZero();
        assertThat(bySteps.toBuilder().steps(20).build().warmupStepsFor(10)).as("capped at the run").isEqualTo(20);
    }

    @Test
    void weightDecayIsConstantUnlessAnEndIsGiven() {
        PretrainConfig constant = PretrainConfig.builder(DATA, OUT).weightDecay(0.05).build();
        assertThat(constant.weightDecayEnd()).isEqualTo(0.05);
        // a constant schedule follows later changes of the weight decay
        assertThat(constant.toBuilder().weightDecay(0.1).build().weightDecayEnd()).isEqualTo(0.1);
        PretrainConfig cosine = constant.toBuilder().weightDecayEnd(0.2).build();
        assertThat(cosine.weightDecayEnd()).isEqualTo(0.2);
        assertThat(cosine.runDefinition()).containsEntry("weight-decay-end", "0.2");
    }

    @Test
    void fp16ComesWithTheLossScalerAndTheDeviceIsNotPartOfTheRun() {
        PretrainConfig fp16 = PretrainConfig.builder(DATA, OUT).precision(Precision.FP16).build();
        assertThat(fp16.runDefinition()).containsEntry("precision", "FP16");
        assertThat(fp16.device()).isEqualTo(ComputeDevice.CPU);
        PretrainConfig cuda = fp16.toBuilder().device(ComputeDevice.parse("cuda:1")).build();
        assertThat(cuda.device()).isEqualTo(new ComputeDevice(ComputeDevice.Kind.CUDA, 1));
        assertThat(cuda.runDefinition()).as("a run may resume on another device").isEqualTo(fp16.runDefinition());
    }

    @Test
    void badValuesNameTheirFlag() {
        var b = PretrainConfig.builder(DATA, OUT);
        assertThatThrownBy(() -> b.accumSteps(0).build()).hasMessageContaining("--accum-steps");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).model("huge").build())
                .hasMessageStartingWith("--model: unknown model 'huge'");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).betas(0.9, 1.0).build()).hasMessageContaining("--betas");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).dropPath(1.0).build()).hasMessageContaining("--drop-path");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).layerScale(-1.0).build()).hasMessageContaining("--layer-scale");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).maxConsecutiveNonFinite(0).build()).hasMessageContaining("--max-non-finite");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).weightDecayEnd(-0.1).build()).hasMessageContaining("--weight-decay-end");
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).baseLr(1e-4).minLr(1e-5).batchSize(8).build())
                .as("base lr 1e-4 at batch 8 is lr 3.1e-6 < min lr").hasMessageContaining("--min-lr");
    }

    @Test
    void threadsAndWorkersAreBounded() {
        int max = PretrainConfig.MAX_THREADS;
        assertThat(max).isGreaterThanOrEqualTo(256).isGreaterThanOrEqualTo(4 * Runtime.getRuntime().availableProcessors());
        assertThat(PretrainConfig.builder(DATA, OUT).threads(max).workers(max).build().threads()).isEqualTo(max);
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).threads(100000).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("--threads 100000 is more than " + max);
        assertThatThrownBy(() -> PretrainConfig.builder(DATA, OUT).workers(max + 1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("--workers " + (max + 1) + " is more than " + max);
    }
}
