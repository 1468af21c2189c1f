package dev.mvp.masking;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class RandomMaskingTest {

    @Test
    void ratioFollowsMaesRounding() {
        assertThat(RandomMasking.ratio(0.75).targetCount(14, 14)).isEqualTo(147); // keep int(196 * 0.25) = 49
        assertThat(RandomMasking.ratio(0.6).targetCount(14, 14)).isEqualTo(118);  // keep int(78.4) = 78
        assertThat(RandomMasking.ratio(0.0).targetCount(14, 14)).isZero();
        assertThat(RandomMasking.count(10).targetCount(3, 4)).isEqualTo(10);
    }

    @Test
    void masksExactlyTheCountAndCoversPositionsUniformly() {
        MaskStatistics stats = MaskStatistics.sample(RandomMasking.ratio(0.75), 14, 14, 20_000, new SplittableRandom(7));
        assertThat(stats.minCount()).isEqualTo(147);
        assertThat(stats.maxCount()).isEqualTo(147);
        // each position is masked with probability 147/196 = 0.75; the standard error over 20,000 masks is 0.003
        for (double f : stats.positionFrequency()) assertThat(f).isCloseTo(0.75, within(0.015));
        assertThat(stats.borderFrequency()).isCloseTo(0.75, within(0.005));
    }

    @Test
    void fixedCountWorksOnAnyGridThatHoldsIt() {
        SplittableRandom rng = new SplittableRandom(8);
        assertThat(Masks.count(RandomMasking.count(5).sample(2, 3, rng))).isEqualTo(5);
        assertThat(Masks.count(RandomMasking.count(6).sample(2, 3, rng))).isEqualTo(6);
        assertThatThrownBy(() -> RandomMasking.count(7).sample(2, 3, rng)).hasMessageContaining("2x3");
        assertThatThrownBy(() -> RandomMasking.ratio(1.0)).hasMessageContaining("[0, 1)");
    }

    @Test
    void isAPureFunctionOfTheGenerator() {
        RandomMasking mae = RandomMasking.ratio(0.75);
        assertThat(mae.sample(14, 14, new SplittableRandom(9))).isEqualTo(mae.sample(14, 14, new SplittableRandom(9)));
        assertThat(mae.name()).isEqualTo("random(ratio 0.75)");
        assertThat(RandomMasking.count(98).name()).isEqualTo("random(98 patches)");
    }

    @Test
    void noMaskingMasksNothing() {
        assertThat(new NoMasking().sample(14, 14, new SplittableRandom(0))).hasSize(196).containsOnly(false);
        assertThat(new NoMasking().name()).isEqualTo("none");
    }
}
