package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.models.VitConfig.AttentionKernel;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.io.StateDict;
import dev.mvp.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class VisionTransformerTest {

    /** A small configuration: 64x64 images, 16x16 patches (4x4 grid), width 32, 2 blocks, 2 heads. */
    private static final VitConfig SMALL = VitConfig.timm(32, 2, 2, 16).withImageSize(64);

    @Test
    void returnsClsAndEveryPatchToken() {
        torch.manual_seed(0);
        try (VisionTransformer vit = VisionTransformer.create(SMALL); PointerScope scope = new PointerScope()) {
            Tensor out = vit.forward(Tensors.randn(3, 3, 64, 64), null);
            assertThat(Tensors.shape(out)).containsExactly(3, 17, 32);
            assertThat(vit.numPatches()).isEqualTo(16);
            assertThat(Tensors.shape(vit.pool(out))).containsExactly(3, 32);
        }
    }

    @Test
    void forwardGivesTheSameTokensAndGradientsWithOrWithoutAnEnclosingScope() {
        // forward runs each block in a scope of its own and hands the result to the caller's scope, if any
        torch.manual_seed(9);
        try (VisionTransformer vit = VisionTransformer.create(SMALL.beitPretraining())) {
            vit.eval();
            randomise(vit);
            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor unscoped = vit.forward(images, null);
            unscoped.sum().backward();
            Tensor unscopedGrad = StateDict.of(vit).get("blocks.0.attn.qkv.weight").grad().clone();
            vit.zero_grad(true);
            try (PointerScope scope = new PointerScope()) {
                Tensor scoped = vit.forward(images, null);
                scoped.sum().backward();
                assertThat(TensorAssert.maxAbsDiff(scoped, unscoped)).isZero();
                assertThat(TensorAssert.maxAbsDiff(StateDict.of(vit).get("blocks.0.attn.qkv.weight").grad(), unscopedGrad)).isZero();
            }
        }
    }

    @Test
    void maskedPatchesReceiveTheMaskTokenAndTheirPixelsAreInvisible() {
        torch.manual_seed(1);
        boolean[] flags = new boolean[2 * 16];
        int[] masked = {0, 5, 6, 15, 16 + 3, 16 + 9};
        for (int i : masked) flags[i] = true;
        try (VisionTransformer vit = VisionTransformer.create(SMALL); PointerScope scope = new PointerScope()) {
            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor mask = Tensors.ofBooleans(flags, 2, 16);
            Tensor tokens = vit.embed(images, mask);
            Map<String, Tensor> params = StateDict.of(vit);
            Tensor maskToken = params.get("mask_token").reshape(new long[] {32});
            Tensor pos = params.get("pos_embed");
            for (int i : masked) {
                int b = i / 16, patch = i % 16;
                TensorAssert.assertClose(tokens.select(0, b).select(0, 1 + patch),
                        maskToken.add(pos.select(0, 0).select(0, 1 + patch)), 1e-6);
            }
            // change the pixels under masked patch 5 of image 0 (row 1, col 1): no output may change
            Tensor altered = images.clone();
            altered.select(0, 0).narrow(1, 16, 16).narrow(2, 16, 16).fill_(Tensors.scalar(7.0));
            TensorAssert.assertClose(vit.forward(altered, mask), vit.forward(images, mask), 0);
            // ... while changing an unmasked patch (patch 1 of image 0) does change the output
            Tensor visible = images.clone();
            visible.select(0, 0).narrow(1, 0, 16).narrow(2, 16, 16).fill_(Tensors.scalar(7.0));
            assertThat(TensorAssert.maxAbsDiff(vit.forward(visible, mask), vit.forward(images, mask))).isGreaterThan(1e-3);
        }
    }

    @ParameterizedTest(name = "{0}/{1}: {2}")
    @CsvSource({
            // timm's published counts (vit_*_patch16_224, num_classes=0)
            "tiny, 16, 5524416", "small, 16, 21665664", "base, 16, 85798656", "large, 16, 303301632",
            // the same timm VisionTransformer with patch_size=14 (tools/fixtures/vit_reference.py counts them)
            "tiny, 14, 5501376", "small, 14, 21619584", "base, 14, 85706496", "large, 14, 303178752"})
    void parameterCountsEqualTimms(String preset, int patch, long timmCount) {
        assertThat(countWithoutMaskToken(VitConfig.preset(preset, patch))).isEqualTo(timmCount);
    }

    @Test
    void beitParameterCountsEqualBeits() {
        // timm's beit_base_patch16_224 (1000 classes, per-block tables, layer scale, mean pooling): 86.53 M
        assertThat(countWithoutMaskToken(VitConfig.base(16).beitFinetuning().withNumClasses(1000))).isEqualTo(86_530_984L);
        // timm's vit_base_patch16_224 with its 1000-class head: 86.57 M
        assertThat(countWithoutMaskToken(VitConfig.base(16).withNumClasses(1000))).isEqualTo(86_567_656L);
        // BEiT's pre-training model without its lm_head, mask token included (tools/fixtures/vit_reference.py)
        assertThat(countWithoutMaskToken(VitConfig.base(16).beitPretraining()) + 768).isEqualTo(85_666_128L);
    }

    @Test
    void parameterNamesFollowTimmAndBeit() {
        assertThat(names(SMALL)).containsExactlyInAnyOrder("cls_token", "pos_embed", "mask_token",
                "patch_embed.proj.weight", "patch_embed.proj.bias",
                "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
                "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias",
                "blocks.1.norm1.weight", "blocks.1.norm1.bias", "blocks.1.attn.qkv.weight", "blocks.1.attn.qkv.bias",
                "blocks.1.attn.proj.weight", "blocks.1.attn.proj.bias", "blocks.1.norm2.weight", "blocks.1.norm2.bias",
                "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc1.bias", "blocks.1.mlp.fc2.weight", "blocks.1.mlp.fc2.bias",
                "norm.weight", "norm.bias");
        assertThat(names(SMALL.beitPretraining())).contains("rel_pos_bias.relative_position_bias_table",
                "blocks.1.attn.q_bias", "blocks.1.attn.v_bias", "blocks.1.ls1.gamma", "blocks.1.ls2.gamma", "norm.weight")
                .doesNotContain("pos_embed", "blocks.1.attn.qkv.bias", "blocks.1.attn.relative_position_bias_table");
        assertThat(names(SMALL.beitFinetuning().withNumClasses(5))).contains("blocks.1.attn.relative_position_bias_table",
                "fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias")
                .doesNotContain("rel_pos_bias.relative_position_bias_table", "norm.weight");
    }

    @Test
    void initialisationFollowsBeitsPretrainingModel() {
        torch.manual_seed(2);
        VitConfig config = VitConfig.timm(192, 3, 3, 16).withImageSize(64).beitPretraining().withNumClasses(4);
        try (VisionTransformer vit = VisionTransformer.create(config); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> p = StateDict.of(vit);
            for (String name : List.of("patch_embed.proj.weight", "cls_token", "mask_token", "blocks.0.attn.qkv.weight",
                    "blocks.0.mlp.fc1.weight")) {
                assertThat(max(p.get(name).abs())).as(name).isLessThanOrEqualTo(0.02f);
            }
            // fix_init_weight: block i's output projections divided by sqrt(2 i), i from 1
            assertThat(max(p.get("blocks.2.attn.proj.weight").abs())).isLessThanOrEqualTo((float) (0.02 / Math.sqrt(6)));
            assertThat(max(p.get("blocks.2.mlp.fc2.weight").abs())).isGreaterThan((float) (0.02 / Math.sqrt(6) * 0.99));
            assertThat(Tensors.toFloats(p.get("blocks.1.ls2.gamma"))).containsOnly(0.1f);
            assertThat(Tensors.toFloats(p.get("rel_pos_bias.relative_position_bias_table"))).containsOnly(0f);
            assertThat(Tensors.toFloats(p.get("blocks.0.attn.q_bias"))).containsOnly(0f);
            assertThat(Tensors.toFloats(p.get("norm.weight"))).containsOnly(1f);
            // BEiT's fine-tuning head: std 0.02 scaled by init_scale 0.001
            assertThat(max(p.get("head.weight").abs())).isLessThan(1e-4f).isGreaterThan(0f);
        }
    }

    @Test
    void sdpaAndExplicitAttentionAgreeTo1e5ForwardAndBackward() {
        for (VitConfig config : new VitConfig[] {SMALL, SMALL.beitPretraining(), SMALL.beitFinetuning()}) {
            torch.manual_seed(3);
            try (VisionTransformer explicit = VisionTransformer.create(config.withAttention(AttentionKernel.MATMUL));
                 VisionTransformer sdpa = VisionTransformer.create(config.withAttention(AttentionKernel.SDPA));
                 PointerScope scope = new PointerScope()) {
                explicit.eval();
                sdpa.eval();
                randomise(explicit);
                copyWeights(explicit, sdpa);
                Tensor images = Tensors.randn(2, 3, 64, 64);
                Tensor a = explicit.forward(images, null), b = sdpa.forward(images, null);
                assertThat(TensorAssert.maxAbsDiff(a, b)).as("forward, %s", config.relativePosition()).isLessThan(1e-5);
                a.square().mean().backward();
                b.square().mean().backward();
                Map<String, Tensor> ga = StateDict.of(explicit), gb = StateDict.of(sdpa);
                for (String name : ga.keySet()) {
                    if (!ga.get(name).grad().defined()) continue;  // the mask token is not used without a mask
                    assertThat(TensorAssert.maxAbsDiff(ga.get(name).grad(), gb.get(name).grad())).as("grad " + name).isLessThan(1e-5);
                }
            }
        }
    }

    @Test
    void attentionWeightsAreTheSoftmaxRowsOfTheRequestedBlock() {
        torch.manual_seed(4);
        try (VisionTransformer vit = VisionTransformer.create(SMALL.beitFinetuning()); PointerScope scope = new PointerScope()) {
            vit.eval();
            randomise(vit);
            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor w = vit.attentionWeights(images, null, 1);
            assertThat(Tensors.shape(w)).containsExactly(2, 2, 17, 17);
            float[] rowSums = Tensors.toFloats(w.sum(new long[] {-1}, false, new org.bytedeco.pytorch.ScalarTypeOptional()));
            for (float s : rowSums) assertThat(s).isCloseTo(1f, within(1e-5f));
            // block 0's weights differ from block 1's (different tables and inputs)
            assertThat(TensorAssert.maxAbsDiff(vit.attentionWeights(images, null, 0), w)).isGreaterThan(1e-3);
            assertThatThrownBy(() -> vit.attentionWeights(images, null, 2)).hasMessageContaining("blocks 0..1");
        }
    }

    @Test
    void dropPathFollowsTheLinearRuleAndIsReproducibleWhenSeeded() {
        VitConfig config = SMALL.withDropPath(0.5).withDepth(3);
        assertThat(config.dropPathOf(0)).isZero();
        assertThat(config.dropPathOf(1)).isEqualTo(0.25);
        assertThat(config.dropPathOf(2)).isEqualTo(0.5);
        torch.manual_seed(5);
        try (VisionTransformer vit = VisionTransformer.create(config); PointerScope scope = new PointerScope()) {
            randomise(vit);
            Tensor images = Tensors.randn(16, 3, 64, 64);
            vit.eval();
            Tensor deterministic = vit.forward(images, null);
            assertThat(TensorAssert.maxAbsDiff(vit.forward(images, null), deterministic)).isZero();
            vit.train(true);
            torch.manual_seed(6);
            Tensor first = vit.forward(images, null);
            torch.manual_seed(6);
            Tensor again = vit.forward(images, null);
            assertThat(TensorAssert.maxAbsDiff(first, again)).as("same seed, same drops").isZero();
            assertThat(TensorAssert.maxAbsDiff(first, deterministic)).as("some branch was dropped or rescaled").isGreaterThan(1e-3);
        }
    }

    @Test
    void droppedBranchesLeaveTheResidualUntouched() {
        // depth 2 at rate 0.9: block 0 never drops (linspace starts at 0), block 1 drops each branch with p = 0.9
        VitConfig config = SMALL.withDropPath(0.9).withPooling(Pooling.MEAN);  // MEAN: no final norm, raw tokens
        torch.manual_seed(7);
        try (VisionTransformer vit = VisionTransformer.create(config);
             VisionTransformer firstBlock = VisionTransformer.create(config.withDepth(1))) {
            randomise(vit);
            copyWeights(vit, firstBlock);
            vit.train(true);
            firstBlock.eval();
            try (PointerScope scope = new PointerScope()) {
                Tensor images = Tensors.randn(64, 3, 64, 64);
                Tensor afterBlock0 = firstBlock.forward(images, null);
                torch.manual_seed(8);
                Tensor out = vit.forward(images, null);
                // a sample leaves block 1 exactly as it entered when both of its branches were dropped
                int unchanged = 0;
                for (int b = 0; b < 64; b++) {
                    if (TensorAssert.maxAbsDiff(out.select(0, b), afterBlock0.select(0, b)) == 0) unchanged++;
                }
                // P(both dropped) = 0.81: 52 of 64 on average; [38, 62] holds with probability > 0.999
                assertThat(unchanged).isBetween(38, 62);
            }
        }
    }

    @Test
    void rejectsWrongInputShapes() {
        try (VisionTransformer vit = VisionTransformer.create(SMALL); PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> vit.forward(Tensors.randn(1, 3, 32, 32), null))
                    .hasMessageContaining("[B, 3, 64, 64]").hasMessageContaining("[1, 3, 32, 32]");
            assertThatThrownBy(() -> vit.forward(Tensors.randn(1, 3, 64, 64), Tensors.ofBooleans(new boolean[4], 1, 4)))
                    .hasMessageContaining("mask");
            assertThatThrownBy(() -> vit.classify(Tensors.randn(1, 3, 64, 64))).hasMessageContaining("numClasses is 0");
        }
    }

    @Test
    void rejectsInconsistentConfigurations() {
        assertThatThrownBy(() -> VitConfig.base(16).withImageSize(100)).hasMessageContaining("not a multiple of patch size 16");
        assertThatThrownBy(() -> VitConfig.timm(100, 12, 3, 16)).hasMessageContaining("not divisible by 3 heads");
        assertThatThrownBy(() -> VitConfig.base(16).withDropPath(1.0)).hasMessageContaining("drop path");
        assertThatThrownBy(() -> VitConfig.preset("huge", 14)).hasMessageContaining("unknown model 'huge'");
    }

    @Test
    void refusesToBeBuiltInsideAPointerScope() {
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> VisionTransformer.create(SMALL)).hasMessageContaining("outside any PointerScope");
        }
    }

    @Test
    void parameterCountIsLinearInDepthSoTheCountsBelowNeedNotBuildWholeModels() {
        // the blocks of a model are alike, so count(depth d) = count(1) + (d - 1) * (count(2) - count(1));
        // checked here on a whole 12-block ViT-Ti, then used to count ViT-B and ViT-L without initialising 300 M floats
        VitConfig tiny = VitConfig.tiny(16);
        VitConfig beit = VitConfig.tiny(16).beitFinetuning().withNumClasses(1000);
        assertThat(countWithoutMaskToken(tiny)).isEqualTo(builtCount(tiny)).isEqualTo(5_524_416L);
        assertThat(countWithoutMaskToken(beit)).isEqualTo(builtCount(beit));
    }

    /** The parameter count without the mask token, from 1- and 2-block models (see the test above). */
    private static long countWithoutMaskToken(VitConfig config) {
        if (config.depth() <= 2) return builtCount(config);
        long one = builtCount(config.withDepth(1)), two = builtCount(config.withDepth(2));
        return one + (config.depth() - 1) * (two - one);
    }

    private static long builtCount(VitConfig config) {
        try (VisionTransformer vit = VisionTransformer.create(config); PointerScope scope = new PointerScope()) {
            long total = 0;
            for (Map.Entry<String, Tensor> e : StateDict.of(vit).entrySet()) {
                if (!e.getKey().equals("mask_token")) total += e.getValue().numel();
            }
            return total;
        }
    }

    private static List<String> names(VitConfig config) {
        try (VisionTransformer vit = VisionTransformer.create(config); PointerScope scope = new PointerScope()) {
            return new ArrayList<>(StateDict.of(vit).keySet());
        }
    }

    private static float max(Tensor t) {
        return (float) t.max().item_double();
    }

    /** Every parameter random, so that zero-initialised tables and biases take part. */
    private static void randomise(VisionTransformer vit) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (Tensor t : StateDict.of(vit).values()) t.copy_(Tensors.randn(Tensors.shape(t)).mul(Tensors.scalar(0.3)));
        }
    }

    private static void copyWeights(VisionTransformer from, VisionTransformer to) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> source = StateDict.of(from);
            StateDict.of(to).forEach((name, t) -> t.copy_(source.get(name)));  // to's names are a subset
        }
    }
}
