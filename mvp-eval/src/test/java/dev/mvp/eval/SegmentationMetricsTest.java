package dev.mvp.eval;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * mmsegmentation's IoU metric against confusion matrices worked out by hand. Four classes; 255 is ignored.
 */
class SegmentationMetricsTest {

    @Test
    void handComputedConfusionWithAnAbsentClassAndIgnoredPixels() {
        SegmentationMetrics m = new SegmentationMetrics(4, 255);
        // image 1 (3x4), labels          predictions
        //   0 0 1 1                        0 1 1 1
        //   0 0 1 255                      0 0 3 2      <- the 255 pixel's prediction (2) must not count
        //   255 3 3 3                      1 3 3 0      <- neither must this one's (1)
        m.add(new int[] {0, 1, 1, 1, 0, 0, 3, 2, 1, 3, 3, 0},
              new int[] {0, 0, 1, 1, 0, 0, 1, 255, 255, 3, 3, 3});
        // image 2 (2x3)
        //   3 3 0                          3 0 0
        //   1 1 255                        1 1 1
        m.add(new int[] {3, 0, 0, 1, 1, 1}, new int[] {3, 3, 0, 1, 1, 255});
        // Worked per class over the valid pixels of both images ((row, column) positions):
        //   class 0: labelled 0 at img1 (0,0),(0,1),(1,0),(1,1) -> preds 0,1,0,0; img2 (0,2) -> 0
        //            intersect 4, label area 5; predicted 0 at img1 (0,0),(1,0),(1,1),(2,3) + img2 (0,1),(0,2) = 6
        //            union 6 + 5 - 4 = 7   IoU 4/7
        //   class 1: labelled at img1 (0,2),(0,3),(1,2) -> preds 1,1,3; img2 (1,0),(1,1) -> 1,1
        //            intersect 4, label area 5; predicted 1 at img1 (0,1),(0,2),(0,3) + img2 (1,0),(1,1) = 5
        //            union 5 + 5 - 4 = 6   IoU 4/6
        //   class 2: never labelled; predicted only at the ignored pixel -> absent from both: NaN, skipped
        //   class 3: labelled at img1 (2,1),(2,2),(2,3) -> 3,3,0; img2 (0,0),(0,1) -> 3,0
        //            intersect 3, label area 5; predicted 3 at img1 (1,2),(2,1),(2,2) + img2 (0,0) = 4
        //            union 4 + 5 - 3 = 6   IoU 3/6
        assertThat(m.intersection()).containsExactly(4, 4, 0, 3);
        assertThat(m.labelArea()).containsExactly(5, 5, 0, 5);
        assertThat(m.predictedArea()).containsExactly(6, 5, 0, 4);
        assertThat(m.union()).containsExactly(7, 6, 0, 6);
        double[] iou = m.iou();
        assertThat(iou[0]).isCloseTo(4.0 / 7, within(1e-15));
        assertThat(iou[1]).isCloseTo(4.0 / 6, within(1e-15));
        assertThat(iou[2]).isNaN();
        assertThat(iou[3]).isCloseTo(3.0 / 6, within(1e-15));
        assertThat(m.meanIoU()).isCloseTo((4.0 / 7 + 4.0 / 6 + 3.0 / 6) / 3, within(1e-15));
        assertThat(m.accuracy()[2]).isNaN();
        assertThat(m.meanAccuracy()).isCloseTo((4.0 / 5 + 4.0 / 5 + 3.0 / 5) / 3, within(1e-15));
        assertThat(m.allAccuracy()).isCloseTo(11.0 / 15, within(1e-15));
    }

    @Test
    void aClassPredictedButNeverLabelledCountsAsZeroAndIsAccumulatedNotAveragedPerImage() {
        SegmentationMetrics m = new SegmentationMetrics(3, 255);
        // image 1: 4 pixels of class 0, all right
        m.add(new int[] {0, 0, 0, 0}, new int[] {0, 0, 0, 0});
        // image 2: 1 pixel of class 0 predicted as 2 (a class no label has)
        m.add(new int[] {2}, new int[] {0});
        // class 0: intersect 4, union 5 (dataset-level: 4/5, whereas a per-image mean would be (1 + 0) / 2)
        // class 1: absent -> NaN; class 2: predicted once, never labelled -> IoU 0/1 = 0, included in the mean
        assertThat(m.iou()[0]).isEqualTo(0.8);
        assertThat(m.iou()[1]).isNaN();
        assertThat(m.iou()[2]).isEqualTo(0.0);
        assertThat(m.meanIoU()).isCloseTo(0.4, within(1e-15));
        assertThat(m.accuracy()[2]).isNaN();
        assertThat(m.meanAccuracy()).isEqualTo(0.8);
    }

    @Test
    void outOfRangeValuesAreDroppedLikeHistcAndNothingValidGivesNaN() {
        SegmentationMetrics m = new SegmentationMetrics(2, 255);
        assertThat(m.meanIoU()).isNaN();
        // label 7 is neither a class nor the ignore index: torch.histc over [0, 1] drops it from the label area,
        // while its prediction (1) still counts as predicted area
        m.add(new int[] {1, 0}, new int[] {7, 0});
        assertThat(m.labelArea()).containsExactly(1, 0);
        assertThat(m.predictedArea()).containsExactly(1, 1);
        assertThat(m.iou()).containsExactly(1.0, 0.0);
    }
}
