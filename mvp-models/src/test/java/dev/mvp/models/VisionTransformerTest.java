package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VisionTransformerTest {

    /** A small configuration: 64x64 images, 16x16 patches (4x4 grid), width 32, 2 blocks, 2 heads. */
    private static final VitConfig SMALL = new VitConfig(64, 16, 32, 2, 2, 4.0, true, 1e-6);

    @Test
    void returnsClsAndEveryPatchToken() {
        torch.manual_seed(0);
        VisionTransformer vit = VisionTransformer.create(SMALL);
        try (PointerScope scope = new PointerScope()) {
            Tensor out = vit.forward(Tensors.randn(3, 3, 64, 64), null);
            assertThat(Tensors.shape(out)).containsExactly(3, 17, 32);
            assertThat(vit.numPatches()).isEqualTo(16);
        }
    }

    @Test
    void maskedPatchesReceiveTheMaskTokenAndTheirPixelsAreInvisible() {
        torch.manual_seed(1);
        VisionTransformer vit = VisionTransformer.create(SMALL);
        boolean[] flags = new boolean[2 * 16];
        int[] masked = {0, 5, 6, 15, 16 + 3, 16 + 9};
        for (int i : masked) flags[i] = true;
        try (PointerScope scope = new PointerScope()) {
            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor mask = Tensors.ofBooleans(flags, 2, 16);
            Tensor tokens = vit.embed(images, mask);
            float[] maskToken = Tensors.toFloats(param(vit, "mask_token"));
            Tensor pos = param(vit, "pos_embed");
            for (int i : masked) {
                int b = i / 16, patch = i % 16;
                Tensor expected = Tensors.ofFloats(maskToken, 32).add(pos.select(0, 0).select(0, 1 + patch));
                TensorAssert.assertClose(tokens.select(0, b).select(0, 1 + patch), expected, 1e-6);
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

    @ParameterizedTest
    @CsvSource({"tiny, 5524416", "small, 21665664", "base, 85798656", "large, 303301632"})
    void parameterCountsEqualTimms(String preset, long timmCount) {
        VisionTransformer vit = VisionTransformer.create(VitConfig.preset(preset, 16));
        long total = 0;
        var params = vit.named_parameters(true);
        for (long i = 0; i < params.size(); i++) {
            if (params.get(i).key().getString().equals("mask_token")) continue;
            total += params.get(i).value().numel();
        }
        assertThat(total).isEqualTo(timmCount);
        vit.close();
    }

    @Test
    void parameterNamesFollowTimm() {
        VisionTransformer vit = VisionTransformer.create(SMALL);
        List<String> names = new ArrayList<>();
        var params = vit.named_parameters(true);
        for (long i = 0; i < params.size(); i++) names.add(params.get(i).key().getString());
        assertThat(names).contains("patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
                "mask_token", "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                "blocks.0.attn.proj.weight", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "norm.weight",
                "norm.bias");
    }

    @Test
    void rejectsWrongInputShapes() {
        VisionTransformer vit = VisionTransformer.create(SMALL);
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> vit.forward(Tensors.randn(1, 3, 32, 32), null))
                    .hasMessageContaining("[B, 3, 64, 64]").hasMessageContaining("[1, 3, 32, 32]");
            assertThatThrownBy(() -> vit.forward(Tensors.randn(1, 3, 64, 64), Tensors.ofBooleans(new boolean[4], 1, 4)))
                    .hasMessageContaining("mask");
        }
    }

    private static Tensor param(Module m, String name) {
        var params = m.named_parameters(true);
        for (long i = 0; i < params.size(); i++) {
            if (params.get(i).key().getString().equals(name)) return params.get(i).value().detach();
        }
        throw new AssertionError("no parameter " + name);
    }
}
