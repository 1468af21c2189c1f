package dev.mvp.eval.segment;

import dev.mvp.data.OpenCvResize;
import dev.mvp.data.RgbImage;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** mmseg's keep-ratio Resize sizes (mmcv rescale_size) and its cv2 resizes. */
class MmsegResizeTest {

    /**
     * The training and test sizes of fixtures/data/cvresize/shared.tsv (100 real crops each; the training ratio
     * stored to 17 digits) were computed by a transcription of mmseg's random_sample_ratio and mmcv's rescale_size;
     * the Java sizes are the same.
     */
    @Test
    void sizesEqualMmcvsRescaleSize() throws Exception {
        List<String[]> rows = Files.readAllLines(TestPaths.fixture("data/cvresize/shared.tsv")).stream()
                .filter(l -> !l.startsWith("#") && !l.isBlank()).map(l -> l.split("\t", -1)).toList();
        int train = 0, test = 0;
        for (String[] row : rows) {
            int h = Integer.parseInt(row[3]), w = Integer.parseInt(row[4]);
            int[] expected = {Integer.parseInt(row[7]), Integer.parseInt(row[8])};
            if (row[5].equals("train")) {
                assertThat(MmsegResize.trainSize(w, h, 512, Double.parseDouble(row[6]))).as(String.join(" ", row)).isEqualTo(expected);
                train++;
            } else if (row[5].equals("test")) {
                assertThat(MmsegResize.testSize(w, h, 512)).as(String.join(" ", row)).isEqualTo(expected);
                test++;
            }
        }
        assertThat(train).isEqualTo(100);
        assertThat(test).isEqualTo(100);
    }

    /**
     * The scale is truncated to whole pixels before the rescale, as random_sample_ratio does: cases where that
     * changes the size by a pixel (about 70% of random sizes and ratios), worked out with mmseg's formulas.
     */
    @Test
    void theScaleIsTruncatedFirst() {
        // scale (int(2048 r), int(512 r)) = (2812, 703); factor min(2812 / 741, 703 / 245) = 2.86939 -> 703 x 2126.2;
        // without the truncation 703.1 / 245 = 2.86981 -> 741 x 2.86981 = 2126.5 -> 2127
        assertThat(MmsegResize.trainSize(245, 741, 512, 1.3732430540965517)).containsExactly(703, 2126);
        assertThat(MmsegResize.trainSize(131, 175, 512, 1.1496904103547108)).containsExactly(588, 785);
        assertThat(MmsegResize.trainSize(596, 483, 512, 0.7396083719556179)).containsExactly(466, 378);
        // the test scale is already whole: 683 x 512 stays, a long image caps its long side at 2048
        assertThat(MmsegResize.testSize(683, 512, 512)).containsExactly(683, 512);
        assertThat(MmsegResize.testSize(4000, 1000, 512)).containsExactly(2048, 512);
        assertThat(MmsegResize.rescaleSize(500, 375, 2048, 512)).containsExactly(683, 512);   // int(682.67 + 0.5)
    }

    @Test
    void labelMapsUseCv2sNearestAndImagesItsBilinear() {
        int[] v = new int[7 * 5];
        for (int i = 0; i < v.length; i++) v[i] = i;
        LabelMap m = new LabelMap(7, 5, v);
        assertThat(m.resizeNearest(3, 2).labels()).isEqualTo(OpenCvResize.nearest(v, 7, 5, 3, 2));
        // floor(d * 7 / 3) = 0, 2, 4 and floor(d * 5 / 2) = 0, 2: no half-pixel offset
        assertThat(m.resizeNearest(3, 2).labels()).containsExactly(0, 2, 4, 14, 16, 18);
        RgbImage img = new RgbImage(2, 1, new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255});
        assertThat(MmsegResize.image(img, 4, 1).pixels()).isEqualTo(OpenCvResize.linear(img, 4, 1).pixels());
        assertThat(MmsegResize.image(img, 2, 1)).isSameAs(img);
    }
}
