package dev.mvp.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RandomResizedCropTest {

    /** A generator that replays given uniforms and integers, and records the integer ranges asked for. */
    static final class Scripted implements RandomGenerator {
        final Deque<Double> doubles = new ArrayDeque<>();
        final Deque<Integer> ints = new ArrayDeque<>();
        final List<String> intRanges = new ArrayList<>();

        Scripted(double[] d, int... i) {
            for (double v : d) doubles.add(v);
            for (int v : i) ints.add(v);
        }

        @Override public double nextDouble() {
            return doubles.remove();
        }

        @Override public int nextInt(int origin, int bound) {
            intRanges.add("[" + origin + ", " + bound + ")");
            return ints.remove();
        }

        @Override public long nextLong() {
            throw new AssertionError("unexpected draw");
        }
    }

    @Test
    void followsTorchvisionDrawForDraw() {
        // 500x375: scale 0.08 + 0.92 * 0.5 = 0.54 -> area 101250; ratio exp(mid of logs) = 1 -> w = h = round(318.198)
        Scripted rng = new Scripted(new double[] {0.5, 0.5}, 7, 11);
        CropBox box = RandomResizedCrop.pretraining().sample(500, 375, rng);
        assertThat(box).isEqualTo(new CropBox(11, 7, 318, 318, false));
        assertThat(rng.intRanges).containsExactly("[0, 58)", "[0, 183)"); // top first, then left; both inclusive
        assertThat(rng.doubles).isEmpty();
    }

    @Test
    void rejectedAttemptsConsumeTwoUniformsEach() {
        // 300x300: scale 1.0 (u -> 1) with ratio 4/3 (u -> 1): w = round(346.4) > 300, rejected; then accepted.
        Scripted rng = new Scripted(new double[] {0.999999, 0.999999, 0.0, 0.0}, 5, 6);
        CropBox box = RandomResizedCrop.pretraining().sample(300, 300, rng);
        // area 0.08 * 90000 = 7200, ratio 3/4: w = round(sqrt(5400)) = 73, h = round(sqrt(9600)) = 98
        assertThat(box).isEqualTo(new CropBox(6, 5, 73, 98, false));
        assertThat(rng.intRanges).containsExactly("[0, 203)", "[0, 228)");
    }

    @Test
    void fallsBackToTheCentralCropClampedToTheRatioRange() {
        // 1000x100 (ratio 10): any crop of near-full area is too tall; after 10 attempts, h = 100, w = round(133.3)
        double[] u = new double[20];
        java.util.Arrays.fill(u, 0.999);
        Scripted rng = new Scripted(u);
        assertThat(RandomResizedCrop.pretraining().sample(1000, 100, rng)).isEqualTo(new CropBox(433, 0, 133, 100, false));
        assertThat(rng.doubles).isEmpty();
        java.util.Arrays.fill(u, 0.999);
        assertThat(RandomResizedCrop.pretraining().sample(100, 1000, new Scripted(u)))
                .isEqualTo(new CropBox(0, 433, 100, 133, false));
    }

    @Test
    void roundsHalfToEvenLikePython() {
        // area 100 * 0.0625 = 6.25, ratio 1: sqrt = 2.5 exactly, Python's round(2.5) = 2
        Scripted rng = new Scripted(new double[] {0.3, 0.3}, 0, 0);
        assertThat(new RandomResizedCrop(0.0625, 0.0625, 1, 1).sample(10, 10, rng)).isEqualTo(new CropBox(0, 0, 2, 2, false));
    }

    @Test
    void manyDrawsStayInsideTheImageAndWithinScaleAndRatioBounds() {
        RandomResizedCrop crop = RandomResizedCrop.pretraining();
        SplittableRandom rng = new SplittableRandom(42);
        for (int[] size : new int[][] {{500, 375}, {375, 500}, {32, 32}, {1000, 100}, {7, 3}, {1, 1}}) {
            int width = size[0], height = size[1];
            for (int i = 0; i < 20_000; i++) {
                CropBox b = crop.sample(width, height, rng);
                assertThat(b.left() + b.width()).isLessThanOrEqualTo(width);
                assertThat(b.top() + b.height()).isLessThanOrEqualTo(height);
                double w = b.width(), h = b.height();
                // the bounds hold before w and h are rounded to integers: widen them by half a pixel
                assertThat((w + 0.5) / Math.max(h - 0.5, 0.5)).as("ratio of %s", b).isGreaterThanOrEqualTo(3.0 / 4);
                assertThat((w - 0.5) / (h + 0.5)).as("ratio of %s", b).isLessThanOrEqualTo(4.0 / 3);
                assertThat((w + 0.5) * (h + 0.5)).as("area of %s", b).isGreaterThanOrEqualTo(0.08 * width * height);
            }
        }
    }

    /** The distribution of scale and log aspect ratio matches torchvision's get_params (fixture: 100k draws each). */
    @Test
    void scaleAndRatioMomentsMatchTorchvision() {
        RandomResizedCrop crop = RandomResizedCrop.pretraining();
        SplittableRandom rng = new SplittableRandom(7);
        int n = 50_000;
        for (String[] row : Fixtures.table("crop/statistics.tsv")) {
            int width = Integer.parseInt(row[0]), height = Integer.parseInt(row[1]), refDraws = Integer.parseInt(row[2]);
            double[] scale = new double[n], logRatio = new double[n];
            for (int i = 0; i < n; i++) {
                CropBox b = crop.sample(width, height, rng);
                scale[i] = (double) b.width() * b.height() / ((double) width * height);
                logRatio[i] = Math.log((double) b.width() / b.height());
            }
            assertMeanMatches(scale, Double.parseDouble(row[3]), Double.parseDouble(row[4]), refDraws, "scale " + width + "x" + height);
            assertMeanMatches(logRatio, Double.parseDouble(row[5]), Double.parseDouble(row[6]), refDraws, "log ratio " + width + "x" + height);
            assertThat(std(scale)).as("std of scale " + width + "x" + height).isCloseTo(Double.parseDouble(row[4]),
                    org.assertj.core.data.Percentage.withPercentage(5));
        }
    }

    private static void assertMeanMatches(double[] x, double refMean, double refStd, int refDraws, String what) {
        double mean = java.util.Arrays.stream(x).average().orElseThrow();
        double standardError = Math.sqrt(refStd * refStd / x.length + refStd * refStd / refDraws);
        assertThat(Math.abs(mean - refMean)).as("mean %s: %.5f vs torchvision %.5f", what, mean, refMean)
                .isLessThanOrEqualTo(5 * standardError);
    }

    private static double std(double[] x) {
        double mean = java.util.Arrays.stream(x).average().orElseThrow();
        return Math.sqrt(java.util.Arrays.stream(x).map(v -> (v - mean) * (v - mean)).sum() / x.length);
    }

    @Test
    void rejectsEmptyRanges() {
        assertThatThrownBy(() -> new RandomResizedCrop(0, 1, 0.75, 1.33)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("scale");
        assertThatThrownBy(() -> new RandomResizedCrop(0.08, 1, 1.5, 1.33)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("aspect-ratio");
    }
}
