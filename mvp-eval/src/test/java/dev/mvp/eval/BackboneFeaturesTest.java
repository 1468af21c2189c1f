package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Frozen-backbone features (CLS, mean, both; last or an intermediate block) from timm- and BEiT-layout files, and from
 * a DINO-style .pth, against the reference models of tools/fixtures (make_eval_fixtures.py, features.safetensors).
 */
class BackboneFeaturesTest {
    static final double ATOL = 1e-5;

    static void check(Path weights, FeatureSpec spec, String imagesKey, String... expectedKeys) {
        Torch.init();
        try (FeatureExtractor ex = Extractors.open(weights.toString(), new Extractors.Options(4, 0, 0, spec));
             SafeTensorsFile ref = SafeTensorsFile.open(TestPaths.fixture("eval/features.safetensors"));
             PointerScope scope = new PointerScope()) {
            Tensor got = ex.extract(ref.tensor(imagesKey).clone());
            Tensor expected = expectedKeys.length == 1 ? ref.tensor(expectedKeys[0])
                    : org.bytedeco.pytorch.global.torch.cat(new org.bytedeco.pytorch.TensorVector(ref.tensor(expectedKeys[0]),
                    ref.tensor(expectedKeys[1])), 1);
            assertThat(ex.dim()).isEqualTo((int) expected.size(1));
            TensorAssert.assertClose(got, expected, ATOL);
        }
    }

    @Test
    void timmLayoutClsMeanAndBothOfTheLastBlock() {
        Path timm = TestPaths.fixture("vit/timm_plain.safetensors");
        check(timm, new FeatureSpec(FeatureSpec.Pooling.CLS, -1), "images", "timm_cls_last");
        check(timm, new FeatureSpec(FeatureSpec.Pooling.MEAN, 1), "images", "timm_mean_last");
        check(timm, new FeatureSpec(FeatureSpec.Pooling.BOTH, -1), "images", "timm_cls_last", "timm_mean_last");
    }

    @Test
    void anIntermediateBlockGoesThroughTheFinalNorm() {
        Path timm = TestPaths.fixture("vit/timm_plain.safetensors");
        check(timm, new FeatureSpec(FeatureSpec.Pooling.CLS, 0), "images", "timm_cls_block0");
        check(timm, new FeatureSpec(FeatureSpec.Pooling.MEAN, -2), "images", "timm_mean_block0");
    }

    @Test
    void aDinoStylePthWithABackbonePrefixGivesTheSameFeatures() {
        check(TestPaths.fixture("eval/timm_plain_dino.pth"), new FeatureSpec(FeatureSpec.Pooling.BOTH, -1), "images",
                "timm_cls_last", "timm_mean_last");
    }

    @Test
    void beitLayoutWithMeanPoolingUsesFcNorm() {
        Path beit = TestPaths.fixture("vit/beit_finetune.safetensors");
        check(beit, new FeatureSpec(FeatureSpec.Pooling.CLS, -1), "beit_images", "beit_cls_last");
        check(beit, new FeatureSpec(FeatureSpec.Pooling.MEAN, -1), "beit_images", "beit_mean_last");
    }

    @Test
    void theArchitectureIsInferredFromTheWeights() {
        VitConfig timm = BackboneFiles.inferConfig(TestPaths.fixture("vit/timm_plain.safetensors"), 0);
        assertThat(timm.width()).isEqualTo(64);
        assertThat(timm.depth()).isEqualTo(2);
        assertThat(timm.patchSize()).isEqualTo(8);
        assertThat(timm.imageSize()).isEqualTo(32);
        assertThat(timm.heads()).as("no metadata: width / 64").isEqualTo(1);
        assertThat(timm.qkvBias()).isEqualTo(VitConfig.QkvBias.QKV);
        assertThat(timm.pooling()).isEqualTo(VitConfig.Pooling.CLS);
        VitConfig beit = BackboneFiles.inferConfig(TestPaths.fixture("vit/beit_pretrain.safetensors"), 4);
        assertThat(beit.heads()).isEqualTo(4);
        assertThat(beit.relativePosition()).isEqualTo(VitConfig.RelativePosition.SHARED);
        assertThat(beit.absolutePosition()).isFalse();
        assertThat(beit.imageSize()).as("from the relative table's grid").isEqualTo(32);
        assertThat(beit.qkvBias()).isEqualTo(VitConfig.QkvBias.QV);
        assertThat(beit.layerScale()).isPositive();
    }

    @Test
    void headsComeFromTheMetadataOfExportedFiles(@org.junit.jupiter.api.io.TempDir Path tmp) {
        Torch.init();
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("vit/timm_plain.safetensors"));
             PointerScope scope = new PointerScope()) {
            java.util.Map<String, Tensor> all = new java.util.LinkedHashMap<>();
            for (String n : f.names()) all.put(n, f.tensor(n));
            dev.mvp.models.io.SafeTensorsWriter.write(tmp.resolve("exported.safetensors"), all,
                    java.util.Map.of("mvp_vit_config", "{\"width\":64,\"depth\":2,\"heads\":4}"));
            dev.mvp.models.io.SafeTensorsWriter.write(tmp.resolve("keyed.safetensors"), all, java.util.Map.of("num_heads", "2"));
        }
        assertThat(BackboneFiles.inferConfig(tmp.resolve("exported.safetensors"), 0).heads()).isEqualTo(4);
        assertThat(BackboneFiles.inferConfig(tmp.resolve("keyed.safetensors"), 0).heads()).isEqualTo(2);
        assertThat(BackboneFiles.inferConfig(tmp.resolve("keyed.safetensors"), 2).heads()).as("the flag agrees").isEqualTo(2);
        assertThatThrownBy(() -> BackboneFiles.inferConfig(tmp.resolve("keyed.safetensors"), 8)).as("a contradicting flag")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keyed.safetensors")
                .hasMessageContaining("--heads 8 contradicts the file's metadata (2 heads)");
    }

    @Test
    void beitsRelativePositionTablesGiveTheHeadsAndCatchAWrongCount() {
        // width 64 with 4 heads: width / 64 would silently give 1
        assertThat(BackboneFiles.inferConfig(TestPaths.fixture("vit/beit_pretrain.safetensors"), 0).heads()).isEqualTo(4);
        assertThat(BackboneFiles.inferConfig(TestPaths.fixture("vit/beit_finetune.safetensors"), 0).heads()).isEqualTo(4);
        assertThatThrownBy(() -> BackboneFiles.inferConfig(TestPaths.fixture("vit/beit_finetune.safetensors"), 2))
                .hasMessageContaining("--heads 2 contradicts blocks.0.attn.relative_position_bias_table (4 columns, one per head)");
        BackboneFiles.Loaded loaded = BackboneFiles.load(TestPaths.fixture("vit/beit_pretrain.safetensors"), BackboneFiles.Options.inferred());
        try (VisionTransformer vit = loaded.model()) {
            assertThat(vit.config().heads()).isEqualTo(4);
            assertThat(loaded.headsSource()).isEqualTo("rel_pos_bias.relative_position_bias_table (4 columns, one per head)");
        }
    }

    @Test
    void withoutAStatedCountTheHeadsAreAssumedAndSaySo() {
        Path f = Path.of("x.safetensors");
        assertThat(BackboneFiles.resolveHeads(f, 768, 0, 0, 0, 0, null).count()).isEqualTo(12);
        assertThat(BackboneFiles.resolveHeads(f, 768, 0, 0, 0, 0, null).source()).startsWith("assumed width / 64");
        assertThat(BackboneFiles.resolveHeads(f, 1280, 0, 0, 0, 0, null).count()).as("ViT-H: 16 heads of 80").isEqualTo(16);
        assertThat(BackboneFiles.resolveHeads(f, 1280, 0, 0, 0, 0, null).source()).startsWith("assumed 16");
        assertThat(BackboneFiles.resolveHeads(f, 1280, 20, 0, 0, 0, null).count()).as("the flag decides").isEqualTo(20);
        assertThatThrownBy(() -> BackboneFiles.resolveHeads(f, 100, 0, 0, 0, 0, null)).hasMessageContaining("x.safetensors")
                .hasMessageContaining("--heads");
        assertThatThrownBy(() -> BackboneFiles.resolveHeads(f, 768, 0, 12, 6, 0, null))
                .hasMessageContaining("the file's metadata (12 heads) contradicts the run's model (6 heads)");
        assertThat(BackboneFiles.resolveHeads(f, 768, 12, 12, 12, 12, "t").source()).isEqualTo("--heads 12");
    }

    @Test
    void aCheckpointFolderWhoseModelJsonContradictsItsWeightsIsRefused(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path file = TestPaths.fixture("vit/timm_plain.safetensors");
        VitConfig own = BackboneFiles.describe(file, 0).config();
        Path ckpt = Files.createDirectories(tmp.resolve("run/checkpoints/step-00000002"));
        Files.copy(file, ckpt.resolve("model.safetensors"));
        Path modelJson = ckpt.resolve("model.json");

        // the record agrees: its heads are used and said to come from the run
        Files.writeString(modelJson, "{\"backbone\": {\"type\": \"vit\", \"config\": {\"width\": " + own.width()
                + ", \"heads\": " + own.heads() + "}}}");
        assertThat(BackboneFiles.describe(ckpt, 0).headsSource()).isEqualTo("the run's model (" + own.heads() + " heads)");

        // weights of a wider model copied over the checkpoint's (or a model.json of another run): refused by every path
        Files.writeString(modelJson, "{\"backbone\": {\"type\": \"vit\", \"config\": {\"width\": " + 2 * own.width()
                + ", \"heads\": " + own.heads() + "}}}");
        for (org.assertj.core.api.ThrowableAssert.ThrowingCallable load : java.util.List.<org.assertj.core.api.ThrowableAssert.ThrowingCallable>of(
                () -> BackboneFiles.describe(ckpt, 0),
                () -> BackboneFiles.load(ckpt, BackboneFiles.Options.inferred()).model().close(),
                () -> BackboneFiles.loadForFinetuning(ckpt, 0, 0, 10, true, 0.1).model().close())) {
            assertThatThrownBy(load).isInstanceOf(WeightFormatException.class)
                    .hasMessageContaining("width " + own.width() + " contradicts " + modelJson)
                    .hasMessageContaining("says width " + 2 * own.width());
        }
        // a weight file named directly is not checked against folders it happens to be in
        assertThat(BackboneFiles.describe(ckpt.resolve("model.safetensors"), 0).config().width()).isEqualTo(own.width());
    }

    @Test
    void badSourcesAreNamed(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        assertThatThrownBy(() -> BackboneFiles.weightFile(tmp.resolve("nope"))).hasMessageContaining("nope");
        assertThatThrownBy(() -> BackboneFiles.weightFile(tmp)).hasMessageContaining("neither a checkpoint");
        Path notVit = TestPaths.fixture("eval/lars.safetensors");
        assertThatThrownBy(() -> BackboneFiles.inferConfig(notVit, 0)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("lars.safetensors").hasMessageContaining("cls_token");
        Path junk = Files.writeString(tmp.resolve("junk.pth"), "not a checkpoint at all");
        assertThatThrownBy(() -> BackboneFiles.inferConfig(junk, 0)).hasMessageContaining("junk.pth");
        assertThatThrownBy(() -> Extractors.open(TestPaths.fixture("vit/timm_plain.safetensors").toString(),
                new Extractors.Options(4, 0, 0, new FeatureSpec(FeatureSpec.Pooling.CLS, 2))))
                .hasMessageContaining("block 2 does not exist");
    }
}
