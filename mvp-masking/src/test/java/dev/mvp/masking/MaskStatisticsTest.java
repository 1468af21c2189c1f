package dev.mvp.masking;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class MaskStatisticsTest {

    // 3x4 grids, row-major
    private static final boolean[] TWO_BLOCKS = parse("""
            XX..
            X..X
            ...X""");
    private static final boolean[] DIAGONAL = parse("""
            X...
            .X..
            ..X.""");

    @Test
    void countsBlocksWithFourConnectivity() {
        assertThat(MaskStatistics.blocks(TWO_BLOCKS, 3, 4)).isEqualTo(2);
        assertThat(MaskStatistics.blocks(DIAGONAL, 3, 4)).isEqualTo(3); // diagonal neighbours are not connected
        assertThat(MaskStatistics.blocks(new boolean[12], 3, 4)).isZero();
        // a block must not wrap from the end of one row to the start of the next
        assertThat(MaskStatistics.blocks(parse("...X\nX...\n...."), 3, 4)).isEqualTo(2);
    }

    @Test
    void summarisesCountsBlocksAndPositions() {
        MaskStatistics stats = new MaskStatistics(3, 4);
        stats.add(TWO_BLOCKS);
        stats.add(DIAGONAL);
        assertThat(stats.samples()).isEqualTo(2);
        assertThat(stats.meanCount()).isEqualTo(4.0);          // 5 and 3
        assertThat(stats.stdCount()).isEqualTo(1.0);
        assertThat(stats.histogram()).containsExactly(0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0);
        assertThat(stats.fractionAt(5)).isEqualTo(0.5);
        assertThat(stats.fractionBelow(5)).isEqualTo(0.5);
        assertThat(stats.minCount()).isEqualTo(3);
        assertThat(stats.maxCount()).isEqualTo(5);
        assertThat(stats.meanBlocks()).isEqualTo(2.5);
        assertThat(stats.positionFrequency()[0]).isEqualTo(1.0);
        assertThat(stats.positionFrequency()[5]).isEqualTo(0.5);
        // interior = positions (1,1) and (1,2): masked 1 time in 2 masks x 2 positions
        assertThat(stats.interiorFrequency()).isCloseTo(0.25, within(1e-12));
        // border: 10 positions, masked 5 + 2 = 7 times over 2 masks
        assertThat(stats.borderFrequency()).isCloseTo(0.35, within(1e-12));
        assertThat(stats.summary(5)).contains("mean 4.000", "exactly 5 in 50.00%", "2.500");
        assertThat(stats.commonestCounts(1)).isIn("3 (50.0%)", "5 (50.0%)");
        stats.add(DIAGONAL);
        assertThat(stats.commonestCounts(2)).isEqualTo("3 (66.7%), 5 (33.3%)");

        MaskStatistics other = new MaskStatistics(3, 4);
        other.add(new boolean[12]);
        stats.merge(other);
        assertThat(stats.meanCount()).isCloseTo(11 / 4.0, within(1e-12));
        assertThat(stats.minCount()).isZero();
    }

    @Test
    void drawsASheetOfMasks(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("sheet.png");
        MaskSheet.writePng(png, List.of(TWO_BLOCKS, DIAGONAL, TWO_BLOCKS), 3, 4, 8, 2);
        BufferedImage image = ImageIO.read(png.toFile());
        // 2 tiles across of 4 x 8 px, 2 rows of 3 x 8 px, 6 px gaps
        assertThat(image.getWidth()).isEqualTo(6 + 2 * (32 + 6));
        assertThat(image.getHeight()).isEqualTo(6 + 2 * (24 + 6));
        int x0 = 6 + 32 + 6, y0 = 6;  // the second tile: DIAGONAL
        assertThat(image.getRGB(x0 + 3, y0 + 3) & 0xFFFFFF).isEqualTo(MaskSheet.MASKED);            // (0, 0)
        assertThat(image.getRGB(x0 + 8 + 3, y0 + 3) & 0xFFFFFF).isEqualTo(MaskSheet.VISIBLE);       // (0, 1)
        assertThat(image.getRGB(x0 + 8 + 3, y0 + 8 + 3) & 0xFFFFFF).isEqualTo(MaskSheet.MASKED);    // (1, 1)
        assertThat(dir.toFile().list()).containsExactly("sheet.png");
    }

    private static boolean[] parse(String rows) {
        String s = rows.replace("\n", "");
        boolean[] mask = new boolean[s.length()];
        for (int i = 0; i < mask.length; i++) mask[i] = s.charAt(i) == 'X';
        return mask;
    }
}
