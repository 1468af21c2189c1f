package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** mmseg's RandomCrop with cat_max_ratio 0.75 against the transcription of make_seg_fixtures.py on fixed draws. */
class RandomCropTest {

    @Test
    void theKeptBoxAndTheDrawsUsedEqualTheTranscription() {
        Torch.init();
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/seg_pipeline.safetensors"))) {
            long[] maps = PhotoMetricDistortionTest.longs(f, "crop_labels"), draws = PhotoMetricDistortionTest.longs(f, "crop_draws");
            long[] chosen = PhotoMetricDistortionTest.longs(f, "crop_chosen"), tries = PhotoMetricDistortionTest.longs(f, "crop_tries");
            int s = (int) PhotoMetricDistortionTest.longs(f, "crop_size")[0];
            int cases = tries.length, h = 40, w = 56;
            assertThat(maps).hasSize(cases * h * w);
            for (int c = 0; c < cases; c++) {
                int[] labels = new int[h * w];
                for (int i = 0; i < labels.length; i++) labels[i] = (int) maps[c * h * w + i];
                int base = c * 22;
                int[] next = {0};
                int[] box = RandomCrop.choose(labels, w, h, s, s, 0.75, 255, (mh, mw) -> {
                    int k = next[0]++;
                    return new int[] {(int) draws[base + 2 * k], (int) draws[base + 2 * k + 1]};
                });
                assertThat(box).as("case %d: top, left, draws", c).containsExactly((int) chosen[2 * c], (int) chosen[2 * c + 1], (int) tries[c]);
            }
        }
    }

    @Test
    void withoutTheRatioTheFirstDrawIsKeptAndUniformOffsetsStayInTheMargins() {
        int[] labels = new int[30 * 20];               // one class: every check would fail
        int[] box = RandomCrop.choose(labels, 30, 20, 8, 8, 1.0, 255, (mh, mw) -> new int[] {mh, mw});
        assertThat(box).containsExactly(12, 22, 1);
        box = RandomCrop.choose(labels, 30, 20, 8, 8, 0.75, 255, (mh, mw) -> new int[] {1, 2});
        assertThat(box).as("one class only: ten rejections, the 11th draw kept").containsExactly(1, 2, 11);
        SplittableRandom rng = new SplittableRandom(4);
        RandomCrop.Offsets uniform = RandomCrop.uniform(rng);
        int maxTop = 0, maxLeft = 0;
        for (int i = 0; i < 2000; i++) {
            int[] o = uniform.next(3, 5);
            assertThat(o[0]).isBetween(0, 3);
            assertThat(o[1]).isBetween(0, 5);
            maxTop = Math.max(maxTop, o[0]);
            maxLeft = Math.max(maxLeft, o[1]);
        }
        assertThat(maxTop).isEqualTo(3);
        assertThat(maxLeft).isEqualTo(5);
        assertThat(RandomCrop.choose(labels, 30, 20, 40, 40, 0.75, 255, RandomCrop.uniform(rng))).as("no margin")
                .startsWith(0, 0);
    }
}
