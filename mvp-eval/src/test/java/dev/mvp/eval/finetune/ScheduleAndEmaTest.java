package dev.mvp.eval.finetune;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** BEiT's per-step cosine schedule and timm's weight EMA. */
class ScheduleAndEmaTest {

    @Test
    void scheduleIsBeitsCosineScheduler() {
        // 4 epochs of 3 steps, 2 warm-up epochs: np.linspace(0, 1e-3, 6), then 6 cosine steps to 1e-6
        FinetuneConfig c = new FinetuneConfig(4, 2, 8, 1e-3, 1e-6, 0.05, 0.65, 0.1, 0.1, 0.8, 1.0, 1.0, 0.5, true, 0.25, true, 0, 0, 0);
        for (int k = 0; k < 6; k++) assertThat(c.lrAt(k, 3)).isCloseTo(1e-3 * k / 5, within(1e-18));
        for (int i = 0; i < 6; i++) {
            double expected = 1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + Math.cos(Math.PI * i / 6));
            assertThat(c.lrAt(6 + i, 3)).isCloseTo(expected, within(1e-18));
        }
        assertThat(c.lrAt(6, 3)).isEqualTo(1e-3);
        FinetuneConfig paper = FinetuneConfig.paper();
        assertThat(paper.lr()).isEqualTo(4e-3);
        assertThat(paper.epochs()).isEqualTo(100);
        assertThat(paper.warmupEpochs()).isEqualTo(20);
        assertThat(paper.layerDecay()).isEqualTo(0.65);
        assertThat(paper.mixing(1000)).isEqualTo(Mixup.beit(1000));
    }

    @Test
    void emaIsTheExponentialAverageOfEveryFloatTensor() {
        Torch.init();
        VitConfig config = VitConfig.timm(16, 1, 2, 8).withImageSize(16).withNumClasses(3);
        try (VisionTransformer model = VisionTransformer.create(config); VisionTransformer ema = VisionTransformer.create(config)) {
            float[] before, current;
            try (PointerScope scope = new PointerScope()) {
                before = Tensors.toFloats(StateDict.of(ema).get("head.weight"));
                current = Tensors.toFloats(StateDict.of(model).get("head.weight"));
            }
            FineTuner.updateEma(ema, model, 0.9);
            try (PointerScope scope = new PointerScope()) {
                float[] after = Tensors.toFloats(StateDict.of(ema).get("head.weight"));
                for (int i = 0; i < after.length; i++) {
                    assertThat((double) after[i]).isCloseTo(0.9 * before[i] + 0.1 * current[i], within(1e-7));
                }
            }
        }
    }
}
