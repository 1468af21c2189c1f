package dev.mvp.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class RunPlotTest {

    /** A run folder whose loss falls linearly from {@code start} to {@code end} over 100 steps, lr constant. */
    private static Path run(Path dir, double start, double end, int skippedStep) throws Exception {
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder();
        for (int s = 1; s <= 100; s++) {
            String loss = s == skippedStep ? "\"NaN\"" : Double.toString(start + (end - start) * (s - 1) / 99);
            sb.append("{\"step\":").append(s).append(",\"loss\":").append(loss).append(",\"lr\":0.001,\"skipped\":")
                    .append(s == skippedStep).append("}\n");
        }
        sb.append("{\"step\":101,\"loss\":-0.5,\"l"); // a line cut short by a kill
        Files.writeString(dir.resolve("metrics.jsonl"), sb);
        return dir;
    }

    private static int countColour(BufferedImage img, int rgb, int y0, int y1) {
        int n = 0;
        for (int y = y0; y < y1; y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xffffff) == rgb) n++;
        return n;
    }

    @Test
    void drawsOneCurvePerRunAndPanel(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 0, -1, -1), b = run(tmp.resolve("b"), -0.2, -0.6, 50);
        Path png = tmp.resolve("out/plot.png");
        List<RunPlot.RunMetrics> runs = RunPlot.write(List.of(a, b), List.of("loss", "lr"), png, 800, 628, 0);
        assertThat(runs).extracting(RunPlot.RunMetrics::name).containsExactly("a", "b");
        assertThat(runs.get(0).steps()).hasSize(100).endsWith(100L);
        assertThat(runs.get(1).values("loss")[49]).isNaN();
        assertThat(runs.get(1).values("lr")[49]).as("a skipped step keeps its lr").isEqualTo(0.001);

        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(800);
        assertThat(img.getHeight()).isEqualTo(628);
        int blue = 0x1f77b4, orange = 0xff7f0e;
        int panel = (628 - 28) / 2;
        // the loss panel holds both runs' lines, the lr panel too (orange drawn over blue where they coincide)
        assertThat(countColour(img, blue, 28, 28 + panel)).isGreaterThan(300);
        assertThat(countColour(img, orange, 28, 28 + panel)).isGreaterThan(300);
        assertThat(countColour(img, orange, 28 + panel, 628)).isGreaterThan(300);
        // run a's loss spans the whole panel height, run b's only its middle: a's line reaches further down
        assertThat(lowestRow(img, blue, 28, 28 + panel)).isGreaterThan(lowestRow(img, orange, 28, 28 + panel) + 50);
    }

    private static int lowestRow(BufferedImage img, int rgb, int y0, int y1) {
        for (int y = y1 - 1; y >= y0; y--) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xffffff) == rgb) return y;
        return -1;
    }

    @Test
    void badInputIsOneLineNamingIt(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 0, -1, -1);
        assertThatThrownBy(() -> RunPlot.write(List.of(a), List.of("loss", "accuracy"), tmp.resolve("x.png"), 800, 600, 0))
                .hasMessageContaining("'accuracy'").hasMessageContaining("loss, lr");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> RunPlot.read(empty, "empty")).hasMessageContaining(empty.toString())
                .hasMessageContaining("metrics.jsonl");
        Files.writeString(empty.resolve("metrics.jsonl"), "");
        assertThatThrownBy(() -> RunPlot.read(empty, "empty")).hasMessageContaining("no steps");
    }

    /**
     * A PNG that cannot be written is one line with the reason in words, nothing on standard error (ImageIO used to
     * print a stack trace there), no temporary file left behind and no folder ever replaced.
     */
    @Test
    void unwritableTargetsAreOneLineAndLeaveNothingBehind(@TempDir Path tmp) throws Exception {
        Path a = run(tmp.resolve("a"), 0, -1, -1);
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true));
        try {
            // the temporary file cannot be opened (a folder holds its name): the open fails inside the write
            Path out = Files.createDirectories(tmp.resolve("o1"));
            Path png = out.resolve("x.png");
            Path blocker = Files.createDirectory(out.resolve("x.png.tmp-" + ProcessHandle.current().pid()));
            assertThatThrownBy(() -> RunPlot.write(List.of(a), List.of("loss"), png, 800, 600, 0))
                    .isInstanceOf(java.io.UncheckedIOException.class)
                    .hasMessage("cannot write " + png + ": is a directory");
            assertThat(blocker).as("not ours: kept").isDirectory();
            assertThat(png).doesNotExist();

            // the parent is a file
            Path file = Files.writeString(tmp.resolve("afile"), "x");
            assertThatThrownBy(() -> RunPlot.write(List.of(a), List.of("loss"), file.resolve("x.png"), 800, 600, 0))
                    .hasMessage("cannot write " + file.resolve("x.png") + ": " + file + " is not a folder");

            // a folder, empty or not, is never replaced
            Path emptyFolder = Files.createDirectories(tmp.resolve("victim-empty"));
            Path fullFolder = Files.createDirectories(tmp.resolve("victim"));
            Files.writeString(fullFolder.resolve("keep.txt"), "keep");
            for (Path folder : List.of(emptyFolder, fullFolder)) {
                assertThatThrownBy(() -> RunPlot.write(List.of(a), List.of("loss"), folder, 800, 600, 0))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("cannot write " + folder + ": it is a folder (name a file to write)");
                assertThat(folder).isDirectory();
            }
            assertThat(fullFolder.resolve("keep.txt")).hasContent("keep");
            try (var files = Files.walk(tmp)) {
                assertThat(files.map(Path::toString)).as("no temporary file anywhere")
                        .noneMatch(f -> f.contains(".tmp-") && !f.equals(blocker.toString()));
            }
        } finally {
            System.setErr(stderr);
        }
        assertThat(captured.toString()).as("nothing printed on standard error").isEmpty();
    }

    @Test
    void pngWritesGoThroughMemoryNotImageIosFileCache(@TempDir Path tmp) throws Exception {
        BufferedImage img = new BufferedImage(64, 32, BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 4, 0x123456);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        dev.mvp.api.io.AtomicFiles.encodePng(img, bytes);
        BufferedImage back = ImageIO.read(new java.io.ByteArrayInputStream(bytes.toByteArray()));
        org.assertj.core.api.Assertions.assertThat(back.getRGB(3, 4) & 0xffffff).isEqualTo(0x123456);
        // a full disk: the stream's own error comes back, and no ImageIO cache file (whose shutdown hook would print a
        // NullPointerException at exit) is left in ImageIO's cache folder
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        java.io.File before = ImageIO.getCacheDirectory();
        ImageIO.setCacheDirectory(cache.toFile());
        try {
            java.io.OutputStream full = new java.io.OutputStream() {
                @Override public void write(int b) throws java.io.IOException {
                    throw new java.io.IOException("No space left on device");
                }
            };
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.mvp.api.io.AtomicFiles.encodePng(img, full))
                    .isInstanceOf(java.io.IOException.class).hasMessageContaining("No space left");
            try (var files = Files.list(cache)) {
                org.assertj.core.api.Assertions.assertThat(files.toList()).isEmpty();
            }
        } finally {
            ImageIO.setCacheDirectory(before);
        }
    }

    @Test
    void smoothingIsTensorBoardsDebiasedMovingAverage() {
        double[] s = RunPlot.smooth(new double[] {1, 2, Double.NaN, 4}, 0.5);
        assertThat(s[0]).isEqualTo(1.0);
        assertThat(s[1]).isCloseTo((0.25 * 1 + 0.5 * 2) / (1 - 0.25), within(1e-12));
        assertThat(s[2]).isNaN();
        assertThat(s[3]).isCloseTo((0.125 * 1 + 0.25 * 2 + 0.5 * 4) / (1 - 0.125), within(1e-12));
    }

    @Test
    void ticksAreRoundNumbers() {
        assertThat(RunPlot.ticks(0, 1.5e-3, 6)).containsExactly(new double[] {0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3, 1.2e-3, 1.4e-3},
                within(1e-18));
        assertThat(RunPlot.ticks(3, 97, 8)).containsExactly(10, 20, 30, 40, 50, 60, 70, 80, 90);
        assertThat(RunPlot.ticks(-1.05, -0.45, 6)).containsExactly(new double[] {-1.0, -0.9, -0.8, -0.7, -0.6, -0.5},
                within(1e-12));
        assertThat(RunPlot.names(List.of(Path.of("x/run"), Path.of("y/run")))).containsExactly("x/run", "y/run");
    }
}
