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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.function.IntBinaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class HogTokenizerTest {
    private PointerScope scope;

    @BeforeEach void openScope() {
        scope = new PointerScope();
    }

    @AfterEach void closeScope() {
        scope.close();
    }

    /**
     * Four real photos (one grayscale), 64x64, ImageNet-normalised; references from tools/fixtures/make_target_fixtures.py
     * (MaskFeat's HOGLayerC and _get_hog_label_2d, re-implemented in torch 1.13 and checked there against a per-pixel loop).
     */
    @ParameterizedTest
    @CsvSource({"hog_p16, 16, 9, 8, 16", "hog_p8_nogauss, 8, 9, 8, 0", "hog_p16_bins7_c4, 16, 7, 4, 32"})
    void matchesMaskFeatsHogOnRealImages(String reference, int patch, int bins, int cell, int window) {
        try (SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("targets/targets.io.safetensors"))) {
            HogTokenizer hog = new HogTokenizer(new HogTokenizer.Config(64, patch, bins, cell, window));
            Tensor images = io.tensor("images", ScalarType.Float);
            Tensor targets = hog.targets(images);
            Tensor expected = io.tensor(reference, ScalarType.Float);
            assertThat(targets.scalar_type().value).isEqualTo(ScalarType.Float.value);
            assertThat(targets.requires_grad()).isFalse();
            TensorAssert.assertClose(targets, expected, 1e-4);
            assertThat(TensorAssert.maxAbsDiff(targets, expected)).as("max |difference|").isLessThan(1e-6);
        }
    }

    @Test
    void maskFeatsSettingGives108ValuesPerPatch() {
        HogTokenizer hog = HogTokenizer.maskFeat(224, 16);
        assertThat(hog.targetSpec()).isEqualTo(new TargetSpec.Features(108, false));
        assertThat(hog.gridSize()).isEqualTo(14);
        assertThat(hog.inputSpec()).isEqualTo(new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
        assertThat(hog.name()).isEqualTo("hog(9 bins, 8x8 cells, gaussian window 16, patch 16, image 224)");
        Tensor targets = hog.targets(Tensors.randn(2, 3, 224, 224));
        assertThat(Tensors.shape(targets)).containsExactly(2, 196, 108);
        // every cell's 9-bin histogram of every channel has unit length (random images have gradients everywhere)
        Tensor norms = targets.reshape(new long[] {2, 196, 3, 9, 4}).pow(Tensors.scalar(2)).sum(new long[] {3}, false,
                new org.bytedeco.pytorch.ScalarTypeOptional()).sqrt();
        for (float n : Tensors.toFloats(norms)) assertThat(n).isCloseTo(1f, within(1e-5f));
    }

    /**
     * A step edge puts all its energy in the bin of its gradient direction, perpendicular to the edge. HOGLayerC
     * measures the phase as atan2(gx, gy), from the vertical axis, 20 degrees per bin: a horizontal gradient (a
     * vertical edge) is at 90 degrees, bin 4; a vertical gradient (a horizontal edge) at 0 degrees, bin 0; the
     * gradient across the edge y = x points to (-45) = 135 degrees, bin 6; across y = -x to 45 degrees, bin 2.
     */
    @ParameterizedTest
    @CsvSource({"vertical, 4", "horizontal, 0", "diagonal, 6", "antidiagonal, 2"})
    void aStepEdgePutsItsEnergyInTheBinPerpendicularToIt(String edge, int expectedBin) {
        int s = 32;
        IntBinaryOperator bright = switch (edge) {
            case "vertical" -> (y, x) -> x >= 16 ? 1 : 0;
            case "horizontal" -> (y, x) -> y >= 16 ? 1 : 0;
            case "diagonal" -> (y, x) -> x > y ? 1 : 0;
            default -> (y, x) -> x + y >= s ? 1 : 0;
        };
        float[] pixels = new float[3 * s * s];
        for (int c = 0; c < 3; c++) for (int y = 0; y < s; y++) for (int x = 0; x < s; x++) pixels[(c * s + y) * s + x] = 0.2f + 0.5f * bright.applyAsInt(y, x);
        HogTokenizer hog = new HogTokenizer(new HogTokenizer.Config(s, 8, 9, 8, 0)); // one cell per patch
        float[] t = Tensors.toFloats(hog.targets(Tensors.ofFloats(pixels, 1, 3, s, s)));
        double[] energy = new double[9];
        for (int i = 0; i < t.length; i++) energy[i % 9] += t[i];   // [1, 16, 3 * 9]: the bin is the fastest index
        double total = java.util.Arrays.stream(energy).sum();
        assertThat(total).isGreaterThan(0);
        assertThat(energy[expectedBin] / total).as("share of bin %d in %s", expectedBin, java.util.Arrays.toString(energy))
                .isGreaterThan(edge.endsWith("diagonal") ? 0.95 : 0.999);
    }

    @Test
    void perChannelAffineMapsThatAreExactLeaveTheHistogramsAlone() {
        Tensor images = Tensors.randn(2, 3, 32, 32);
        HogTokenizer hog = new HogTokenizer(new HogTokenizer.Config(32, 16, 9, 8, 16));
        Tensor scaled = images.mul(Tensors.scalar(4));   // a power of two: exact in float
        TensorAssert.assertClose(hog.targets(scaled), hog.targets(images), 1e-6);
    }

    @Test
    void rejectsImagesOfTheWrongShapeAndBadOptions() {
        HogTokenizer hog = HogTokenizer.maskFeat(64, 16);
        assertThatThrownBy(() -> hog.targets(Tensors.zeros(2, 3, 32, 32)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("HogTokenizer: images must be floating [B, 3, 64, 64], got [2, 3, 32, 32] Float");
        assertThatThrownBy(() -> hog.targets(Tensors.zeros(2, 1, 64, 64))).hasMessageContaining("[2, 1, 64, 64]");
        assertThatThrownBy(() -> HogTokenizer.maskFeat(224, 14)).hasMessage("HOG targets: cells of 8 pixels must tile a patch of 14 pixels");
        assertThatThrownBy(() -> HogTokenizer.maskFeat(40, 8)).hasMessageContaining("Gaussian window 16 must tile the image of 40 pixels");
        assertThatThrownBy(() -> new HogTokenizer.Config(64, 16, 1, 8, 0)).hasMessageContaining("at least 2 orientation bins");
    }

    @Test
    void outputsBelongToTheCallersScopeAndTemporariesDoNot() {
        HogTokenizer hog = HogTokenizer.maskFeat(32, 16);
        Tensor images = Tensors.randn(1, 3, 32, 32);
        Tensor targets;
        try (PointerScope inner = new PointerScope()) {
            targets = hog.targets(images);
            assertThat(Tensors.shape(targets)).containsExactly(1, 4, 108);
        }
        assertThat(targets.isNull()).as("freed with the caller's scope").isTrue();
    }
}
