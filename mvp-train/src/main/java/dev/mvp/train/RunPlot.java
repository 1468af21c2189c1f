package dev.mvp.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Draws the curves of one or more runs' {@code metrics.jsonl} into a PNG with Java2D: one panel per metric (by default
 * the loss and the learning rate) against the step, one colour per run, so that ablations can be compared at a
 * glance. Noisy metrics are drawn raw (faint) and smoothed by TensorBoard's debiased exponential moving average.
 * Non-finite values (the loss of a skipped step, written as {@code "NaN"}) are left out of the curves. Runs headless.
 */
public final class RunPlot {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Matplotlib's tab10 palette. */
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
            new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f),
            new Color(0xbcbd22), new Color(0x17becf)};
    /** Metrics whose raw curve is drawn faint under a smoothed one. */
    private static final Set<String> NOISY = Set.of("loss", "metric", "grad_norm", "images_per_s", "data_wait_s", "step_s");

    private RunPlot() {}

    /** One run's metrics: the step of each line and each numeric field, NaN where absent or not finite. */
    public record RunMetrics(String name, Path dir, List<Long> steps, List<JsonNode> lines) {
        /** The values of a numeric field, NaN where absent or not finite (a skipped step's loss, grad norm). */
        public double[] values(String field) {
            double[] v = new double[lines.size()];
            for (int i = 0; i < v.length; i++) {
                JsonNode n = lines.get(i);
                JsonNode f = n.get(field);
                v[i] = f != null && f.isNumber() ? f.asDouble() : Double.NaN;
                if (!Double.isFinite(v[i])) v[i] = Double.NaN;
            }
            return v;
        }

        /** The numeric fields of its lines. */
        public Set<String> numericFields() {
            Set<String> fields = new LinkedHashSet<>();
            for (JsonNode n : lines) n.fieldNames().forEachRemaining(f -> {
                if (n.get(f).isNumber() && !f.equals("step")) fields.add(f);
            });
            return fields;
        }
    }

    /**
     * Reads a run folder's {@code metrics.jsonl}. A line cut short (a killed run) is ignored.
     *
     * @throws IllegalStateException if the folder has no (non-empty) metrics.jsonl: a runtime error of the command
     *                               line (exit 1), as an empty input folder is in every command
     */
    public static RunMetrics read(Path runDir, String name) {
        Path file = runDir.resolve("metrics.jsonl");
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException(runDir + " is not a run folder: no metrics.jsonl in it");
        }
        List<Long> steps = new ArrayList<>();
        List<JsonNode> lines = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException malformed) {
                    continue;
                }
                if (n == null || !n.path("step").isNumber()) continue;
                steps.add(n.get("step").asLong());
                lines.add(n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + dev.mvp.api.io.AtomicFiles.reason(e), e);
        }
        if (lines.isEmpty()) throw new IllegalStateException(file + " holds no steps yet");
        return new RunMetrics(name, runDir, steps, lines);
    }

    /**
     * Renders the runs' curves, one panel per metric.
     *
     * @param metrics   field names of metrics.jsonl, e.g. {@code loss}, {@code lr}, {@code grad_norm}
     * @param smoothing TensorBoard's smoothing weight in [0, 1) for noisy metrics; 0 draws them raw only
     * @throws IllegalArgumentException if no run has a metric
     */
    public static BufferedImage render(List<RunMetrics> runs, List<String> metrics, int width, int height, double smoothing) {
        if (runs.isEmpty()) throw new IllegalArgumentException("no runs to plot");
        if (metrics.isEmpty()) throw new IllegalArgumentException("no metrics to plot");
        if (!(smoothing >= 0 && smoothing < 1)) throw new IllegalArgumentException("smoothing must be in [0, 1), got " + smoothing);
        if (width < 200 || height < 100 * metrics.size()) {
            throw new IllegalArgumentException("image " + width + "x" + height + " is too small for " + metrics.size() + " panels");
        }
        for (String metric : metrics) {
            boolean any = runs.stream().anyMatch(r -> r.numericFields().contains(metric));
            if (!any) {
                Set<String> known = new LinkedHashSet<>();
                runs.forEach(r -> known.addAll(r.numericFields()));
                throw new IllegalArgumentException("no run has the metric '" + metric + "' (they have: "
                        + String.join(", ", known) + ")");
            }
        }
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            int legendHeight = 28;
            int panelHeight = (height - legendHeight) / metrics.size();
            for (int p = 0; p < metrics.size(); p++) {
                drawPanel(g, runs, metrics.get(p), 0, legendHeight + p * panelHeight, width, panelHeight, smoothing,
                        p == metrics.size() - 1);
            }
            drawLegend(g, runs, width);
        } finally {
            g.dispose();
        }
        return image;
    }

    /**
     * Reads the run folders, renders them and writes a PNG atomically: into a temporary file next to {@code png}
     * (removed again whatever happens), then moved over it; missing parent folders are created.
     *
     * @throws IllegalArgumentException if {@code png} is an existing folder (it is never replaced), or a metric is
     *                                  unusable (see {@link #render})
     * @throws IllegalStateException    if a run folder is unusable (see {@link #read})
     * @throws UncheckedIOException     {@code cannot write <png>: <reason in words>} (read-only file system,
     *                                  permission denied, ...): one line, no Java class name
     */
    public static List<RunMetrics> write(List<Path> runDirs, List<String> metrics, Path png, int width, int height,
                                         double smoothing) {
        if (Files.isDirectory(png)) {
            throw new IllegalArgumentException("cannot write " + png + ": it is a folder (name a file to write)");
        }
        List<RunMetrics> runs = new ArrayList<>();
        List<String> names = names(runDirs);
        for (int i = 0; i < runDirs.size(); i++) runs.add(read(runDirs.get(i), names.get(i)));
        BufferedImage image = render(runs, metrics, width, height, smoothing);
        dev.mvp.api.io.AtomicFiles.writePng(png, image);
        return runs;
    }

    /** Short distinct labels: the folder names, with their parents where two are equal. */
    static List<String> names(List<Path> runDirs) {
        List<String> names = new ArrayList<>();
        for (Path p : runDirs) names.add(String.valueOf(p.toAbsolutePath().normalize().getFileName()));
        if (new LinkedHashSet<>(names).size() != names.size()) {
            names.clear();
            for (Path p : runDirs) {
                Path a = p.toAbsolutePath().normalize();
                names.add(a.getParent() == null ? a.toString() : a.getParent().getFileName() + "/" + a.getFileName());
            }
        }
        return names;
    }

    /** TensorBoard's smoothing: an exponential moving average debiased for its start; NaNs are passed over. */
    static double[] smooth(double[] y, double weight) {
        double[] out = new double[y.length];
        double last = 0;
        int n = 0;
        for (int i = 0; i < y.length; i++) {
            if (Double.isNaN(y[i])) {
                out[i] = Double.NaN;
                continue;
            }
            last = last * weight + (1 - weight) * y[i];
            n++;
            out[i] = last / (1 - Math.pow(weight, n));
        }
        return out;
    }

    private static void drawPanel(Graphics2D g, List<RunMetrics> runs, String metric, int x0, int y0, int w, int h,
                                  double smoothing, boolean bottom) {
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
        g.setFont(font);
        FontMetrics fm = g.getFontMetrics();
        int left = x0 + 78, right = x0 + w - 20, top = y0 + 22, bottomY = y0 + h - 34;

        double xmin = Double.POSITIVE_INFINITY, xmax = Double.NEGATIVE_INFINITY;
        double ymin = Double.POSITIVE_INFINITY, ymax = Double.NEGATIVE_INFINITY;
        for (RunMetrics r : runs) {
            double[] y = r.values(metric);
            for (int i = 0; i < y.length; i++) {
                if (Double.isNaN(y[i])) continue;
                xmin = Math.min(xmin, r.steps().get(i));
                xmax = Math.max(xmax, r.steps().get(i));
                ymin = Math.min(ymin, y[i]);
                ymax = Math.max(ymax, y[i]);
            }
        }
        g.setColor(Color.BLACK);
        g.setFont(font.deriveFont(Font.BOLD, 13f));
        g.drawString(metric, left, y0 + 16);
        g.setFont(font);
        if (xmin > xmax) {
            g.drawString("(no finite values)", left + 80, y0 + 16);
            return;
        }
        if (xmin == xmax) { xmin -= 1; xmax += 1; }
        if (ymin == ymax) {
            double d = ymin == 0 ? 1 : Math.abs(ymin) * 0.1;
            ymin -= d;
            ymax += d;
        }
        double pad = (ymax - ymin) * 0.05;
        ymin -= pad;
        ymax += pad;
        double[] xt = ticks(xmin, xmax, 8), yt = ticks(ymin, ymax, 6);

        // grid, axes, tick labels
        g.setStroke(new BasicStroke(1f));
        for (double v : yt) {
            int py = py(v, ymin, ymax, top, bottomY);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(left, py, right, py);
            g.setColor(Color.DARK_GRAY);
            String s = label(v, yt);
            g.drawString(s, left - 6 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
        }
        for (double v : xt) {
            int px = px(v, xmin, xmax, left, right);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(px, top, px, bottomY);
            g.setColor(Color.DARK_GRAY);
            String s = label(v, xt);
            g.drawString(s, px - fm.stringWidth(s) / 2, bottomY + fm.getAscent() + 4);
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, right - left, bottomY - top);
        if (bottom) {
            g.setColor(Color.DARK_GRAY);
            g.drawString("step", (left + right) / 2 - fm.stringWidth("step") / 2, bottomY + 2 * fm.getHeight() + 2);
        }

        java.awt.Shape clip = g.getClip();
        g.clipRect(left + 1, top + 1, right - left - 1, bottomY - top - 1);
        boolean noisy = NOISY.contains(metric) && smoothing > 0;
        for (int r = 0; r < runs.size(); r++) {
            RunMetrics run = runs.get(r);
            Color c = PALETTE[r % PALETTE.length];
            double[] y = run.values(metric);
            if (noisy) {
                g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 70));
                g.setStroke(new BasicStroke(1f));
                g.draw(curve(run.steps(), y, xmin, xmax, ymin, ymax, left, right, top, bottomY));
                y = smooth(y, smoothing);
            }
            g.setColor(c);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(curve(run.steps(), y, xmin, xmax, ymin, ymax, left, right, top, bottomY));
        }
        g.setClip(clip);
    }

    private static Path2D curve(List<Long> steps, double[] y, double xmin, double xmax, double ymin, double ymax,
                                int left, int right, int top, int bottom) {
        Path2D.Double path = new Path2D.Double();
        boolean pen = false;
        for (int i = 0; i < y.length; i++) {
            if (Double.isNaN(y[i])) {
                pen = false;
                continue;
            }
            double px = left + (steps.get(i) - xmin) / (xmax - xmin) * (right - left);
            double py = bottom - (y[i] - ymin) / (ymax - ymin) * (bottom - top);
            if (pen) path.lineTo(px, py);
            else path.moveTo(px, py);
            pen = true;
        }
        return path;
    }

    private static void drawLegend(Graphics2D g, List<RunMetrics> runs, int width) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        FontMetrics fm = g.getFontMetrics();
        int x = 78, y = 18;
        for (int r = 0; r < runs.size(); r++) {
            String s = runs.get(r).name() + " (" + runs.get(r).steps().size() + " steps)";
            if (x + 30 + fm.stringWidth(s) > width - 10 && x > 78) break; // no room: the rest are unlabelled
            g.setColor(PALETTE[r % PALETTE.length]);
            g.setStroke(new BasicStroke(3f));
            g.drawLine(x, y - 4, x + 20, y - 4);
            g.setColor(Color.BLACK);
            g.drawString(s, x + 26, y);
            x += 26 + fm.stringWidth(s) + 24;
        }
    }

    private static int px(double v, double min, double max, int left, int right) {
        return (int) Math.round(left + (v - min) / (max - min) * (right - left));
    }

    private static int py(double v, double min, double max, int top, int bottom) {
        return (int) Math.round(bottom - (v - min) / (max - min) * (bottom - top));
    }

    /** Round tick values (1, 2 or 5 times a power of ten apart) inside [min, max]. */
    static double[] ticks(double min, double max, int target) {
        double raw = (max - min) / Math.max(1, target);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag * (raw / mag < 1.5 ? 1 : raw / mag < 3 ? 2 : raw / mag < 7 ? 5 : 10);
        List<Double> out = new ArrayList<>();
        for (long k = (long) Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) out.add(k * step);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** A tick label with as many digits as the tick spacing needs; scientific for very small or large values. */
    static String label(double v, double[] ticks) {
        double step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(v);
        double big = Math.max(Math.abs(ticks[0]), Math.abs(ticks[ticks.length - 1]));
        if (v == 0) return "0";
        if (big >= 1e5 || big < 1e-2) {
            int digits = Math.max(0, (int) Math.ceil(-Math.log10(step / Math.pow(10, Math.floor(Math.log10(big))))));
            return String.format(Locale.ROOT, "%." + Math.min(digits, 4) + "e", v);
        }
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
        return String.format(Locale.ROOT, "%." + Math.min(decimals, 6) + "f", v);
    }
}
