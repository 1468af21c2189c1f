package dev.mvp.train;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class CosineScheduleTest {

    @Test
    void equalsBeitsCosineSchedulerAtChosenSteps() {
        // BEiT: np.linspace(0, 1e-3, 5) then final + 0.5 (base - final)(1 + cos(pi i / 15)), i = 0..14
        CosineSchedule s = CosineSchedule.learningRate(1e-3, 1e-5, 20, 5);
        assertThat(s.at(0)).isEqualTo(0.0);
        assertThat(s.at(1)).isCloseTo(0.25e-3, within(1e-15));
        assertThat(s.at(4)).isCloseTo(1e-3, within(1e-15));
        assertThat(s.at(5)).isCloseTo(1e-3, within(1e-15));
        assertThat(s.at(10)).isCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos(Math.PI * 5 / 15)), within(1e-15));
        assertThat(s.at(19)).isCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos(Math.PI * 14 / 15)), within(1e-15));
        assertThat(s.at(25)).isEqualTo(s.at(19));
    }

    @Test
    void decaysMonotonicallyAfterWarmup() {
        CosineSchedule s = CosineSchedule.learningRate(1.5e-3, 1e-5, 300, 30);
        for (long i = 30; i < 299; i++) assertThat(s.at(i + 1)).isLessThanOrEqualTo(s.at(i));
        assertThat(s.at(299)).isGreaterThan(1e-5).isLessThan(1.1e-5);
    }

    @Test
    void handlesDegenerateWarmups() {
        assertThat(CosineSchedule.learningRate(1e-3, 0, 10, 0).at(0)).isEqualTo(1e-3);
        assertThat(CosineSchedule.learningRate(1e-3, 0, 10, 1).at(0)).isEqualTo(1e-3);
        assertThat(CosineSchedule.learningRate(1e-3, 0, 10, 10).at(9)).isEqualTo(1e-3);
        assertThat(CosineSchedule.constant(0.05, 10).at(7)).isEqualTo(0.05);
    }

    @Test
    void weightDecayScheduleIsBeitsCosineWithoutWarmup() {
        // BEiT: cosine_scheduler(weight_decay, weight_decay_end, epochs, steps_per_epoch) with no warm-up
        CosineSchedule wd = new CosineSchedule(0.04, 0.4, 100, 0, 0.04);
        assertThat(wd.at(0)).isCloseTo(0.04, within(1e-15));
        assertThat(wd.at(50)).isCloseTo(0.4 + 0.5 * (0.04 - 0.4) * (1 + Math.cos(Math.PI * 50 / 100)), within(1e-15));
        assertThat(wd.at(99)).isCloseTo(0.4 + 0.5 * (0.04 - 0.4) * (1 + Math.cos(Math.PI * 99 / 100)), within(1e-15));
        for (long i = 0; i < 99; i++) assertThat(wd.at(i + 1)).isGreaterThanOrEqualTo(wd.at(i));
    }
}
