package dev.mvp.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@code mvp masks}: the figures a user checks a strategy with, and its errors. */
class MasksCommandTest {

    private static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex).matcher(out);
        assertThat(m.find()).as("'%s' in%n%s", regex, out).isTrue();
        return Double.parseDouble(m.group(1));
    }

    /** BEiT's generator at 14x14 / 75 (tools/fixtures/beit_masking_reference.py): mean 74.47, 66.5% at 75, 1.42 blocks. */
    @Test
    void beitStatisticsAndASheetOfExamples(@TempDir Path tmp) throws Exception {
        Path png = tmp.resolve("sheets/beit.png");
        MainTest.Result r = mvp("masks", "--strategy", "beit", "--grid", "14", "--count", "75", "--samples", "5000",
                "--seed", "3", "--png", png.toString(), "--examples", "12", "--per-row", "4");
        assertThat(r.code()).as(r.err()).isZero();
        String out = r.out();
        assertThat(out).contains("beit-blockwise(75 of 196", "5000 masks on a 14x14 grid, seed 3", "target:            75 patches");
        assertThat(number(out, "mean ([0-9.]+), std")).isCloseTo(74.47, within(0.3));
        assertThat(number(out, "at the target: +([0-9.]+)%")).isCloseTo(66.5, within(3.0));
        assertThat(number(out, "above ([0-9.]+)%")).isZero();
        assertThat(number(out, "min ([0-9]+)")).isGreaterThanOrEqualTo(16);
        assertThat(number(out, "blocks per mask: +([0-9.]+)")).isCloseTo(1.42, within(0.05));
        assertThat(number(out, "interior ([0-9.]+)")).isGreaterThan(number(out, "border ([0-9.]+)") + 0.1);
        assertThat(out).containsPattern("\n +75 +6[0-9]\\.[0-9]{2}% #{40}\n");
        assertThat(out).contains("12 example masks drawn to " + png.toAbsolutePath());
        BufferedImage sheet = ImageIO.read(png.toFile());
        assertThat(sheet.getWidth()).isEqualTo(6 + 4 * (14 * 8 + 6));
        assertThat(sheet.getHeight()).isEqualTo(6 + 3 * (14 * 8 + 6));
        // the same seed draws the same masks
        assertThat(mvp("masks", "--samples", "5000", "--seed", "3").out()).isEqualTo(out.substring(0, out.indexOf("mvp masks: 12")));
    }

    @Test
    void randomMaskingHitsTheTargetEveryTime() {
        MainTest.Result r = mvp("masks", "--strategy", "random", "--count", "147", "--samples", "2000");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("random(147 patches)", "mean 147.000, std 0.000, min 147, max 147", "at the target:     100.00%");
        // every position is masked with probability 0.75, border and interior alike
        assertThat(number(r.out(), "border ([0-9.]+)")).isCloseTo(0.75, within(0.01));
        assertThat(number(r.out(), "interior ([0-9.]+)")).isCloseTo(0.75, within(0.01));
    }

    @Test
    void otherGridsScaleTheCountAndTopUpFillsTheShortfall() {
        MainTest.Result r = mvp("masks", "--grid", "10x16", "--top-up", "--samples", "1000", "--frequency");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("top-up on", "on a 10x16 grid", "target:            61 patches", "min 61, max 61");
        String grid = r.out().substring(r.out().indexOf("masking frequency per position:"));
        assertThat(grid.lines().skip(1)).hasSize(10).allSatisfy(line -> assertThat(line.strip().split(" ")).hasSize(16));
    }

    @Test
    void badFlagsAreUsageErrors(@TempDir Path tmp) throws Exception {
        assertThat(mvp("masks", "--strategy", "squares").code()).isEqualTo(2);
        MainTest.Result grid = mvp("masks", "--grid", "14x");
        assertThat(grid.code()).isEqualTo(2);
        assertThat(grid.err()).contains("--grid takes N or ROWSxCOLS").doesNotContain("\tat ");
        assertThat(mvp("masks", "--count", "197").err()).contains("--count must be in [0, 196]");
        assertThat(mvp("masks", "--strategy", "random", "--top-up").err()).contains("beit only");
        assertThat(mvp("masks", "--samples", "0").code()).isEqualTo(2);
        Path blocked = Files.writeString(tmp.resolve("file"), "x");
        // --png is checked before any mask is drawn: a file in the way, a folder, a sheet too large; usage errors
        MainTest.Result io = mvp("masks", "--samples", "10", "--png", blocked.resolve("sheet.png").toString());
        assertThat(io.code()).isEqualTo(2);
        assertThat(io.err().strip().lines()).hasSize(1);
        assertThat(io.err()).contains("--png " + blocked.resolve("sheet.png") + ": " + blocked + " is a file, not a folder");
        MainTest.Result folder = mvp("masks", "--samples", "10", "--png", tmp.toString());
        assertThat(folder.code()).isEqualTo(2);
        assertThat(folder.err()).contains("--png " + tmp + " is a folder, expected a file name");
        MainTest.Result huge = mvp("masks", "--samples", "10", "--cell-pixels", "100000", "--png", tmp.resolve("m.png").toString());
        assertThat(huge.code()).isEqualTo(2);
        assertThat(huge.err()).contains("--png: the sheet would be 11200054x2800018 pixels, more than 16384 a side; lower "
                + "--cell-pixels 100000");
        assertThat(tmp.resolve("m.png")).doesNotExist();
        // the most masks per row there can be: one row of all of them (the row count once overflowed an int)
        MainTest.Result wide = mvp("masks", "--samples", "10", "--examples", "3", "--per-row", "2147483647", "--png",
                tmp.resolve("wide.png").toString());
        assertThat(wide.code()).as(wide.err()).isZero();
        assertThat(tmp.resolve("wide.png")).isRegularFile();
    }
}
