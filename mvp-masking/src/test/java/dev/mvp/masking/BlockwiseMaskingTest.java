package dev.mvp.masking;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class BlockwiseMaskingTest {

    private static final BlockwiseMasking BEIT = BlockwiseMasking.beit(75);

    @Test
    void beitMasksAreNeverEmptyNeverAboveTargetAndNeverBelowOneBlock() {
        SplittableRandom rng = new SplittableRandom(1);
        MaskStatistics stats = MaskStatistics.sample(BEIT, 14, 14, 2_000, rng);
        assertThat(stats.maxCount()).isLessThanOrEqualTo(75);
        assertThat(stats.minCount()).isGreaterThanOrEqualTo(16);
        assertThat(stats.meanCount()).isBetween(70.0, 75.0);
    }

    /** Figures from BEiT's own generator: tools/fixtures/beit_masking_reference.py, 200,000 masks per grid. */
    @ParameterizedTest
    @ValueSource(strings = {"beit_blockwise_14x14_75", "beit_blockwise_7x7_19", "beit_blockwise_10x16_61"})
    void matchesTheStatisticsOfBeitsGenerator(String fixture) throws IOException {
        Properties ref = load(fixture);
        int rows = Integer.parseInt(ref.getProperty("rows")), cols = Integer.parseInt(ref.getProperty("cols"));
        int target = Integer.parseInt(ref.getProperty("target"));
        assertThat(BEIT.targetCount(rows, cols)).isEqualTo(target);

        MaskStatistics stats = MaskStatistics.sample(BEIT, rows, cols, 20_000, new SplittableRandom(rows * 31L + cols));

        assertThat(stats.maxCount()).isLessThanOrEqualTo(target);
        if (number(ref, "minCount") >= 16) assertThat(stats.minCount()).as("no mask below one minimal block").isGreaterThanOrEqualTo(16);
        assertThat(stats.meanCount()).isCloseTo(number(ref, "meanCount"), within(0.3));
        assertThat(stats.fractionAt(target)).isCloseTo(number(ref, "fractionAtTarget"), within(0.03));
        assertThat(stats.fractionBelow(16)).isCloseTo(number(ref, "fractionBelow16"), within(0.005));
        assertThat(stats.meanBlocks()).isCloseTo(number(ref, "meanBlocks"), within(0.03));

        double[] expected = Arrays.stream(ref.getProperty("frequency").split(" ")).mapToDouble(Double::parseDouble).toArray();
        double[] actual = stats.positionFrequency();
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            assertThat(actual[i]).as("masking frequency at row %d, col %d", i / cols, i % cols).isCloseTo(expected[i], within(0.02));
        }
        assertThat(stats.borderFrequency()).isCloseTo(ringMean(expected, rows, cols, true), within(0.01));
        if (rows > 2 && cols > 2) {
            assertThat(stats.interiorFrequency()).isCloseTo(ringMean(expected, rows, cols, false), within(0.01));
        }
    }

    @Test
    void beitMasksTheCentreMoreOftenThanTheBorder() {
        MaskStatistics stats = MaskStatistics.sample(BEIT, 14, 14, 5_000, new SplittableRandom(3));
        // BEiT's generator at 14x14/75: border 0.1403, interior 0.4665 (fixtures/masking)
        assertThat(stats.interiorFrequency() - stats.borderFrequency()).isGreaterThan(0.1);
    }

    @Test
    void blocksAreRectanglesInsideTheGridWithRowsAsHeight() {
        // aspect fixed at 2 (height = 2 x width) and 18 patches: every mask is one 6-row x 3-column block
        var tall = new BlockwiseMasking(new BlockwiseMasking.Config(18, 18, 2, 2, false));
        SplittableRandom rng = new SplittableRandom(4);
        boolean[] tops = new boolean[2], lefts = new boolean[26];
        for (int s = 0; s < 500; s++) {
            boolean[] mask = tall.sample(7, 28, rng); // 196 patches, so the target stays 18
            int[] box = boundingBox(mask, 28);
            assertThat(box[2] - box[0] + 1).as("height").isEqualTo(6);
            assertThat(box[3] - box[1] + 1).as("width").isEqualTo(3);
            assertThat(Masks.count(mask)).isEqualTo(18);
            tops[box[0]] = true;
            lefts[box[1]] = true;
        }
        // randint(0, H - h) and randint(0, W - w) include both ends
        assertThat(tops).containsOnly(true);
        assertThat(lefts).containsOnly(true);
    }

    @Test
    void topUpReachesExactlyTheTarget() {
        var topped = new BlockwiseMasking(BlockwiseMasking.Config.beit(75).withTopUp(true));
        for (int[] grid : new int[][] {{14, 14}, {10, 16}, {7, 7}}) {
            MaskStatistics stats = MaskStatistics.sample(topped, grid[0], grid[1], 2_000, new SplittableRandom(5));
            int target = topped.targetCount(grid[0], grid[1]);
            assertThat(stats.minCount()).isEqualTo(target);
            assertThat(stats.maxCount()).isEqualTo(target);
        }
    }

    @Test
    void scalesTheCountByAreaRoundingHalfToEven() {
        assertThat(BEIT.targetCount(14, 14)).isEqualTo(75);
        assertThat(BEIT.targetCount(16, 16)).isEqualTo(98);   // 97.96
        assertThat(BEIT.targetCount(7, 7)).isEqualTo(19);     // 18.75
        var half = BlockwiseMasking.beit(49);
        assertThat(half.targetCount(1, 2)).isEqualTo(0);      // 0.5
        assertThat(half.targetCount(2, 3)).isEqualTo(2);      // 1.5
        assertThat(half.targetCount(5, 2)).isEqualTo(2);      // 2.5
    }

    @Test
    void masksArePureFunctionsOfTheGenerator() throws Exception {
        boolean[][] serial = IntStream.range(0, 64).mapToObj(i -> BEIT.sample(14, 14, new SplittableRandom(i))).toArray(boolean[][]::new);
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            var futures = IntStream.range(0, 64).mapToObj(i -> pool.submit(() -> BEIT.sample(14, 14, new SplittableRandom(i)))).toList();
            for (int i = 0; i < 64; i++) assertThat(futures.get(i).get()).isEqualTo(serial[i]);
        }
        assertThat(serial[0]).isNotEqualTo(serial[1]);
    }

    @Test
    void nameSaysTheWholeConfiguration() {
        assertThat(BEIT.name()).isEqualTo("beit-blockwise(75 of 196 patches, scaled by area; blocks >= 16; aspect 0.300..3.33; top-up off)");
        assertThat(new BlockwiseMasking(BlockwiseMasking.Config.beit(75).withTopUp(true)).name()).contains("top-up on");
    }

    @Test
    void rejectsBadOptionsAndGrids() {
        assertThatThrownBy(() -> BlockwiseMasking.beit(0)).hasMessageContaining("count");
        assertThatThrownBy(() -> BlockwiseMasking.beit(197)).hasMessageContaining("count");
        assertThatThrownBy(() -> new BlockwiseMasking.Config(75, 16, 3, 0.3, false)).hasMessageContaining("minAspect");
        assertThatThrownBy(() -> BEIT.sample(0, 14, new SplittableRandom(0))).hasMessageContaining("0x14");
    }

    /** [top, left, bottom, right] of the masked positions. */
    private static int[] boundingBox(boolean[] mask, int cols) {
        int top = Integer.MAX_VALUE, left = Integer.MAX_VALUE, bottom = -1, right = -1;
        for (int i = 0; i < mask.length; i++) {
            if (!mask[i]) continue;
            top = Math.min(top, i / cols);
            bottom = Math.max(bottom, i / cols);
            left = Math.min(left, i % cols);
            right = Math.max(right, i % cols);
        }
        return new int[] {top, left, bottom, right};
    }

    private static double ringMean(double[] f, int rows, int cols, boolean border) {
        double sum = 0;
        int n = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if ((r == 0 || c == 0 || r == rows - 1 || c == cols - 1) == border) {
                    sum += f[r * cols + c];
                    n++;
                }
            }
        }
        return sum / n;
    }

    private static Properties load(String name) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(TestPaths.fixture("masking/" + name + ".properties"))) {
            p.load(r);
        }
        return p;
    }

    private static double number(Properties p, String key) {
        return Double.parseDouble(p.getProperty(key));
    }
}
