package dev.mvp.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.VitConfig.AttentionKernel;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Forward+backward time and peak memory of the ViT backbone, this library against Debian's python3-torch running
 * timm's ViT (tools/bench/vit_step.py), side by side in one run, each measurement in its own fresh process (so that
 * peak memory is the step's, not the previous model's) with the same thread count.
 *
 * <pre>
 * tools/bench/backbone.sh [--models tiny,base] [--batch 8] [--image 224] [--threads 2] [--rounds 2]
 *                         [--steps 5] [--warmup 2] [--wait-policies default,passive] [--python /usr/bin/python3]
 *                         [--impls python,java-matmul,java-sdpa]
 * </pre>
 * Every cell is measured under each OpenMP wait policy listed: {@code default} leaves {@code OMP_WAIT_POLICY} unset
 * (what a user gets: Python's libgomp threads then spin after each parallel region, competing on a small machine
 * with OpenBLAS's own threads, which run the matmuls, while {@code Torch.init} makes the Java process's libgomp
 * passive), {@code passive} sets it to PASSIVE in both processes (like for like).
 * A step: forward of the batch to every token after the final norm, loss = mean of squares, backward, gradients
 * dropped. Rounds alternate the order of the implementations to spread background load over all of them; the
 * step time reported is the median over all measured steps. Peak memory is the process's VmHWM, reported with the
 * resident memory right after libtorch was loaded (what the model, its gradients and the step add).
 *
 * <p>The output ends with a Markdown section for docs/BENCHMARKS.md. One Java measurement can also be run alone, e.g.
 * to compare the kernels on BEiT's pre-training layout (q/v biases, layer scale, the shared relative position bias as
 * SDPA's additive mask; drop path off), which the Python script does not build:
 * {@code java ... BackboneBench --worker true --model base --kernel SDPA --layout beit --batch 8 --image 224
 * --threads 2 --warmup 2 --steps 5} prints one JSON line.
 */
public final class BackboneBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String IMPLEMENTATIONS = "python,java-matmul,java-sdpa";

    private BackboneBench() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = options(args);
        if (opts.containsKey("worker")) {
            System.out.println(JSON.writeValueAsString(worker(opts)));
            return;
        }
        orchestrate(opts);
    }

    // ---- one measurement, in this process ---------------------------------------------------------------------------

    private static ObjectNode worker(Map<String, String> opts) {
        int threads = Integer.parseInt(opts.get("threads")), batch = Integer.parseInt(opts.get("batch"));
        int image = Integer.parseInt(opts.get("image")), warmup = Integer.parseInt(opts.get("warmup"));
        int steps = Integer.parseInt(opts.get("steps"));
        AttentionKernel kernel = AttentionKernel.valueOf(opts.get("kernel"));
        Torch.init();
        Torch.setThreads(threads);
        long baseline = statusKib("VmRSS");
        torch.manual_seed(0);
        VitConfig config = VitConfig.preset(opts.get("model"), 16).withImageSize(image).withAttention(kernel);
        if (opts.getOrDefault("layout", "timm").equals("beit")) config = config.beitPretraining().withDropPath(0);
        VisionTransformer vit = VisionTransformer.create(config);
        Tensor images = Tensors.randn(batch, 3, image, image);
        Runnable step = () -> {
            try (PointerScope scope = new PointerScope()) {
                vit.forward(images, null).square().mean().backward();
                vit.zero_grad(true);
            }
        };
        for (int i = 0; i < warmup; i++) step.run();
        List<Double> seconds = new ArrayList<>(), cpu = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            long start = System.nanoTime();
            double cpuStart = cpuSeconds();
            step.run();
            seconds.add((System.nanoTime() - start) / 1e9);
            cpu.add(cpuSeconds() - cpuStart);
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("impl", "java-" + kernel.name().toLowerCase(Locale.ROOT));
        out.put("torch", "libtorch via org.bytedeco:pytorch " + torch.class.getPackage().getImplementationVersion());
        out.put("threads", torch.get_num_threads());
        out.put("interop_threads", torch.get_num_interop_threads());
        seconds.forEach(out.putArray("seconds")::add);
        cpu.forEach(out.putArray("cpu_seconds")::add);
        out.put("peak_rss_kib", statusKib("VmHWM"));
        out.put("baseline_rss_kib", baseline);
        mappedLibraries().forEach(out.putArray("blas")::add);
        out.put("config", torch.show_config().getString());
        return out;
    }

    /**
     * CPU time of the whole process (every thread, user + system) from /proc/self/stat, in seconds: with the wall
     * time it shows how much of a step's CPU went to threads waiting for each other (spinning), and it is less
     * disturbed than the wall time by other processes on a shared machine.
     */
    static double cpuSeconds() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;   // utime, stime; USER_HZ = 100 on Linux
        } catch (IOException e) {
            return Double.NaN;
        }
    }

    private static long statusKib(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) return Long.parseLong(line.split("\\s+")[1]);
            }
            return -1;
        } catch (IOException e) {
            return -1;
        }
    }

    private static List<String> mappedLibraries() {
        TreeSet<String> found = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 6) continue;
                String name = Path.of(f[5]).getFileName().toString().toLowerCase(Locale.ROOT);
                if (name.contains("blas") || name.contains("mkl")) found.add(f[5]);
            }
        } catch (IOException ignored) {
            // not Linux
        }
        return List.copyOf(found);
    }

    // ---- the comparison, one child process per measurement ----------------------------------------------------------

    private static void orchestrate(Map<String, String> opts) throws Exception {
        List<String> models = List.of(opts.getOrDefault("models", "tiny,base").split(","));
        int rounds = Integer.parseInt(opts.getOrDefault("rounds", "2"));
        Map<String, String> common = new LinkedHashMap<>();
        common.put("batch", opts.getOrDefault("batch", "8"));
        common.put("image", opts.getOrDefault("image", "224"));
        common.put("threads", opts.getOrDefault("threads", "2"));
        common.put("warmup", opts.getOrDefault("warmup", "2"));
        common.put("steps", opts.getOrDefault("steps", "5"));
        String python = opts.getOrDefault("python", "/usr/bin/python3");
        Path script = Path.of(opts.getOrDefault("script", "tools/bench/vit_step.py"));

        List<String> loads = new ArrayList<>();
        loads.add(uptime());
        List<String> policies = List.of(opts.getOrDefault("wait-policies", "default,passive").split(","));
        List<String> impls = List.of(opts.getOrDefault("impls", IMPLEMENTATIONS).split(","));
        if (!impls.contains("python") || !List.of(IMPLEMENTATIONS.split(",")).containsAll(impls)) {
            throw new IllegalArgumentException("--impls must list python and any of java-matmul, java-sdpa; got " + impls);
        }
        Map<String, Map<String, Measurement>> results = new LinkedHashMap<>();
        Map<String, JsonNode> environment = new LinkedHashMap<>();
        for (String model : models) {
            for (String policy : policies) {
                Map<String, Measurement> byImpl = new LinkedHashMap<>();
                for (String impl : impls) byImpl.put(impl, new Measurement());
                for (int round = 0; round < rounds; round++) {
                    List<String> order = new ArrayList<>(impls);
                    if (round % 2 == 1) java.util.Collections.reverse(order);
                    for (String impl : order) {
                        List<String> command = impl.equals("python")
                                ? pythonCommand(python, script, model, common)
                                : javaCommand(model, impl.substring("java-".length()).toUpperCase(Locale.ROOT), common);
                        System.err.printf("%s %s %s round %d: %s%n", model, policy, impl, round + 1, uptime());
                        JsonNode r = run(command, Integer.parseInt(common.get("threads")), policy);
                        byImpl.get(impl).add(r);
                        environment.putIfAbsent(impl, r);
                        System.err.printf("  steps %s s, CPU %s s, peak %d MiB%n", r.get("seconds"), r.get("cpu_seconds"),
                                r.get("peak_rss_kib").asLong() / 1024);
                    }
                }
                results.put(model + " " + policy, byImpl);
            }
            loads.add(uptime());
        }
        System.out.println(markdown(results, environment, common, loads));
    }

    private static List<String> pythonCommand(String python, Path script, String model, Map<String, String> common) {
        VitConfig c = VitConfig.preset(model, 16);
        List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--width", "" + c.width(), "--depth",
                "" + c.depth(), "--heads", "" + c.heads()));
        common.forEach((k, v) -> cmd.addAll(List.of("--" + k, v)));
        return cmd;
    }

    private static List<String> javaCommand(String model, String kernel, Map<String, String> common) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), BackboneBench.class.getName(),
                "--worker", "true", "--model", model, "--kernel", kernel));
        common.forEach((k, v) -> cmd.addAll(List.of("--" + k, v)));
        return cmd;
    }

    private static JsonNode run(List<String> command, int threads, String waitPolicy) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        pb.environment().remove("OMP_WAIT_POLICY");
        if (!waitPolicy.equals("default")) pb.environment().put("OMP_WAIT_POLICY", waitPolicy.toUpperCase(Locale.ROOT));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("benchmark worker failed: " + String.join(" ", command));
        String last = out.strip().lines().reduce((a, b) -> b).orElseThrow();
        return JSON.readTree(last);
    }

    private static String uptime() {
        try {
            return "load " + Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+", 4)[0] + " (1 min), "
                    + Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+", 4)[1] + " (5 min)";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** All measured steps and the largest peak of one implementation on one model. */
    private static final class Measurement {
        final List<Double> seconds = new ArrayList<>();
        final List<Double> cpu = new ArrayList<>();
        long peakKib;
        long baselineKib;

        void add(JsonNode r) {
            r.get("seconds").forEach(s -> seconds.add(s.asDouble()));
            r.get("cpu_seconds").forEach(s -> cpu.add(s.asDouble()));
            peakKib = Math.max(peakKib, r.get("peak_rss_kib").asLong());
            baselineKib = Math.max(baselineKib, r.get("baseline_rss_kib").asLong());
        }

        double median() {
            return median(seconds);
        }

        double cpuMedian() {
            return median(cpu);
        }

        private static double median(List<Double> values) {
            double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        double min() {
            return seconds.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
        }
    }

    private static String markdown(Map<String, Map<String, Measurement>> results, Map<String, JsonNode> env,
                                   Map<String, String> common, List<String> loads) {
        StringBuilder md = new StringBuilder();
        md.append("| model | OMP_WAIT_POLICY | implementation | step, median (s) | fastest (s) | time vs Python | "
                + "CPU per step, median (s) | peak RSS (MiB) | RSS added to the loaded library (MiB) |\n"
                + "|---|---|---|---|---|---|---|---|---|\n");
        results.forEach((cell, byImpl) -> {
            String[] modelPolicy = cell.split(" ");
            double python = byImpl.get("python").median();
            byImpl.forEach((impl, m) -> md.append(String.format(Locale.ROOT, "| ViT-%s/16 | %s | %s | %.3f | %.3f | %.2f | %.2f | %d | %d |%n",
                    label(modelPolicy[0]), modelPolicy[1], impl, m.median(), m.min(), m.median() / python,
                    m.cpuMedian(), m.peakKib / 1024, (m.peakKib - m.baselineKib) / 1024)));
        });
        md.append(String.format(Locale.ROOT, "%nbatch %s, %sx%s, fp32, %s threads, %s measured steps per process after %s "
                        + "warm-up steps, %d processes per cell; machine load: %s%n",
                common.get("batch"), common.get("image"), common.get("image"), common.get("threads"), common.get("steps"),
                common.get("warmup"), results.values().iterator().next().values().iterator().next().seconds.size()
                        / Integer.parseInt(common.get("steps")), String.join(" -> ", loads)));
        env.forEach((impl, r) -> md.append(String.format(Locale.ROOT, "%n%s: %s, intra-op threads %d, inter-op %d, BLAS %s%n",
                impl, r.get("torch").asText(), r.get("threads").asInt(), r.get("interop_threads").asInt(), r.get("blas"))));
        for (String impl : new String[] {"python", "java-matmul"}) {
            if (env.containsKey(impl)) {
                md.append("\n").append(impl).append(" build configuration:\n```\n")
                        .append(env.get(impl).get("config").asText().strip()).append("\n```\n");
            }
        }
        return md.toString();
    }

    private static String label(String model) {
        return switch (model) {
            case "tiny", "ti" -> "Ti";
            case "small", "s" -> "S";
            case "base", "b" -> "B";
            case "large", "l" -> "L";
            default -> model;
        };
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs, got " + Arrays.toString(args));
            }
            opts.put(args[i].substring(2), args[++i]);
        }
        return opts;
    }
}
