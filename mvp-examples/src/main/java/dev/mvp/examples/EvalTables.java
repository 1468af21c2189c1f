package dev.mvp.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The paper's evaluation tables from the {@code results.json} files that {@code ./mvp knn}, {@code linprobe},
 * {@code finetune} and {@code segment} write: one row per backbone, one column per protocol (k-NN top-1 at k = 20,
 * linear-probe top-1, fine-tuning top-1 as in Table 1, segmentation mIoU as in Tables 2-3), as Markdown.
 *
 * <pre>
 * java ... dev.mvp.examples.EvalTables runs/          (every results.json below the folders given)
 * </pre>
 */
public final class EvalTables {
    private EvalTables() {}

    /** One backbone's numbers (NaN where a protocol was not run). */
    record Row(double knn, double linprobe, double finetune, double miou) {
        Row with(String command, double value) {
            return switch (command) {
                case "knn" -> new Row(value, linprobe, finetune, miou);
                case "linprobe" -> new Row(knn, value, finetune, miou);
                case "finetune" -> new Row(knn, linprobe, value, miou);
                case "segment" -> new Row(knn, linprobe, finetune, value);
                default -> this;
            };
        }
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: EvalTables FOLDER|results.json ...");
            System.exit(2);
        }
        List<Path> files = new ArrayList<>();
        for (String a : args) files.addAll(find(Path.of(a)));
        print(table(files), System.out);
    }

    static List<Path> find(Path p) {
        if (Files.isRegularFile(p)) return List.of(p);
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(f -> f.getFileName().toString().equals("results.json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + p + ": " + e.getMessage(), e);
        }
    }

    /** Backbone -> row; a later file for the same backbone and protocol replaces an earlier one (files sorted by path). */
    static Map<String, Row> table(List<Path> files) {
        ObjectMapper json = new ObjectMapper();
        Map<String, Row> rows = new TreeMap<>();
        for (Path f : files) {
            JsonNode r;
            try {
                r = json.readTree(f.toFile());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
            }
            String command = r.path("command").asText();
            String backbone = r.path("backbone").asText("?");
            double value = switch (command) {
                case "knn" -> knnTop1(r);
                case "linprobe", "finetune" -> number(r.path("top1"));
                case "segment" -> 100 * number(r.path("mIoU"));
                default -> Double.NaN;
            };
            if (Double.isNaN(value) && !command.equals("segment")) continue;
            rows.put(backbone, rows.getOrDefault(backbone, new Row(Double.NaN, Double.NaN, Double.NaN, Double.NaN)).with(command, value));
        }
        return rows;
    }

    private static double knnTop1(JsonNode r) {
        for (JsonNode row : r.path("results")) if (row.path("k").asInt() == 20) return number(row.path("top1"));
        return r.path("results").isEmpty() ? Double.NaN : number(r.path("results").get(0).path("top1"));
    }

    private static double number(JsonNode n) {
        return n.isNumber() ? n.asDouble() : Double.NaN;
    }

    static void print(Map<String, Row> rows, PrintStream out) {
        out.println("| backbone | k-NN top-1 (k=20) | linear probe top-1 | fine-tuning top-1 | segmentation mIoU |");
        out.println("|---|---|---|---|---|");
        rows.forEach((b, r) -> out.printf("| %s | %s | %s | %s | %s |%n", b, cell(r.knn()), cell(r.linprobe()), cell(r.finetune()), cell(r.miou())));
    }

    private static String cell(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f", v);
    }
}
