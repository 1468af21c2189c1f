package dev.mvp.eval.segment;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * mmseg's PhotoMetricDistortion and OpenCV's 8-bit HSV conversions against the transcription of
 * tools/fixtures/make_seg_fixtures.py (fixtures/eval/seg_pipeline.safetensors), which itself equals cv2 4.6 on every
 * input.
 */
class PhotoMetricDistortionTest {
    static long[] longs(SafeTensorsFile f, String name) {
        try (PointerScope scope = new PointerScope()) {
            return Tensors.toLongs(f.tensor(name));
        }
    }

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void bgrToHsvEqualsOpenCvOnEveryColour() {
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/seg_pipeline.safetensors"))) {
            long[] in = longs(f, "hsv_in"), out = longs(f, "hsv_out");
            int[] hsv = new int[3];
            for (int i = 0; i < in.length / 3; i++) {
                PhotoMetricDistortion.bgrToHsv((int) in[3 * i], (int) in[3 * i + 1], (int) in[3 * i + 2], hsv);
                assertThat(hsv).as("bgr2hsv of %d %d %d", in[3 * i], in[3 * i + 1], in[3 * i + 2])
                        .containsExactly((int) out[3 * i], (int) out[3 * i + 1], (int) out[3 * i + 2]);
            }
            CRC32 crc = new CRC32();
            byte[] row = new byte[3 * 256];
            for (int b = 0; b < 256; b++) {
                for (int g = 0; g < 256; g++) {
                    for (int r = 0; r < 256; r++) {
                        PhotoMetricDistortion.bgrToHsv(b, g, r, hsv);
                        row[3 * r] = (byte) hsv[0];
                        row[3 * r + 1] = (byte) hsv[1];
                        row[3 * r + 2] = (byte) hsv[2];
                    }
                    crc.update(row);
                }
            }
            assertThat(crc.getValue()).as("CRC32 over all 2^24 colours").isEqualTo(longs(f, "hsv_crc")[0]);
        }
    }

    @Test
    void hsvToBgrEqualsOpenCvOnEveryTriple() {
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/seg_pipeline.safetensors"))) {
            long[] in = longs(f, "bgr_in"), out = longs(f, "bgr_out");
            for (int i = 0; i < in.length / 3; i++) {
                int bgr = PhotoMetricDistortion.hsvToBgr((int) in[3 * i], (int) in[3 * i + 1], (int) in[3 * i + 2]);
                assertThat(new int[] {bgr >> 16 & 0xFF, bgr >> 8 & 0xFF, bgr & 0xFF}).as("hsv2bgr of %d %d %d", in[3 * i],
                        in[3 * i + 1], in[3 * i + 2]).containsExactly((int) out[3 * i], (int) out[3 * i + 1], (int) out[3 * i + 2]);
            }
            CRC32 crc = new CRC32();
            byte[] row = new byte[3 * 256];
            for (int h = 0; h < 180; h++) {
                for (int s = 0; s < 256; s++) {
                    for (int v = 0; v < 256; v++) {
                        int bgr = PhotoMetricDistortion.hsvToBgr(h, s, v);
                        row[3 * v] = (byte) (bgr >> 16);
                        row[3 * v + 1] = (byte) (bgr >> 8);
                        row[3 * v + 2] = (byte) bgr;
                    }
                    crc.update(row);
                }
            }
            assertThat(crc.getValue()).as("CRC32 over all 180 x 256 x 256 triples").isEqualTo(longs(f, "bgr_crc")[0]);
        }
    }

    @Test
    void distortionsEqualTheTranscriptionOnFixedDraws() {
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/seg_pipeline.safetensors"))) {
            long[] images = longs(f, "pmd_images"), expected = longs(f, "pmd_out");
            double[] draws;
            try (PointerScope scope = new PointerScope()) {
                draws = new double[(int) f.tensor("pmd_draws").numel()];
                org.bytedeco.pytorch.Tensor t = f.tensor("pmd_draws").contiguous();
                new org.bytedeco.javacpp.DoublePointer(t.data_ptr_double()).capacity(draws.length).get(draws);
            }
            int cases = draws.length / 9, size = images.length / cases;
            int changedCases = 0;
            for (int c = 0; c < cases; c++) {
                double[] d = java.util.Arrays.copyOfRange(draws, 9 * c, 9 * c + 9);
                var draw = new PhotoMetricDistortion.Draws(d[0] == 1, d[1], d[2] == 1, d[3] == 1, d[4], d[5] == 1, d[6],
                        d[7] == 1, (int) d[8]);
                byte[] px = new byte[size];
                for (int i = 0; i < size; i++) px[i] = (byte) images[c * size + i];
                PhotoMetricDistortion.apply(px, 0, size / 3, draw);
                int differing = 0, changed = 0;
                for (int i = 0; i < size; i++) {
                    if ((px[i] & 0xFF) != expected[c * size + i]) differing++;
                    if (expected[c * size + i] != images[c * size + i]) changed++;
                }
                assertThat(differing).as("bytes differing from the transcription in case %d (%s)", c, draw).isZero();
                if (changed > 0) changedCases++;
            }
            assertThat(changedCases).as("cases the distortion changed").isEqualTo(cases - 1);
        }
    }

    @Test
    void drawsFollowMmsegsRanges() {
        SplittableRandom rng = new SplittableRandom(1);
        int n = 20_000, bright = 0, first = 0, hue = 0, minHue = 0, maxHue = 0;
        double minBeta = 0, maxBeta = 0, minAlpha = 2, maxAlpha = 0;
        for (int i = 0; i < n; i++) {
            var d = PhotoMetricDistortion.Draws.draw(rng);
            if (d.brightness()) {
                bright++;
                minBeta = Math.min(minBeta, d.beta());
                maxBeta = Math.max(maxBeta, d.beta());
            }
            if (d.contrastFirst()) first++;
            if (d.contrast()) {
                minAlpha = Math.min(minAlpha, d.alpha());
                maxAlpha = Math.max(maxAlpha, d.alpha());
            }
            if (d.hue()) {
                hue++;
                minHue = Math.min(minHue, d.hueDelta());
                maxHue = Math.max(maxHue, d.hueDelta());
            }
        }
        assertThat(bright / (double) n).isBetween(0.48, 0.52);
        assertThat(first / (double) n).isBetween(0.48, 0.52);
        assertThat(hue / (double) n).isBetween(0.48, 0.52);
        assertThat(minBeta).isBetween(-32.0, -31.5);
        assertThat(maxBeta).isBetween(31.5, 32.0);
        assertThat(minAlpha).isBetween(0.5, 0.51);
        assertThat(maxAlpha).isBetween(1.49, 1.5);
        assertThat(minHue).as("numpy's randint(-18, 18)").isEqualTo(-18);
        assertThat(maxHue).as("numpy's randint(-18, 18) excludes 18").isEqualTo(17);
    }
}
