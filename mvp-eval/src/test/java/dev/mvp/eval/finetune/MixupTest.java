package dev.mvp.eval.finetune;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Mixup/CutMix: the label weights equal what was actually mixed into the pixels. */
class MixupTest {
    static final int B = 6, H = 20, W = 28, C = 10;
    static final int[] LABELS = {3, 1, 4, 5, 9, 2};

    /** Image i is constant i + 1 in every channel, so each pixel tells which image it came from. */
    static Tensor images() {
        float[] x = new float[B * 3 * H * W];
        for (int i = 0; i < B; i++) java.util.Arrays.fill(x, i * 3 * H * W, (i + 1) * 3 * H * W, i + 1);
        return Tensors.ofFloats(x, B, 3, H, W);
    }

    @Test
    void cutmixLabelWeightsEqualThePastedArea() {
        Torch.init();
        Mixup cutmixOnly = new Mixup(0.8, 1.0, 1.0, 1.0, 0.0, C);   // switch probability 1: always cutmix
        SplittableRandom rng = new SplittableRandom(11);
        int clipped = 0;
        for (int trial = 0; trial < 40; trial++) {
            try (PointerScope scope = new PointerScope()) {
                Mixup.Mix mix = cutmixOnly.draw(H, W, rng);
                assertThat(mix.cutmix()).isTrue();
                int[] box = mix.box();
                int cutH = (int) (H * Math.sqrt(1 - mix.lam())), cutW = (int) (W * Math.sqrt(1 - mix.lam()));
                if (box[1] - box[0] < cutH - 1 || box[3] - box[2] < cutW - 1) clipped++;
                Tensor x = images();
                cutmixOnly.mixImages(x, mix);
                float[] px = Tensors.toFloats(x);
                float[] y = Tensors.toFloats(cutmixOnly.targets(LABELS, mix));
                for (int i = 0; i < B; i++) {
                    int partner = B - 1 - i;
                    long pasted = 0, own = 0;
                    for (int j = i * 3 * H * W; j < (i + 1) * 3 * H * W; j++) {
                        if (px[j] == partner + 1) pasted++;
                        else if (px[j] == i + 1) own++;
                    }
                    assertThat(pasted + own).isEqualTo(3L * H * W);
                    double area = pasted / (3.0 * H * W);
                    // no smoothing: the partner's label weight is the pasted fraction, the own label's the rest
                    assertThat((double) y[i * C + LABELS[partner]]).isCloseTo(area, within(1e-6));
                    assertThat((double) y[i * C + LABELS[i]]).isCloseTo(1 - area, within(1e-6));
                    assertThat(1 - mix.lam()).isCloseTo(area, within(1e-12));
                }
            }
        }
        assertThat(clipped).as("boxes clipped at the border (where correct_lam matters)").isPositive();
    }

    @Test
    void mixupBlendsPixelsAndLabelsWithTheSameWeightAndSmoothingIsTimms() {
        Torch.init();
        Mixup mixupOnly = new Mixup(0.8, 1.0, 1.0, 0.0, 0.1, C);   // switch probability 0: always mixup
        SplittableRandom rng = new SplittableRandom(3);
        try (PointerScope scope = new PointerScope()) {
            Mixup.Mix mix = mixupOnly.draw(H, W, rng);
            assertThat(mix.cutmix()).isFalse();
            Tensor x = images();
            mixupOnly.mixImages(x, mix);
            float[] px = Tensors.toFloats(x);
            float[] y = Tensors.toFloats(mixupOnly.targets(LABELS, mix));
            double off = 0.1 / C, on = 1 - 0.1 + off;
            for (int i = 0; i < B; i++) {
                int partner = B - 1 - i;
                double value = px[i * 3 * H * W + 17];
                // value = lam (i + 1) + (1 - lam) (partner + 1)
                double lam = (value - (partner + 1)) / ((i + 1) - (partner + 1));
                assertThat(lam).isCloseTo(mix.lam(), within(1e-5));
                assertThat((double) y[i * C + LABELS[i]]).isCloseTo(lam * on + (1 - lam) * off, within(1e-5));
                assertThat((double) y[i * C + LABELS[partner]]).isCloseTo(lam * off + (1 - lam) * on, within(1e-5));
                double sum = 0;
                for (int c = 0; c < C; c++) sum += y[i * C + c];
                assertThat(sum).isCloseTo(1, within(1e-5));
            }
        }
    }

    @Test
    void betaDrawsHaveTheBetaMoments() {
        SplittableRandom rng = new SplittableRandom(0);
        for (double a : new double[] {0.8, 1.0}) {
            int n = 40_000;
            double s = 0, s2 = 0;
            for (int i = 0; i < n; i++) {
                double v = Beta.sample(a, rng);
                assertThat(v).isBetween(0.0, 1.0);
                s += v;
                s2 += v * v;
            }
            double mean = s / n, var = s2 / n - mean * mean;
            assertThat(mean).isCloseTo(0.5, within(0.01));
            assertThat(var).isCloseTo(1 / (4 * (2 * a + 1)), within(0.004));
        }
    }

    @Test
    void noMixingLeavesImagesAndGivesSmoothedOneHot() {
        Torch.init();
        Mixup off = new Mixup(0.8, 1.0, 0.0, 0.5, 0.1, C);
        try (PointerScope scope = new PointerScope()) {
            Mixup.Mix mix = off.draw(H, W, new SplittableRandom(1));
            assertThat(mix.lam()).isEqualTo(1.0);
            float[] y = Tensors.toFloats(off.targets(LABELS, mix));
            assertThat((double) y[LABELS[0]]).isCloseTo(0.91, within(1e-6));
            assertThat((double) y[(LABELS[0] + 1) % C]).isCloseTo(0.01, within(1e-6));
        }
    }
}
