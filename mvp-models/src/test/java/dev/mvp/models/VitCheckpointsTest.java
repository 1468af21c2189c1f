package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.models.PositionResampling.Style;
import dev.mvp.models.VitCheckpoints.Layout;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.VitConfig.RelativePosition;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VitCheckpointsTest {
    private static final VitConfig SMALL = VitConfig.timm(64, 2, 4, 8).withImageSize(32);

    @TempDir
    Path dir;

    @Test
    void exportedThenReimportedWeightsGiveBitIdenticalOutputs() {
        VitConfig[] configs = {
                SMALL.withNumClasses(10),
                SMALL.withQkvBias(QkvBias.NONE).withLayerScale(0.1).withPooling(Pooling.MEAN),
                SMALL.beitPretraining(),
                SMALL.beitFinetuning().withAbsolutePosition(true).withNumClasses(10)};
        for (VitConfig config : configs) {
            for (Layout layout : Layout.values()) {
                if (layout == Layout.TIMM && config.relativePosition() != RelativePosition.NONE) continue;
                // BEiT's layout has no k bias: dropping it is exact in arithmetic, not in rounding (next test)
                if (layout == Layout.BEIT && config.qkvBias() == QkvBias.QKV) continue;
                torch.manual_seed(11);
                try (VisionTransformer source = randomised(config)) {
                    Path file = dir.resolve(layout + ".safetensors");
                    VitCheckpoints.save(source, layout, file);
                    try (VisionTransformer copy = VitCheckpoints.load(file, config); PointerScope scope = new PointerScope()) {
                        source.eval();
                        copy.eval();
                        Tensor images = Tensors.randn(2, 3, 32, 32);
                        assertThat(TensorAssert.maxAbsDiff(copy.forward(images, null), source.forward(images, null)))
                                .as(config + " via " + layout).isZero();
                    }
                }
            }
        }
    }

    @Test
    void exportReproducesTheReferenceStateDictsExactly() {
        // weights read from timm's and BEiT's own state dicts are written back under the same names, bit for bit
        assertExportReproduces("timm_plain", SMALL.withNumClasses(10), Layout.TIMM, Set.of());
        assertExportReproduces("timm_ls_avg", SMALL.withQkvBias(QkvBias.NONE).withLayerScale(0.1).withPooling(Pooling.MEAN),
                Layout.TIMM, Set.of());
        // BEiT's pre-training state dict also holds the mask token, which the exchange layouts leave out
        assertExportReproduces("beit_pretrain", SMALL.beitPretraining(), Layout.BEIT, Set.of("mask_token"));
        assertExportReproduces("beit_finetune", SMALL.beitFinetuning().withAbsolutePosition(true).withNumClasses(10),
                Layout.BEIT, Set.of());
    }

    @Test
    void qvBiasesBecomeTimmsFusedBiasWithAZeroKeyThirdAndBack() {
        torch.manual_seed(12);
        VitConfig beit = SMALL.withQkvBias(QkvBias.QV);
        try (VisionTransformer qv = randomised(beit); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> timm = VitCheckpoints.export(StateDict.of(qv), Layout.TIMM);
            Tensor fused = timm.get("blocks.1.attn.qkv.bias");
            Map<String, Tensor> own = StateDict.of(qv);
            TensorAssert.assertClose(fused.narrow(0, 0, 64), own.get("blocks.1.attn.q_bias"), 0);
            TensorAssert.assertClose(fused.narrow(0, 64, 64), Tensors.zeros(64), 0);
            TensorAssert.assertClose(fused.narrow(0, 128, 64), own.get("blocks.1.attn.v_bias"), 0);
            assertThat(timm).doesNotContainKeys("blocks.1.attn.q_bias", "blocks.1.attn.v_bias", "mask_token");
        }
    }

    @Test
    void droppingTimmsKeyBiasForBeitsLayoutChangesNoOutput() {
        torch.manual_seed(13);
        try (VisionTransformer timm = randomised(SMALL)) {  // its qkv.bias has a non-zero k third
            Path file = dir.resolve("beit.safetensors");
            VitCheckpoints.save(timm, Layout.BEIT, file);
            try (VisionTransformer beit = VitCheckpoints.load(file, SMALL.withQkvBias(QkvBias.QV));
                 PointerScope scope = new PointerScope()) {
                Tensor images = Tensors.randn(2, 3, 32, 32);
                assertThat(TensorAssert.maxAbsDiff(beit.forward(images, null), timm.forward(images, null))).isLessThan(1e-5);
            }
        }
    }

    @Test
    void beitIndexBufferIsBeitsOwn() {
        try (SafeTensorsFile reference = SafeTensorsFile.open(TestPaths.fixture("vit/beit_pretrain.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(RelativePositionBias.index(4)).containsExactly(Tensors.toLongs(reference.tensor("rel_pos_bias.relative_position_index")));
        }
    }

    @Test
    void pretrainingCheckpointIsReadUnderItsBackbonePrefix() {
        torch.manual_seed(14);
        try (VisionTransformer vit = randomised(SMALL)) {
            Path file = dir.resolve("model.safetensors");
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> checkpoint = new LinkedHashMap<>();
                StateDict.of(vit).forEach((k, v) -> checkpoint.put("backbone." + k, v));
                checkpoint.put("head.weight", Tensors.randn(512, 64));   // MVP's head, not the backbone's
                SafeTensorsWriter.write(file, checkpoint);
            }
            try (VisionTransformer copy = VitCheckpoints.load(file, SMALL); PointerScope scope = new PointerScope()) {
                Tensor images = Tensors.randn(1, 3, 32, 32), mask = Tensors.ofBooleans(new boolean[16], 1, 16);
                mask.select(1, 5).fill_(Tensors.scalar(1));
                // the mask token came along too
                assertThat(TensorAssert.maxAbsDiff(copy.forward(images, mask), vit.forward(images, mask))).isZero();
            }
        }
    }

    @Test
    void timmLayoutCannotHoldARelativePositionBias() {
        try (VisionTransformer vit = VisionTransformer.create(SMALL.beitPretraining())) {
            assertThatThrownBy(() -> VitCheckpoints.save(vit, Layout.TIMM, dir.resolve("x.safetensors")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rel_pos_bias.relative_position_bias_table").hasMessageContaining("BEiT");
        }
    }

    @Test
    void weightsThatDoNotFitAreRejectedNamingTheFileAndTensor() {
        Path timm = TestPaths.fixture("vit/timm_plain.safetensors");
        assertThatThrownBy(() -> VitCheckpoints.load(timm, VitConfig.timm(32, 2, 4, 8).withImageSize(32).withNumClasses(10)))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("timm_plain.safetensors")
                .hasMessageContaining("does not fit width 32");
        assertThatThrownBy(() -> VitCheckpoints.load(timm, SMALL.withNumClasses(10).withQkvBias(QkvBias.NONE)))
                .isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("'blocks.0.attn.qkv.bias'").hasMessageContaining("QkvBias.NONE");
        assertThatThrownBy(() -> VitCheckpoints.load(timm, VitConfig.timm(64, 3, 4, 8).withImageSize(32).withNumClasses(10)))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("'blocks.2.");
        assertThatThrownBy(() -> VitCheckpoints.load(timm, SMALL.withNumClasses(10).withLayerScale(0.1)))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("'blocks.0.ls1.gamma': missing");
        assertThatThrownBy(() -> VitCheckpoints.load(timm, SMALL.withNumClasses(7)))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("'head.weight': shape [10, 64]");
        Path finetuned = TestPaths.fixture("vit/beit_finetune.safetensors");
        assertThatThrownBy(() -> VitCheckpoints.load(finetuned, SMALL.beitPretraining().withAbsolutePosition(true)))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("relative_position_bias_table")
                .hasMessageContaining("unexpected");
    }

    @Test
    void timmCheckpointWithoutClassifierLoadsIntoABackbone() {
        // the head is left out when the model has none, as timm does for num_classes=0
        try (VisionTransformer vit = VitCheckpoints.load(TestPaths.fixture("vit/timm_plain.safetensors"), SMALL);
             SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("vit/timm_plain.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            TensorAssert.assertClose(vit.forward(io.tensor("images"), null), io.tensor("tokens"), 1e-4);
        }
    }

    @Test
    void withImageSizeKeepsTheWeightsAndResamplesPositions() {
        torch.manual_seed(15);
        try (VisionTransformer vit = randomised(SMALL.beitFinetuning().withAbsolutePosition(true));
             VisionTransformer big = vit.withImageSize(48); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> a = StateDict.of(vit), b = StateDict.of(big);
            assertThat(b.get("pos_embed").size(1)).isEqualTo(37);
            assertThat(b.get("blocks.0.attn.relative_position_bias_table").size(0)).isEqualTo(11 * 11 + 3);
            TensorAssert.assertClose(b.get("blocks.1.mlp.fc1.weight"), a.get("blocks.1.mlp.fc1.weight"), 0);
            TensorAssert.assertClose(b.get("pos_embed"), PositionResampling.absolute(a.get("pos_embed"), 6, Style.TIMM), 0);
            assertThat(Tensors.shape(big.forward(Tensors.randn(1, 3, 48, 48), null))).containsExactly(1, 37, 64);
        }
    }

    @Test
    void pythonSnippetBuildsTheMatchingTimmModel() {
        assertThat(VitCheckpoints.pythonSnippet(VitConfig.base(16), Layout.TIMM, "vit.safetensors"))
                .contains("timm.models.vision_transformer.VisionTransformer(img_size=224, patch_size=16, embed_dim=768, "
                        + "depth=12, num_heads=12, num_classes=0, global_pool='token')")
                .contains("load_state_dict(safetensors.torch.load_file('vit.safetensors'))");
        assertThat(VitCheckpoints.pythonSnippet(VitConfig.base(16).beitPretraining(), Layout.BEIT, "b.safetensors"))
                .contains("timm.models.beit.Beit(", "init_values=0.1", "use_abs_pos_emb=False", "use_shared_rel_pos_bias=True");
    }

    /** A model of {@code config} whose every parameter is random (so no part of a conversion can go unnoticed). */
    private static VisionTransformer randomised(VitConfig config) {
        VisionTransformer vit = VisionTransformer.create(config);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (Tensor t : StateDict.of(vit).values()) t.copy_(Tensors.randn(Tensors.shape(t)).mul(Tensors.scalar(0.3)));
        }
        return vit;
    }

    private static void assertExportReproduces(String fixture, VitConfig config, Layout layout, Set<String> leftOut) {
        Path file = TestPaths.fixture("vit/" + fixture + ".safetensors");
        try (VisionTransformer vit = VitCheckpoints.load(file, config); SafeTensorsFile reference = SafeTensorsFile.open(file);
             PointerScope scope = new PointerScope()) {
            Map<String, Tensor> exported = VitCheckpoints.export(StateDict.of(vit), layout);
            Set<String> expected = new HashSet<>(reference.names());
            expected.removeAll(leftOut);
            assertThat(exported.keySet()).as(fixture).containsExactlyInAnyOrderElementsOf(expected);
            for (String name : exported.keySet()) {
                Tensor ours = exported.get(name), theirs = reference.tensor(name);
                assertThat(ours.scalar_type().value).as(name).isEqualTo(theirs.scalar_type().value);
                assertThat(ours.equal(theirs)).as(fixture + " " + name).isTrue();
            }
        }
    }
}
