package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PixelTokenizerTest {
    private PointerScope scope;

    @BeforeEach void openScope() {
        scope = new PointerScope();
    }

    @AfterEach void closeScope() {
        scope.close();
    }

    /** References from tools/fixtures/make_target_fixtures.py: MAE's patchify and norm_pix_loss target, torch 1.13. */
    @Test
    void matchesMaesPatchifyOnRealImages() {
        try (SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("targets/targets.io.safetensors"))) {
            Tensor images = io.tensor("images", ScalarType.Float).narrow(0, 0, 2);
            TensorAssert.assertClose(PixelTokenizer.raw(64, 16).targets(images), io.tensor("pixels_p16", ScalarType.Float), 0);
            TensorAssert.assertClose(PixelTokenizer.normalized(64, 16).targets(images), io.tensor("pixels_p16_norm", ScalarType.Float), 1e-5);
        }
    }

    @Test
    void ordersEachPatchByPixelRowPixelColumnThenChannel() {
        int s = 4, p = 2;
        float[] pixels = new float[3 * s * s];
        for (int c = 0; c < 3; c++) for (int y = 0; y < s; y++) for (int x = 0; x < s; x++) pixels[(c * s + y) * s + x] = 100 * c + 10 * y + x;
        float[] t = Tensors.toFloats(PixelTokenizer.raw(s, p).targets(Tensors.ofFloats(pixels, 1, 3, s, s)));
        assertThat(t).hasSize(4 * 12);
        // patch 3 (row 1, col 1), pixel (row 1, col 0) of the patch, channel 2: image (2, y 3, x 2)
        assertThat(t[3 * 12 + (1 * p + 0) * 3 + 2]).isEqualTo(232f);
        // patch 1 (row 0, col 1), pixel (0, 1), channel 0: image (0, y 0, x 3)
        assertThat(t[1 * 12 + (0 * p + 1) * 3]).isEqualTo(3f);
    }

    @Test
    void normalisedPatchesHaveZeroMeanAndUnitUnbiasedVariance() {
        float[] t = Tensors.toFloats(PixelTokenizer.normalized(32, 8).targets(Tensors.randn(2, 3, 32, 32)));
        int d = 8 * 8 * 3;
        for (int patch = 0; patch < t.length / d; patch++) {
            double sum = 0, sq = 0;
            for (int i = 0; i < d; i++) sum += t[patch * d + i];
            double mean = sum / d;
            for (int i = 0; i < d; i++) sq += (t[patch * d + i] - mean) * (t[patch * d + i] - mean);
            assertThat(mean).isCloseTo(0, within(1e-5));
            assertThat(sq / (d - 1)).isCloseTo(1, within(1e-4));
        }
    }

    @Test
    void describesItsViewAndTargets() {
        PixelTokenizer pixels = PixelTokenizer.raw(224, 16);
        assertThat(pixels.targetSpec()).isEqualTo(new TargetSpec.Features(768, false));
        assertThat(pixels.gridSize()).isEqualTo(14);
        assertThat(pixels.inputSpec()).isEqualTo(new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
        assertThat(pixels.name()).isEqualTo("pixels(patch 16, image 224, raw)");
        assertThat(PixelTokenizer.normalized(224, 16).name()).isEqualTo("pixels(patch 16, image 224, per-patch normalised)");
        assertThatThrownBy(() -> PixelTokenizer.raw(100, 16)).hasMessageContaining("100 must be a positive multiple of the patch size 16");
        assertThatThrownBy(() -> pixels.targets(Tensors.zeros(1, 3, 112, 112)))
                .hasMessage("PixelTokenizer: images must be floating [B, 3, 224, 224], got [1, 3, 112, 112] Float");
    }
}
