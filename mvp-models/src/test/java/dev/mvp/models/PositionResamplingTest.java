package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.models.PositionResampling.Style;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Resampling of a 224/16 model's position parameters (14x14 grid) to 160, 384 and 512 pixels (10, 24, 32), against
 * timm's {@code resample_abs_pos_embed}, BEiT's {@code F.interpolate} and BEiT's interp2d table resampling, run by
 * tools/fixtures/make_vit_fixtures.py.
 */
class PositionResamplingTest {

    @ParameterizedTest
    @ValueSource(ints = {10, 24, 32})
    void absolutePositionEmbeddingMatchesTimmAndBeit(int grid) {
        try (SafeTensorsFile f = resampleFixture(); PointerScope scope = new PointerScope()) {
            Tensor pos = f.tensor("pos_embed");
            TensorAssert.assertClose(PositionResampling.absolute(pos, grid, Style.TIMM), f.tensor("pos_timm_" + grid), 1e-5);
            TensorAssert.assertClose(PositionResampling.absolute(pos, grid, Style.BEIT), f.tensor("pos_beit_" + grid), 1e-5);
            // the CLS embedding is kept apart, unchanged
            TensorAssert.assertClose(PositionResampling.absolute(pos, grid, Style.TIMM).narrow(1, 0, 1), pos.narrow(1, 0, 1), 0);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {10, 24, 32})
    void relativePositionTableMatchesBeitsInterp2d(int grid) {
        try (SafeTensorsFile f = resampleFixture(); PointerScope scope = new PointerScope()) {
            TensorAssert.assertClose(PositionResampling.relativeTable(f.tensor("table"), grid), f.tensor("table_" + grid), 1e-5);
        }
    }

    @Test
    void sameGridIsACopy() {
        try (SafeTensorsFile f = resampleFixture(); PointerScope scope = new PointerScope()) {
            Tensor pos = f.tensor("pos_embed"), table = f.tensor("table");
            TensorAssert.assertClose(PositionResampling.absolute(pos, 14, Style.TIMM), pos, 0);
            TensorAssert.assertClose(PositionResampling.relativeTable(table, 14), table, 0);
        }
    }

    @Test
    void notAKnotSplineReproducesCubicsExactlyAndClampsOutside() {
        double[] x = {-5.5, -2.25, -1, 0, 1, 2.25, 5.5};
        double[] at = {-5.5, -4, -0.5, 0.3, 3, 5.5, 7};
        double[][] w = PositionResampling.splineMatrix(x, at);
        for (int i = 0; i < at.length; i++) {
            double s = 0;
            for (int k = 0; k < x.length; k++) s += w[i][k] * cubic(x[k]);
            double t = Math.min(at[i], 5.5);  // FITPACK clamps to the last knot
            assertThat(s).as("s(%s)", at[i]).isCloseTo(cubic(t), within(1e-9));
        }
    }

    @Test
    void beitsSourcePositionsFollowTheGeometricProgression() {
        // 27 offsets (a 14x14 grid) spread to reach 23 (a 24x24 grid): d_1 = 1, d_{i+1} = d_i + q^i
        double[] x = PositionResampling.beitSourcePositions(27, 47);
        assertThat(x).hasSize(27);
        assertThat(x[13]).isZero();
        assertThat(x[14]).isEqualTo(1.0);
        double q = x[15] - x[14];
        assertThat(x[16] - x[15]).isCloseTo(q * q, within(1e-12));
        assertThat(x[26]).isCloseTo(23.0, within(1e-4));
        assertThat(x[0]).isEqualTo(-x[26]);
    }

    @Test
    void rejectsWhatIsNotAPositionParameter() {
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> PositionResampling.absolute(Tensors.zeros(1, 11, 8), 3, Style.TIMM))
                    .hasMessageContaining("[1, 1 + g*g, C]").hasMessageContaining("[1, 11, 8]");
            assertThatThrownBy(() -> PositionResampling.relativeTable(Tensors.zeros(10, 2), 3))
                    .hasMessageContaining("(2g-1)^2 + 3").hasMessageContaining("[10, 2]");
            assertThatThrownBy(() -> PositionResampling.relativeTable(Tensors.zeros(12, 2), 3))
                    .hasMessageContaining("2x2 grid");
        }
    }

    private static double cubic(double t) {
        return 0.3 * t * t * t - 1.5 * t * t + 2 * t - 0.7;
    }

    private static SafeTensorsFile resampleFixture() {
        return SafeTensorsFile.open(TestPaths.fixture("vit/resample.safetensors"));
    }
}
