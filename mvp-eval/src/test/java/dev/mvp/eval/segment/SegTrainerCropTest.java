package dev.mvp.eval.segment;

import dev.mvp.data.RgbImage;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The training crop with mmseg's cat_max_ratio retry and PhotoMetricDistortion switched on and off. */
class SegTrainerCropTest {
    static final int S = 16, W = 64;

    /** 64x16: columns 0..51 class 0, 52..63 class 1; a 16-pixel crop holds both below 75% only from column 41 on. */
    static LabelMap labels() {
        int[] l = new int[W * S];
        for (int i = 0; i < l.length; i++) l[i] = i % W >= 52 ? 1 : 0;
        return new LabelMap(W, S, l);
    }

    static RgbImage image() {
        byte[] px = new byte[W * S * 3];
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < px.length; i++) px[i] = (byte) rng.nextInt(40, 216);
        return new RgbImage(W, S, px);
    }

    static SegConfig config(double ratio, boolean photometric) {
        // scale fixed at 1: min(4 * 16 / 64, 16 / 16) = 1, so the crop has 48 columns of margin
        return new SegConfig(1, 1, 1e-3, 0, 0, false, 0.65, 1, 1, 0, ratio, photometric);
    }

    /** The share of 200 crops whose labels hold two classes with the larger below 75%. */
    static double balanced(SegConfig config) {
        int good = 0;
        float[] px = new float[3 * S * S], lb = new float[S * S];
        for (int k = 0; k < 200; k++) {
            SegTrainer.crop(image(), labels(), S, config, new SplittableRandom(k), px, 0, lb, 0);
            int ones = 0;
            for (float v : lb) if (v == 1) ones++;
            if (ones > 0 && Math.max(ones, lb.length - ones) / (double) lb.length < 0.75) good++;
        }
        return good / 200.0;
    }

    @Test
    void theRetryFindsCropsWithoutADominantClass() {
        double plain = balanced(config(1, false)), retried = balanced(config(0.75, false));
        System.out.printf("crops without a class over 75%%: %.2f plain, %.2f with cat_max_ratio 0.75%n", plain, retried);
        assertThat(plain).as("8 of 49 offsets qualify").isBetween(0.08, 0.26);
        assertThat(retried).as("1 - (41/49)^11 = 0.86").isBetween(0.75, 0.95);
    }

    @Test
    void theDistortionChangesPixelsButNotLabelsOrPadding() {
        float[] a = new float[3 * S * S], b = new float[3 * S * S], la = new float[S * S], lbl = new float[S * S];
        int changed = 0;
        for (int k = 0; k < 20; k++) {
            // the distortion draws come last, so the same seed gives the same box and flip
            SegTrainer.crop(image(), labels(), S, config(0.75, false), new SplittableRandom(k), a, 0, la, 0);
            SegTrainer.crop(image(), labels(), S, config(0.75, true), new SplittableRandom(k), b, 0, lbl, 0);
            assertThat(lbl).isEqualTo(la);
            if (!java.util.Arrays.equals(a, b)) changed++;
        }
        assertThat(changed).as("crops a distortion changed (each step is on with p = 1/2)").isBetween(14, 20);
    }
}
