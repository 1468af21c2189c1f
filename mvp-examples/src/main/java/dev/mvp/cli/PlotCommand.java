package dev.mvp.cli;

import dev.mvp.train.RunPlot;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code mvp plot}: a run's (or several runs') loss and learning-rate curves from metrics.jsonl, as a PNG. */
@Command(name = "plot", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Loss and learning-rate curves of pre-training runs, as a PNG.",
        description = {"Draws the curves of pre-training runs from their metrics.jsonl into a PNG: one panel per "
                + "metric against the step, one colour per run (to compare ablations). Noisy metrics are drawn raw "
                + "(faint) and smoothed; non-finite values (skipped steps) are left out."})
final class PlotCommand implements Callable<Integer> {

    @Parameters(paramLabel = "RUN_DIR", arity = "1..*", description = "Run folders (each holding metrics.jsonl).")
    List<Path> runs;

    @Option(names = "--out", paramLabel = "FILE.png",
            description = "The PNG to write (default: RUN_DIR/curves.png for one run, compare.png for several). "
                    + "An existing folder gets that default name inside it; a folder is never replaced.")
    Path out;

    @Option(names = "--metrics", paramLabel = "NAME,...", defaultValue = "loss,lr",
            description = "Fields of metrics.jsonl, one panel each, e.g. loss,lr,weight_decay,grad_norm,"
                    + "images_per_s,data_wait_s,rss_mb.")
    String metrics;

    @Option(names = "--smooth", paramLabel = "W", defaultValue = "0.6",
            description = "TensorBoard-style smoothing weight in [0, 1) for noisy metrics (loss, grad norm, speed); 0: raw.")
    double smooth;

    @Option(names = "--width", paramLabel = "PX", defaultValue = "1200", description = "Image width (200.." + MAX_SIDE + ").")
    int width;

    @Option(names = "--height", paramLabel = "PX", defaultValue = "0",
            description = "Image height (0: 360 per panel plus the legend; at least 100 per panel, at most " + MAX_SIDE + ").")
    int height;

    /** The largest side of the image, in pixels (a 10000 x 10000 image is 400 MB). */
    static final int MAX_SIDE = 10000;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        PrintWriter stdout = spec.commandLine().getOut();
        List<String> names = Arrays.stream(metrics.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        if (names.isEmpty()) throw new Main.UsageException("--metrics names no metric");
        if (!(smooth >= 0 && smooth < 1)) throw new Main.UsageException("--smooth must be in [0, 1), got " + smooth);
        if (width < 200 || width > MAX_SIDE) {
            throw new Main.UsageException("--width must be in 200.." + MAX_SIDE + " pixels, got " + width);
        }
        if (height < 0 || height > MAX_SIDE) {
            throw new Main.UsageException("--height must be in 0.." + MAX_SIDE + " pixels (0: automatic), got " + height);
        }
        int h = height > 0 ? height : Math.min(MAX_SIDE, 28 + 360 * names.size());
        if (h < 100 * names.size()) {
            throw new Main.UsageException("--height " + h + " is too small for " + names.size() + " panels (at least "
                    + 100 * names.size() + ")");
        }
        for (Path run : runs) {
            if (Files.exists(run) && !Files.isDirectory(run)) {
                throw new IllegalStateException("RUN_DIR " + run + " is a file, not a run folder (the folder holding metrics.jsonl)");
            }
            if (!Files.isDirectory(run)) throw Main.noSuch("RUN_DIR", run, "folder");
        }
        String defaultName = runs.size() == 1 ? "curves.png" : "compare.png";
        Path png = out == null ? (runs.size() == 1 ? runs.getFirst().resolve(defaultName) : Path.of(defaultName))
                : Files.isDirectory(out) ? out.resolve(defaultName) : out;
        List<RunPlot.RunMetrics> read;
        try {
            read = RunPlot.write(runs, names, png, width, h, smooth);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        for (RunPlot.RunMetrics r : read) {
            stdout.printf("mvp plot: %s: %d steps (%d..%d)%n", r.dir(), r.steps().size(), r.steps().getFirst(),
                    r.steps().getLast());
        }
        stdout.println("mvp plot: wrote " + png.toAbsolutePath());
        return 0;
    }
}
