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
 * were, e.g. {@code 75.4 (newest of 3)}. A file named twice (a folder and a results.json inside it, a symbolic link)
 * counts once: files are deduplicated by their real path.
 *
 * <p><b>The k-NN column is k = 20 only</b>, the paper's protocol: a knn result without a k = 20 row (say
 * {@code knn --k 5}) is left out of the table and listed below it with the k values it has, so numbers at different
 * k never share a column. A result whose value was NaN (written as {@code null}, e.g. {@code "top1": null}) is a
 * result: it counts, and its cell shows {@code NaN}. A {@code |} in a backbone path is escaped ({@code \|}) so the
 * Markdown row keeps its columns.
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
        List<String> leftOut = new ArrayList<>();
        var rows = table(files, leftOut);
        PrintWriter w = new PrintWriter(System.out, true);
        print(rows, leftOut, w);
        w.flush();
    }

    /** Every results.json at or below {@code p}, sorted by path. */
    public static List<Path> find(Path p) {
        if (Files.isRegularFile(p)) return List.of(p);
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(f -> f.getFileName().toString().equals("results.json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot list", p, e), e);
        }
    }

    /** Backbone (as displayed) -> row. */
    public static Map<String, Row> table(List<Path> files) {
        return table(files, new ArrayList<>());
    }

    /**
     * Backbone (as displayed) -> row; each knn result left out of the k-NN column (no k = 20 row) is added to
     * {@code leftOut} as {@code <file> (k = 5)}. Files are read once each, by real path.
     */
    public static Map<String, Row> table(List<Path> files, List<String> leftOut) {
        ObjectMapper json = new ObjectMapper();
        Map<String, Row> rows = new TreeMap<>();
        java.util.Set<Path> seen = new java.util.HashSet<>();
        for (Path f : files) {
            Path real;
            try {
                real = f.toRealPath();
            } catch (IOException e) {
                real = f.toAbsolutePath().normalize();
            }
            if (!seen.add(real)) continue;
            JsonNode r;
            FileTime time;
            try {
                r = json.readTree(f.toFile());
                time = Files.getLastModifiedTime(f);
            } catch (IOException e) {
                throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", f, e), e);
            }
            String command = r.path("command").asText();
            if (!COMMANDS.contains(command)) continue;
            double value;
            if (command.equals("knn")) {
                JsonNode k20 = null;
                List<String> ks = new ArrayList<>();
                for (JsonNode row : r.path("results")) {
                    if (row.path("k").asInt() == 20) k20 = row;
                    ks.add(row.path("k").asText("?"));
                }
                if (k20 == null) {
                    leftOut.add(f + " (k = " + (ks.isEmpty() ? "none" : String.join(", ", ks)) + ")");
                    continue;
                }
                value = number(k20.path("top1"));
            } else {
                value = switch (command) {
                    case "linprobe", "finetune" -> number(r.path("top1"));
                    default -> 100 * number(r.path("mIoU"));
                };
            }
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

    private static double number(JsonNode n) {
        return n.isNumber() ? n.asDouble() : Double.NaN;
    }

    public static void print(Map<String, Row> rows, PrintStream out) {
        PrintWriter w = new PrintWriter(out, true);
        print(rows, w);
        w.flush();
    }

    public static void print(Map<String, Row> rows, PrintWriter out) {
        print(rows, List.of(), out);
    }

    /** The table, then the knn results left out of it ({@link #table(List, List)}), if any. */
    public static void print(Map<String, Row> rows, List<String> leftOut, PrintWriter out) {
        out.println("| backbone | k-NN top-1 (k=20) | linear probe top-1 | fine-tuning top-1 | segmentation mIoU |");
        out.println("|---|---|---|---|---|");
        boolean several = false;
        for (Map.Entry<String, Row> e : rows.entrySet()) {
            StringBuilder line = new StringBuilder("| " + escape(e.getKey()) + " |");
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
        if (!leftOut.isEmpty()) {
            out.println();
            out.println("(knn results without k = 20, left out of the k-NN column: " + String.join("; ", leftOut) + ")");
        }
    }

    /** A table cell's text: {@code |} escaped, line breaks as spaces, so the row keeps its columns. */
    static String escape(String text) {
        return text.replace("\\", "\\\\").replace("|", "\\|").replaceAll("[\\r\\n]", " ");
    }

    private static String cell(Cell c) {
        if (c == null) return "-";
        return (Double.isNaN(c.value()) ? "NaN" : String.format("%.1f", c.value())) + (c.count() > 1 ? " (newest of " + c.count() + ")" : "");
    }
}
