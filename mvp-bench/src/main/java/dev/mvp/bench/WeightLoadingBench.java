package dev.mvp.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How fast a ViT-B/16-sized safetensors file (86 M float32 parameters, about 343 MB) opens, and what it costs in
 * memory: {@link SafeTensorsFile} validates the header in Java and maps the data, and its tensors are views of the
 * mapping, so opening must not read (nor copy) the file.
 *
 * <pre>
 * tools/bench/weights.sh [--file /tmp/mvp-bench-vit-b16.safetensors] [--processes 5] [--repeats 20]
 * </pre>
 * The file is generated once (a randomly initialised ViT-B/16, timm's names plus the student's mask token, written by
 * {@link SafeTensorsWriter})
 * and read once end to end to warm the page cache. Then each of {@code processes} fresh JVMs, after
 * {@code Torch.init()}, measures:
 * <ul>
 *   <li><b>first use</b>: the process's first {@code SafeTensorsFile.open} + first tensor summed, of a 16-byte file:
 *       the one-time costs of the JVM (class loading, JIT, the JSON parser, the views' native deleter) and of libtorch
 *       (its first kernel, OpenMP's threads), whatever the file;</li>
 *   <li><b>first open</b>: then the ViT-B/16 file opened and its first tensor usable: a view of
 *       {@code blocks.0.mlp.fc1.weight} ([3072, 768], 9.4 MB) summed to a number;</li>
 *   <li><b>repeat open</b>: the same, {@code repeats} more times (median);</li>
 *   <li><b>open only</b> (header parse, checks, mmap) and <b>every tensor viewed</b> (a view of each of the 153
 *       tensors, data untouched), medians;</li>
 *   <li>memory, from /proc/self/status: RssAnon (private memory: a copy would land here) and RssFile (pages of mapped
 *       files) before the open, after open + first tensor, and after every tensor was summed (all 343 MB paged in
 *       through the mapping);</li>
 *   <li>for contrast, the copy a model load makes: {@code StateDict.load} into a {@code VisionTransformer}.</li>
 * </ul>
 * The output ends with a Markdown section for docs/BENCHMARKS.md.
 */
public final class WeightLoadingBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FIRST = "blocks.0.mlp.fc1.weight";

    private WeightLoadingBench() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = options(args);
        Path file = Path.of(opts.get("file"));
        if (opts.containsKey("worker")) {
            System.out.println(JSON.writeValueAsString(worker(file, Path.of(opts.get("tiny")), Integer.parseInt(opts.get("repeats")))));
            return;
        }
        orchestrate(file, Integer.parseInt(opts.get("processes")), opts);
    }

    // ---- one fresh process ------------------------------------------------------------------------------------------

    private static ObjectNode worker(Path file, Path tiny, int repeats) {
        Torch.init();
        ObjectNode out = JSON.createObjectNode();
        // the process's first open, of a 16-byte file: what the JVM and libtorch cost once (class loading, JIT, the
        // JSON parser, the view deleter's native callback, OpenMP's threads), whatever the file
        out.put("first_tiny_ms", firstUse(tiny));
        Map<String, Long> before = memory();
        long t0 = System.nanoTime();
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            double sum = f.tensor(FIRST).sum().item_double();
            out.put("first_open_ms", (System.nanoTime() - t0) / 1e6);
            out.put("checksum", sum);
            Map<String, Long> afterFirst = memory();
            double[] open = new double[repeats], openFirst = new double[repeats], viewAll = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long a = System.nanoTime();
                try (SafeTensorsFile g = SafeTensorsFile.open(file)) {
                    open[r] = (System.nanoTime() - a) / 1e6;
                }
                a = System.nanoTime();
                try (SafeTensorsFile g = SafeTensorsFile.open(file); PointerScope inner = new PointerScope()) {
                    g.tensor(FIRST).sum().item_double();
                    openFirst[r] = (System.nanoTime() - a) / 1e6;
                }
                a = System.nanoTime();
                try (SafeTensorsFile g = SafeTensorsFile.open(file); PointerScope inner = new PointerScope()) {
                    for (String name : g.names()) g.tensor(name);
                    viewAll[r] = (System.nanoTime() - a) / 1e6;
                }
            }
            out.put("open_only_ms", median(open));
            out.put("open_first_ms", median(openFirst));
            out.put("open_first_min_ms", Arrays.stream(openFirst).min().orElse(0));
            out.put("open_first_max_ms", Arrays.stream(openFirst).max().orElse(0));
            out.put("view_all_ms", median(viewAll));
            out.put("tensors", f.names().size());

            // every byte paged in through the mapping
            long a = System.nanoTime();
            for (String name : f.names()) {
                try (PointerScope inner = new PointerScope()) {
                    f.tensor(name).sum().item_double();
                }
            }
            out.put("touch_all_ms", (System.nanoTime() - a) / 1e6);
            Map<String, Long> afterAll = memory();
            out.set("rss_before_kib", JSON.valueToTree(before));
            out.set("rss_after_first_kib", JSON.valueToTree(afterFirst));
            out.set("rss_after_all_kib", JSON.valueToTree(afterAll));
        }

        // the copy a model makes when it loads the weights into its own parameters
        torch.manual_seed(0);
        VisionTransformer vit = VisionTransformer.create(VitConfig.base(16));
        Map<String, Long> model = memory();
        long a = System.nanoTime();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            StateDict.load(vit, f, "");
        }
        out.put("load_into_model_ms", (System.nanoTime() - a) / 1e6);
        out.set("rss_with_model_kib", JSON.valueToTree(model));
        vit.close();
        return out;
    }

    /** Milliseconds to open {@code file} and sum its first tensor. */
    private static double firstUse(Path file) {
        long t0 = System.nanoTime();
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            f.tensor(f.names().iterator().next()).sum().item_double();
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    /** VmRSS, RssAnon and RssFile of this process, KiB. */
    private static Map<String, Long> memory() {
        Map<String, Long> m = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                for (String field : List.of("VmRSS", "RssAnon", "RssFile")) {
                    if (line.startsWith(field + ":")) m.put(field, Long.parseLong(line.split("\\s+")[1]));
                }
            }
        } catch (IOException e) {
            // not Linux: no memory figures
        }
        return m;
    }

    // ---- orchestration ----------------------------------------------------------------------------------------------

    private static void orchestrate(Path file, int processes, Map<String, String> opts) throws Exception {
        if (!Files.exists(file) || opts.containsKey("regenerate")) generate(file);
        Path tiny = Files.createTempFile("mvp-bench-tiny", ".safetensors");
        Files.write(tiny, tinySafetensors());
        long size = Files.size(file);
        System.out.printf(Locale.ROOT, "file %s: %.1f MB%n", file, size / 1e6);
        long t = System.nanoTime();
        warm(file);
        System.out.printf(Locale.ROOT, "page cache warmed (whole file read once: %.0f ms); %s%n", (System.nanoTime() - t) / 1e6, load());

        List<JsonNode> runs = new ArrayList<>();
        for (int p = 0; p < processes; p++) {
            List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "-cp", System.getProperty("java.class.path"), WeightLoadingBench.class.getName(),
                    "--worker", "--file", file.toString(), "--tiny", tiny.toString(), "--repeats", opts.get("repeats"));
            Process proc = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String text = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (proc.waitFor() != 0) throw new IllegalStateException("worker failed: " + text);
            JsonNode run = JSON.readTree(text.substring(text.lastIndexOf('\n') + 1));
            runs.add(run);
            System.out.println("process " + (p + 1) + ": " + run);
        }
        Files.delete(tiny);
        System.out.println("after: " + load());
        System.out.println();
        System.out.println(markdown(file, size, runs, opts));
    }

    private static void generate(Path file) {
        System.out.println("generating " + file + " (a ViT-B/16, float32)...");
        Torch.init();
        torch.manual_seed(0);
        try (VisionTransformer vit = VisionTransformer.create(VitConfig.base(16)); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> weights = StateDict.of(vit);
            SafeTensorsWriter.write(file, weights, Map.of("format", "pt", "source", "dev.mvp.bench.WeightLoadingBench"));
        }
    }

    /** A safetensors file of one float32 tensor [4] (16 bytes of data), written byte by byte. */
    private static byte[] tinySafetensors() {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        byte[] header = (json + " ".repeat(-json.length() & 7)).getBytes(StandardCharsets.UTF_8); // data 8-aligned
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        for (int i = 0; i < 4; i++) b.putFloat(i);
        return b.array();
    }

    private static void warm(Path file) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(8 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buffer) >= 0) buffer.clear();
        }
    }

    private static String markdown(Path file, long size, List<JsonNode> runs, Map<String, String> opts) {
        double[] tinyFirst = column(runs, "first_tiny_ms");
        double[] first = column(runs, "first_open_ms"), repeat = column(runs, "open_first_ms"), open = column(runs, "open_only_ms");
        double[] views = column(runs, "view_all_ms"), touch = column(runs, "touch_all_ms"), load = column(runs, "load_into_model_ms");
        JsonNode r = runs.get(runs.size() / 2);
        StringBuilder md = new StringBuilder();
        md.append("## Weight loading\n\n");
        md.append(String.format(Locale.ROOT, "A ViT-B/16-sized safetensors file (%d tensors, %.1f MB float32, generated by the "
                + "benchmark), page cache warm; %d fresh JVMs, each after `Torch.init()`; medians over the processes of "
                + "each process's figure (repeats: median of %s).%n%n", r.get("tensors").asInt(), size / 1e6, runs.size(),
                opts.get("repeats")));
        md.append("| measurement | time |\n|---|---|\n");
        md.append(row("the process's first open + first tensor, of a 16-byte file: one-time JVM and libtorch costs", tinyFirst));
        md.append(row("then the ViT-B/16 file: open + first tensor usable, first time", first));
        md.append(row("open + first tensor usable, repeated", repeat));
        md.append(row("open alone: header parsed and checked, data mapped", open));
        md.append(row("open + a view of every tensor, data untouched", views));
        md.append(row("every tensor summed: all pages read through the mapping", touch));
        md.append(row("for contrast: copying the file into a ViT-B/16's parameters (`StateDict.load`)", load));
        md.append("\n\"First tensor usable\": a view of `").append(FIRST).append("` ([3072, 768], 9.4 MB) summed to a number.\n\n");
        md.append("Resident memory of process " + (runs.size() / 2 + 1) + " (KiB; RssAnon is private memory, where a copy would land, RssFile "
                + "the file pages mapped in):\n\n");
        md.append("| moment | VmRSS | RssAnon | RssFile |\n|---|---|---|---|\n");
        md.append(memRow("before the open", r.get("rss_before_kib")));
        md.append(memRow("open + first tensor", r.get("rss_after_first_kib")));
        md.append(memRow("after summing every tensor", r.get("rss_after_all_kib")));
        md.append(memRow("a ViT-B/16 built (its own float32 parameters), for scale", r.get("rss_with_model_kib")));
        md.append("\nCommand: `tools/bench/weights.sh --processes ").append(runs.size()).append(" --repeats ").append(opts.get("repeats")).append("`.\n");
        return md.toString();
    }

    private static String row(String what, double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return String.format(Locale.ROOT, "| %s | %.1f ms (%.1f to %.1f) |%n", what, median(v), s[0], s[s.length - 1]);
    }

    private static String memRow(String what, JsonNode m) {
        return "| " + what + " | " + m.path("VmRSS").asLong() + " | " + m.path("RssAnon").asLong() + " | "
                + m.path("RssFile").asLong() + " |\n";
    }

    private static double[] column(List<JsonNode> runs, String field) {
        return runs.stream().mapToDouble(n -> n.get(field).asDouble()).toArray();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return "load " + f[0] + " (1 min), " + f[1] + " (5 min)";
        } catch (IOException e) {
            return "load unknown";
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new LinkedHashMap<>(Map.of("file", "/tmp/mvp-bench-vit-b16.safetensors",
                "processes", "5", "repeats", "20", "tiny", ""));
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'");
            String key = a.substring(2);
            if (key.equals("worker") || key.equals("regenerate")) {
                o.put(key, "true");
            } else if (i + 1 < args.length && o.containsKey(key)) {
                o.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("unknown or incomplete option '" + a + "' (--file F, --processes N, "
                        + "--repeats N, --regenerate)");
            }
        }
        return o;
    }
}
