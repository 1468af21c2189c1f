package dev.mvp.models;

import dev.mvp.models.PositionResampling.Style;
import dev.mvp.models.VitCheckpoints.LoadReport;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Java model against independent Python references of timm's VisionTransformer and BEiT's models
 * (tools/fixtures/vit_reference.py, fixtures written by tools/fixtures/make_vit_fixtures.py with python3-torch 1.13):
 * same weights in the reference's own layout, same inputs, outputs equal to 1e-4.
 */
class VitReferenceTest {
    private static final double TOLERANCE = 1e-4;

    /** The fixtures' size: 32x32 images of 8x8 patches (4x4 grid), width 64, 2 blocks, 4 heads. */
    private static final VitConfig SMALL = VitConfig.timm(64, 2, 4, 8).withImageSize(32);

    @Test
    void timmPlainVitWithClassifierMatchesTimm() {
        VitConfig config = SMALL.withNumClasses(10);
        try (VisionTransformer vit = load("timm_plain", config); SafeTensorsFile io = io("timm_plain");
             PointerScope scope = new PointerScope()) {
            Tensor images = io.tensor("images");
            TensorAssert.assertClose(vit.forward(images, null), io.tensor("tokens"), TOLERANCE);
            TensorAssert.assertClose(vit.classify(images), io.tensor("logits"), TOLERANCE);
            TensorAssert.assertClose(vit.attentionWeights(images, null, 1), io.tensor("attn1"), TOLERANCE);
        }
    }

    @Test
    void timmCheckpointRunsAtOtherResolutionsAsTimmsFilterLoadsIt() {
        for (int size : new int[] {48, 24}) {
            try (VisionTransformer vit = load("timm_plain", SMALL.withNumClasses(10).withImageSize(size));
                 SafeTensorsFile io = io("timm_plain"); PointerScope scope = new PointerScope()) {
                Tensor images = io.tensor("images_" + size);
                TensorAssert.assertClose(vit.forward(images, null), io.tensor("tokens_" + size), TOLERANCE);
                TensorAssert.assertClose(vit.classify(images), io.tensor("logits_" + size), TOLERANCE);
            }
        }
    }

    @Test
    void timmLayerScaleMeanPoolingWithoutQkvBiasMatchesTimm() {
        VitConfig config = SMALL.withQkvBias(QkvBias.NONE).withLayerScale(0.1).withPooling(Pooling.MEAN);
        try (VisionTransformer vit = load("timm_ls_avg", config); SafeTensorsFile io = io("timm_ls_avg");
             PointerScope scope = new PointerScope()) {
            Tensor tokens = vit.forward(io.tensor("images"), null);
            TensorAssert.assertClose(tokens, io.tensor("tokens"), TOLERANCE);
            TensorAssert.assertClose(vit.pool(tokens), io.tensor("pooled"), TOLERANCE);
        }
    }

    @Test
    void beitPretrainingModelWithSharedRelativePositionAndMaskMatchesBeit() {
        try (VisionTransformer vit = load("beit_pretrain", SMALL.beitPretraining()); SafeTensorsFile io = io("beit_pretrain");
             PointerScope scope = new PointerScope()) {
            vit.eval(); // stochastic depth 0.1 is part of the recipe
            Tensor images = io.tensor("images"), mask = io.tensor("mask");
            TensorAssert.assertClose(vit.forward(images, mask), io.tensor("tokens"), TOLERANCE);
            TensorAssert.assertClose(vit.attentionWeights(images, mask, 1), io.tensor("attn1"), TOLERANCE);
        }
    }

    @Test
    void beitFinetuningModelWithPerBlockTablesMeanPoolingAndHeadMatchesBeit() {
        VitConfig config = SMALL.beitFinetuning().withAbsolutePosition(true).withNumClasses(10);
        try (VisionTransformer vit = load("beit_finetune", config); SafeTensorsFile io = io("beit_finetune");
             PointerScope scope = new PointerScope()) {
            vit.eval();
            Tensor tokens = vit.forward(io.tensor("images"), null);
            TensorAssert.assertClose(tokens, io.tensor("tokens"), TOLERANCE);
            TensorAssert.assertClose(vit.pool(tokens), io.tensor("pooled"), TOLERANCE);
            TensorAssert.assertClose(vit.classify(io.tensor("images")), io.tensor("logits"), TOLERANCE);
        }
    }

    @Test
    void beitCheckpointRunsAtOtherResolutionsAsBeitsFinetuningLoadsIt() {
        VitConfig config = SMALL.beitFinetuning().withAbsolutePosition(true).withNumClasses(10);
        for (int size : new int[] {48, 24}) {
            try (SafeTensorsFile weights = SafeTensorsFile.open(fixture("beit_finetune"));
                 VisionTransformer vit = VitCheckpoints.load(weights, "", config.withImageSize(size), Style.BEIT);
                 SafeTensorsFile io = io("beit_finetune"); PointerScope scope = new PointerScope()) {
                vit.eval();
                Tensor images = io.tensor("images_" + size);
                Tensor tokens = vit.forward(images, null);
                TensorAssert.assertClose(tokens, io.tensor("tokens_" + size), TOLERANCE);
                TensorAssert.assertClose(vit.pool(tokens), io.tensor("pooled_" + size), TOLERANCE);
                TensorAssert.assertClose(vit.classify(images), io.tensor("logits_" + size), TOLERANCE);
            }
        }
    }

    @Test
    void pretrainedSharedTableIsExpandedPerBlockAndResampledAsBeitsFinetuningDoes() {
        try (VisionTransformer vit = VisionTransformer.create(SMALL.beitFinetuning().withImageSize(48));
             SafeTensorsFile weights = SafeTensorsFile.open(fixture("beit_pretrain"));
             SafeTensorsFile io = io("beit_pretrain_to_finetune"); PointerScope scope = new PointerScope()) {
            vit.eval();
            LoadReport report = VitCheckpoints.copyInto(vit, weights, "", Style.BEIT, false);
            assertThat(report.missing()).containsExactlyInAnyOrder("fc_norm.weight", "fc_norm.bias");
            assertThat(report.unexpected()).containsExactlyInAnyOrder("norm.weight", "norm.bias");
            Tensor tokens = vit.forward(io.tensor("images_48"), null);
            TensorAssert.assertClose(tokens, io.tensor("tokens_48"), TOLERANCE);
            TensorAssert.assertClose(vit.pool(tokens), io.tensor("pooled_48"), TOLERANCE);
        }
    }

    private static VisionTransformer load(String name, VitConfig config) {
        return VitCheckpoints.load(fixture(name), config);
    }

    private static SafeTensorsFile io(String name) {
        return SafeTensorsFile.open(TestPaths.fixture("vit/" + name + ".io.safetensors"));
    }

    private static Path fixture(String name) {
        return TestPaths.fixture("vit/" + name + ".safetensors");
    }
}
