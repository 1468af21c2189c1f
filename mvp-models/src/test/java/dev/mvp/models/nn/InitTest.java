package dev.mvp.models.nn;

import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class InitTest {

    @Test
    void erfMatchesReferenceValues() {
        // math.erf in CPython (the C library's erf)
        assertThat(Init.erf(0.5)).isCloseTo(0.5204998778130465, within(1e-15));
        assertThat(Init.erf(1 / Math.sqrt(2))).isCloseTo(0.6826894921370859, within(1e-15));
        assertThat(Init.erf(-1.0)).isCloseTo(-0.8427007929497149, within(1e-15));
        assertThat(Init.erf(3.0)).isCloseTo(0.9999779095030014, within(1e-15));
        assertThat(Init.erf(70.0)).isEqualTo(1.0);
        assertThat(Init.normalCdf(-1)).isCloseTo(0.15865525393145707, within(1e-15));
    }

    @Test
    void beitTruncatedNormalStaysWithinOneStdAndHasTheTruncatedVariance() {
        torch.manual_seed(3);
        try (PointerScope scope = new PointerScope()) {
            float[] v = Tensors.toFloats(Init.beitTruncNormal(new long[] {200_000}, 0.02));
            double sum = 0, sq = 0, max = 0;
            for (float f : v) {
                sum += f;
                sq += (double) f * f;
                max = Math.max(max, Math.abs(f));
            }
            double mean = sum / v.length, std = Math.sqrt(sq / v.length - mean * mean);
            assertThat(max).isLessThanOrEqualTo(0.02 + 1e-9);
            assertThat(mean).isCloseTo(0, within(1e-4));
            // a standard normal truncated to [-1, 1] has std sqrt(1 - 2 phi(1) / (2 Phi(1) - 1)) = 0.53956
            assertThat(std / 0.02).isCloseTo(0.53956, within(3e-3));
        }
    }

    @Test
    void timmDefaultBoundsLeaveStd002Untruncated() {
        torch.manual_seed(4);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Init.truncNormal_(torch.empty(new long[] {200_000}), 0.02, -2, 2);
            assertThat(t.std().item_double()).isCloseTo(0.02, within(2e-4));
        }
    }
}
