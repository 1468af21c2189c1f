package dev.mvp.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ColorJitterTest {
    private static final RgbImage SOURCE = Fixtures.rgb("resize/source.rgb", 64, 48);

    static Stream<Arguments> torchvisionCases() {
        return Fixtures.table("jitter/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /** Each adjustment, alone and chained in a given order, equals torchvision's on the PIL image bit for bit. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("torchvisionCases")
    void equalsTorchvisionsAdjustments(String name, String[] c) {
        int[] order = Arrays.stream(c[1].split(",")).mapToInt(Integer::parseInt).toArray();
        ColorJitter.Params p = new ColorJitter.Params(order, factor(c[2]), factor(c[3]), factor(c[4]), factor(c[5]));
        RgbImage actual = ColorJitter.apply(SOURCE, p);
        RgbImage expected = Fixtures.rgb("jitter/" + name + ".rgb", 64, 48);
        assertThat(Fixtures.maxDifference(actual, expected)).as("max difference from torchvision, levels").isZero();
        assertThat(SOURCE).as("the input is not changed").isEqualTo(Fixtures.rgb("resize/source.rgb", 64, 48));
    }

    private static double factor(String s) {
        return s.equals("-") ? Double.NaN : Double.parseDouble(s);
    }

    @Test
    void drawsAPermutationAndFactorsInsideTheRanges() {
        ColorJitter jitter = new ColorJitter(0.4, 0.3, 1.5, 0.1);
        SplittableRandom rng = new SplittableRandom(3);
        int[] firstOp = new int[4];
        for (int i = 0; i < 4000; i++) {
            ColorJitter.Params p = jitter.sample(rng);
            assertThat(p.order()).containsExactlyInAnyOrder(0, 1, 2, 3);
            firstOp[p.order()[0]]++;
            assertThat(p.brightness()).isBetween(0.6, 1.4);
            assertThat(p.contrast()).isBetween(0.7, 1.3);
            assertThat(p.saturation()).isBetween(0.0, 2.5);
            assertThat(p.hue()).isBetween(-0.1, 0.1);
        }
        for (int count : firstOp) assertThat(count).as("each adjustment comes first about a quarter of the time").isBetween(850, 1150);
        ColorJitter.Params noHue = ColorJitter.beit().sample(rng);
        assertThat(noHue.hue()).isNaN();
    }

    @Test
    void noneDrawsNothingAndLeavesThePixels() {
        SplittableRandom a = new SplittableRandom(5), b = new SplittableRandom(5);
        ColorJitter.Params p = ColorJitter.NONE.sample(a);
        assertThat(a.nextLong()).as("no draw consumed").isEqualTo(b.nextLong());
        assertThat(ColorJitter.apply(SOURCE, p)).isEqualTo(SOURCE);
        assertThat(ColorJitter.NONE.isNone()).isTrue();
        assertThat(ColorJitter.beit().isNone()).isFalse();
    }

    @Test
    void rejectsBadStrengths() {
        assertThatThrownBy(() -> new ColorJitter(-0.1, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("brightness -0.1");
        assertThatThrownBy(() -> new ColorJitter(0, 0, 0, 0.6)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("hue must be in [0, 0.5]");
    }
}
