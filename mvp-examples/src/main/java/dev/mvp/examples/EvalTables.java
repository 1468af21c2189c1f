package dev.mvp.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.cli.Backbones;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The paper's evaluation tables from the {@code results.json} files that {@code ./mvp knn}, {@code linprobe},
 * {@code finetune} and {@code segment} write: one row per backbone, one column per protocol (k-NN top-1 at k = 20,
 * linear-probe top-1, fine-tuning top-1 as in Table 1, segmentation mIoU as in Tables 2-3), as Markdown.
 *
 * <p><b>One row per backbone, however it was named.</b> A pretrain run folder, one of its checkpoint folders and the
 * checkpoint's {@code model.safetensors} are the same backbone: a row is keyed by the weight file the command read,
 * {@code backbone_file} in results.json (written since the commands record it), else the {@code backbone} value
 * resolved now as {@code --backbone} resolves it ({@link Backbones#identity}; relative paths from the working
 * directory). Rows show that path relative to the working directory when it is inside it.
 *
 * <p><b>Several results for one cell</b> (say two linprobe runs of the same backbone): the newest is shown, by the
 * modification time of its results.json (each command writes it once, at its end), and the cell says how many there
 * were, e.g. {@code 75.4 (newest of 3)}.
 *
 * <pre>
 * ./mvp tables runs/       (every results.json below the folders given; what this class's main does)
 * </pre>
 */
public final class EvalTables {
    private EvalTables() {}

    /** The protocols, in column order. */
    static final List<String> COMMANDS = List.of("knn", "linprobe", "finetune", "segment");

    /** One protocol's value for one backbone: the newest result and how many there were. */
    record Cell(double value, FileTime time, Path file, int count) {
        Cell plus(Cell other) {
            Cell newer = other.time.compareTo(time) > 0 ? other : this;
            return new Cell(newer.value, newer.time, newer.file, count + other.count);
        }
    }

    /** One backbone's cells by command (absent where a protocol was not run). */
    record Row(Map<String, Cell> cells) {}

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: EvalTables FOLDER|results.json ...   (or: ./mvp tables FOLDER ...)");
            System.exit(2);
        }
        List<Path> files = new ArrayList<>();
        for (String a : args) files.addAll(find(Path.of(a)));
        print(table(files), System.out);
    }

    /** Every results.json at or below {@code p}, sorted by path. */
    public static List<Path> find(Path p) {
        if (Files.isRegularFile(p)) return List.of(p);
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(f -> f.getFileName().toString().equals("results.json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + p + ": " + e.getMessage(), e);
        }
    }

    /** Backbone (as displayed) -> row. */
    public static Map<String, Row> table(List<Path> files) {
        ObjectMapper json = new ObjectMapper();
        Map<String, Row> rows = new TreeMap<>();
        for (Path f : files) {
            JsonNode r;
            FileTime time;
            try {
                r = json.readTree(f.toFile());
                time = Files.getLastModifiedTime(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
            }
            String command = r.path("command").asText();
            if (!COMMANDS.contains(command)) continue;
            double value = switch (command) {
                case "knn" -> knnTop1(r);
                case "linprobe", "finetune" -> number(r.path("top1"));
                default -> 100 * number(r.path("mIoU"));
            };
            if (Double.isNaN(value) && !command.equals("segment")) continue;
            Cell cell = new Cell(value, time, f, 1);
            rows.computeIfAbsent(display(identity(r)), k -> new Row(new LinkedHashMap<>())).cells()
                    .merge(command, cell, Cell::plus);
        }
        return rows;
    }

    /** The backbone a result is about: its recorded weight file, else its {@code backbone} resolved now. */
    static String identity(JsonNode r) {
        String recorded = r.path("backbone_file").asText("");
        if (!recorded.isEmpty()) return recorded;
        String given = r.path("backbone").asText("?");
        try {
            return Backbones.identity(given);
        } catch (RuntimeException e) { // not a path at all
            return given;
        }
    }

    /** An absolute path inside the working directory, relative to it; anything else as it is. */
    static String display(String identity) {
        try {
            Path p = Path.of(identity);
            if (!p.isAbsolute()) return identity;
            Path cwd = Path.of("").toAbsolutePath().normalize();
            return p.startsWith(cwd) && !p.equals(cwd) ? cwd.relativize(p).toString() : identity;
        } catch (RuntimeException e) {
            return identity;
        }
    }

    private static double knnTop1(JsonNode r) {
        for (JsonNode row : r.path("results")) if (row.path("k").asInt() == 20) return number(row.path("top1"));
        return r.path("results").isEmpty() ? Double.NaN : number(r.path("results").get(0).path("top1"));
    }

    private static double number(JsonNode n) {
        return n.isNumber() ? n.asDouble() : Double.NaN;
    }

    public static void print(Map<String, Row> rows, PrintStream out) {
        PrintWriter w = new PrintWriter(out, true);
        print(rows, w);
        w.flush();
    }

    public static void print(Map<String, Row> rows, PrintWriter out) {
        out.println("| backbone | k-NN top-1 (k=20) | linear probe top-1 | fine-tuning top-1 | segmentation mIoU |");
        out.println("|---|---|---|---|---|");
        boolean several = false;
        for (Map.Entry<String, Row> e : rows.entrySet()) {
            StringBuilder line = new StringBuilder("| " + e.getKey() + " |");
            for (String command : COMMANDS) {
                Cell c = e.getValue().cells().get(command);
                line.append(' ').append(cell(c)).append(" |");
                several |= c != null && c.count() > 1;
            }
            out.println(line);
        }
        if (several) {
            out.println();
            out.println("(newest of N: N results for that backbone and protocol; the one whose results.json was written last is shown)");
        }
    }

    private static String cell(Cell c) {
        if (c == null || Double.isNaN(c.value())) return "-";
        return String.format("%.1f", c.value()) + (c.count() > 1 ? " (newest of " + c.count() + ")" : "");
    }
}
