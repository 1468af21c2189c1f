package dev.mvp.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.LossOutput;
import dev.mvp.api.Precision;
import dev.mvp.api.Recipe;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageFolder;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmarks of the pre-training engine, for docs/ENGINE.md; run by {@code tools/bench/engine.sh MODE [--flag value]}.
 * Not a test (no assertions): it prints figures.
 * <ul>
 *   <li>{@code overhead}: wall time per step of {@link Pretrainer} against a bare loop (teacher forward, student
 *       forward, backward, clipping, AdamW) of the same model on the same batches held in memory; both get their
 *       batches from memory, so the difference is the engine's own work (schedules, metrics line, listener, RSS
 *       read, scopes). Blocks of each alternate for {@code --rounds} rounds, so that a changing machine load hits
 *       both alike; the first {@code --warmup} steps of each block are left out.</li>
 *   <li>{@code memory}: resident memory over {@code --steps} steps of a real run (the real data loader on image
 *       files, checkpoints every {@code --checkpoint-every} steps), read from its metrics.jsonl.</li>
 *   <li>{@code precision}: bare-loop step time and first-step loss with the student in fp32 and in bf16 autocast,
 *       and with the teacher in bf16 autocast too; with {@code --fp16 true} the student in fp32 and in fp16 autocast
 *       instead (no loss scaling: time only).</li>
 *   <li>{@code threads}: bare-loop step time with 1 or 2 libtorch (OpenMP) threads and 1 or 2 OpenBLAS threads.</li>
 *   <li>{@code teacher}: a teacher of CLIP ViT-B/16's size (random weights with CLIP's initialisation, written once to
 *       a safetensors file under {@code --out} and loaded as a user's file is) on one batch of {@code --batch-size}
 *       real images at 224: the forward time ({@code --reps} timed after one warm-up) and its targets' cosine against
 *       float32 for float32, bf16 autocast over float32 weights, and {@link PlacedTeacher} in bf16 and fp16 (weights
 *       converted; fp16 timed {@code --fp16-reps} times, 0 to leave it out).</li>
 *   <li>{@code micro}: the engine's own work inside a step, each part timed alone over many repetitions (setting the
 *       learning rate and weight decay of both groups, re-seeding, the nested scope and guards, the metrics line,
 *       the RSS read).</li>
 * </ul>
 */
public final class EngineBench {
    private EngineBench() {}

    /** A batch held in memory for the whole benchmark (long-lived tensors, outside any scope). */
    record Held(Tensor student, Tensor teacher, Tensor mask) {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) throw new IllegalArgumentException("usage: EngineBench overhead|memory|precision [--flag value]...");
        Map<String, String> o = new HashMap<>(Map.of("--data", "/work/shared/data/cifar10/train", "--model", "tiny",
                "--img-size", "112", "--patch-size", "16", "--batch-size", "16", "--steps", "30", "--rounds", "3",
                "--warmup", "3", "--threads", "2", "--out", "/tmp/mvp-engine-bench"));
        o.put("--workers", "2");
        o.put("--checkpoint-every", "250");
        for (int i = 1; i + 1 < args.length; i += 2) o.put(args[i], args[i + 1]);
        Torch.init();
        PretrainConfig config = PretrainConfig.builder(Path.of(o.get("--data")), Path.of(o.get("--out")))
                .model(o.get("--model")).imageSize(Integer.parseInt(o.get("--img-size")))
                .patchSize(Integer.parseInt(o.get("--patch-size"))).batchSize(Integer.parseInt(o.get("--batch-size")))
                .steps(Long.parseLong(o.get("--steps"))).warmupSteps(5).threads(Integer.parseInt(o.get("--threads")))
                .workers(Integer.parseInt(o.get("--workers"))).checkpointEvery(0).checkpointEveryEpochs(0).build();
        System.out.println("# " + String.join(" ", args));
        System.out.println("# load average before: " + loadAverage());
        switch (args[0]) {
            case "overhead" -> overhead(config, Integer.parseInt(o.get("--rounds")), Integer.parseInt(o.get("--warmup")));
            case "memory" -> memory(config.toBuilder().checkpointEvery(Long.parseLong(o.get("--checkpoint-every"))).build(),
                    Integer.parseInt(o.get("--warmup")));
            case "precision" -> precision(config, Integer.parseInt(o.get("--warmup")),
                    Boolean.parseBoolean(o.getOrDefault("--fp16", "false")));
            case "micro" -> micro(config);
            case "threads" -> threads(config);
            case "teacher" -> teacher(config, Integer.parseInt(o.getOrDefault("--reps", "3")),
                    Integer.parseInt(o.getOrDefault("--fp16-reps", "1")));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.out.println("# load average after: " + loadAverage());
        System.exit(0); // the data loader's daemon threads and libtorch's pools need no orderly shutdown here
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "n/a";
        }
    }

    /** A few real batches (decoded, cropped, masked by the loader), copied into long-lived tensors. */
    static List<Held> holdBatches(PretrainConfig config, int count) {
        Recipe recipe = Recipes.mvp(config);
        List<Held> held = new ArrayList<>();
        try (BatchSource source = BatchSource.images(ImageFolder.open(config.data()), config, recipe, System.err::println)
                .open(0, 0)) {
            for (int i = 0; i < count; i++) {
                BatchSource.Item item = source.next();
                held.add(new Held(item.studentView().clone(), item.teacherView().clone(), item.mask().clone()));
                item.studentView().close();
                item.teacherView().close();
                item.mask().close();
            }
        }
        return held;
    }

    /** A source that cycles through batches held in memory. */
    static BatchSource.Opener inMemory(List<Held> held) {
        return (epoch, batch) -> new BatchSource() {
            long next = (long) epoch * held.size() + batch;

            @Override public int batchesPerEpoch() {
                return held.size();
            }

            @Override public Item next() {
                Held h = held.get((int) (next % held.size()));
                Item item = new Item((int) (next / held.size()), next % held.size(), h.student(), h.teacher(), h.mask(),
                        new int[0], null);
                next++;
                return item;
            }

            @Override public String describe() {
                return held.size() + " batches held in memory";
            }

            @Override public long images() {
                return 0;
            }

            @Override public void close() {}
        };
    }

    /** Per-step wall times of the bare loop: what any training loop must do, nothing else. */
    static double[] bare(PretrainConfig config, List<Held> held, int steps, Precision student, Precision teacher,
                         double[] firstLoss) {
        Torch.setThreads(config.threads());
        Recipe recipe = Recipes.mvp(config);
        ParameterGroups groups = ParameterGroups.of(Pretrainer.trainedModules(recipe));
        AdamW optimizer = Optimizers.adamW(groups, config.lr(), config.weightDecay(), config.beta1(), config.beta2());
        TensorVector parameters = new TensorVector();
        for (Tensor t : groups.all()) parameters.push_back(t);
        double[] times = new double[steps];
        long previous = System.nanoTime();
        for (int s = 0; s < steps; s++) {
            try (PointerScope scope = new PointerScope()) {
                Held b = held.get(s % held.size());
                optimizer.zero_grad();
                Tensor targets;
                try (NoGradGuard noGrad = new NoGradGuard(); Autocast a = Autocast.of(teacher)) {
                    targets = recipe.tokenizer().targets(b.teacher());
                }
                if (teacher != Precision.FP32) targets = targets.to(ScalarType.Float);
                LossOutput out;
                try (Autocast a = Autocast.of(student)) {
                    out = recipe.forwardWithTargets(b.student(), targets, b.mask());
                }
                double loss = out.value().item_double();
                if (s == 0 && firstLoss != null) firstLoss[0] = loss;
                out.value().backward();
                torch.clip_grad_norm_(parameters, config.clipGrad());
                optimizer.step();
            }
            long now = System.nanoTime();
            times[s] = (now - previous) / 1e9;
            previous = now;
        }
        recipe.tokenizer().close();
        return times;
    }

    /**
     * Per-step wall times of the engine: from one step's report to the next (everything the loop does). Adds to
     * {@code outside} each step's time outside its timed part ({@code step_s}: batches, forward, backward, update,
     * release of its tensors): the metrics line, the listener, the checkpoint check.
     */
    static double[] engine(PretrainConfig config, List<Held> held, Path out, List<Double> outside) {
        long[] last = {0};
        List<Double> times = new ArrayList<>();
        Recipe recipe = Recipes.mvp(config);
        Pretrainer.run(config.toBuilder().out(out).build(), recipe, inMemory(held), null, new RunListener() {
            @Override public void started(long firstStep, long totalSteps, String description) {
                last[0] = System.nanoTime();
            }

            @Override public void step(StepMetrics m, long totalSteps) {
                long now = System.nanoTime();
                times.add((now - last[0]) / 1e9);
                if (outside != null && m.step() > 1) outside.add((now - last[0]) / 1e9 - m.stepS());
                last[0] = now;
            }
        }, Pretrainer.Faults.NONE);
        recipe.tokenizer().close();
        return times.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static void overhead(PretrainConfig config, int rounds, int warmup) throws IOException {
        List<Held> held = holdBatches(config, 8);
        int steps = (int) config.steps();
        List<Double> bareAll = new ArrayList<>(), engineAll = new ArrayList<>(), outside = new ArrayList<>();
        System.out.printf("# ViT-%s %dx%d patch %d, batch %d, teacher random CLIP (width 128, 2 layers), %d threads;"
                        + " %d rounds of %d steps each (first %d of each block left out)%n", config.model(),
                config.imageSize(), config.imageSize(), config.patchSize(), config.batchSize(), config.threads(), rounds,
                steps, warmup);
        for (int r = 0; r < rounds; r++) {
            double[] b = bare(config, held, steps, Precision.FP32, Precision.FP32, null);
            double[] e = engine(config, held, config.out().resolve("overhead-" + r), outside);
            double[] bt = Arrays.copyOfRange(b, warmup, b.length), et = Arrays.copyOfRange(e, warmup, e.length);
            for (double v : bt) bareAll.add(v);
            for (double v : et) engineAll.add(v);
            System.out.printf(Locale.ROOT, "round %d: bare median %.4f s mean %.4f s | engine median %.4f s mean %.4f s"
                            + " | overhead (medians) %+.2f%% | load %s%n", r + 1, median(bt), mean(bt), median(et),
                    mean(et), 100 * (median(et) / median(bt) - 1), loadAverage());
        }
        double[] ba = bareAll.stream().mapToDouble(Double::doubleValue).toArray();
        double[] ea = engineAll.stream().mapToDouble(Double::doubleValue).toArray();
        System.out.printf(Locale.ROOT, "all: bare median %.4f s (min %.4f, mean %.4f, n %d) | engine median %.4f s "
                        + "(min %.4f, mean %.4f, n %d)%n", median(ba), min(ba), mean(ba), ba.length, median(ea), min(ea),
                mean(ea), ea.length);
        System.out.printf(Locale.ROOT, "overhead: medians %+.2f%%, minima %+.2f%%, means %+.2f%%%n",
                100 * (median(ea) / median(ba) - 1), 100 * (min(ea) / min(ba) - 1), 100 * (mean(ea) / mean(ba) - 1));
        double[] oa = outside.stream().mapToDouble(Double::doubleValue).toArray();
        System.out.printf(Locale.ROOT, "engine time outside the timed step (metrics line, RSS read, listener, "
                        + "checkpoint check): median %.3f ms, mean %.3f ms per step = %.3f%% of the bare median step%n",
                1e3 * median(oa), 1e3 * mean(oa), 100 * median(oa) / median(ba));
    }

    static void memory(PretrainConfig config, int warmup) throws IOException {
        Path out = config.out().resolve("memory");
        Checkpoints.deleteRecursively(out);
        PretrainConfig c = config.toBuilder().out(out).keepCheckpoints(2).build();
        System.out.printf("# ViT-%s %dx%d patch %d, batch %d, %d steps on %s, %d torch threads, %d data workers, "
                        + "checkpoint every %d steps%n", c.model(), c.imageSize(), c.imageSize(), c.patchSize(),
                c.batchSize(), c.steps(), c.data(), c.threads(), c.workers(), c.checkpointEvery());
        long t0 = System.nanoTime();
        RunSummary s = Pretrainer.run(c, Recipes.mvp(c), ImageFolder.open(c.data()), null, new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                if (m.step() % 100 == 0 || m.step() == 1) {
                    System.out.printf(Locale.ROOT, "step %d: rss %.1f MiB, heap %.1f MiB, loss %.4f, %.3f s/step, load %s%n",
                            m.step(), m.rssMb(), m.heapMb(), m.loss(), m.stepS(), loadAverage());
                }
            }
        });
        ObjectMapper json = new ObjectMapper();
        List<double[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonNode n = json.readTree(line);
            rows.add(new double[] {n.get("step").asDouble(), n.get("rss_mb").asDouble(), n.get("step_s").asDouble()});
        }
        List<double[]> after = rows.subList(Math.min(warmup, rows.size() - 1), rows.size());
        double first = after.getFirst()[1], lastRss = after.getLast()[1];
        double lo = after.stream().mapToDouble(r -> r[1]).min().orElseThrow();
        double hi = after.stream().mapToDouble(r -> r[1]).max().orElseThrow();
        // least-squares slope of RSS against the step, in MiB per 1000 steps
        double mx = after.stream().mapToDouble(r -> r[0]).average().orElseThrow();
        double my = after.stream().mapToDouble(r -> r[1]).average().orElseThrow();
        double sxy = 0, sxx = 0;
        for (double[] r : after) {
            sxy += (r[0] - mx) * (r[1] - my);
            sxx += (r[0] - mx) * (r[0] - mx);
        }
        System.out.printf(Locale.ROOT, "rss after warm-up (step %d): %.1f MiB; at step %d: %.1f MiB; growth %+.1f MiB;"
                        + " range %.1f..%.1f MiB; fitted slope %+.2f MiB per 1000 steps%n", (long) after.getFirst()[0],
                first, (long) after.getLast()[0], lastRss, lastRss - first, lo, hi, 1000 * sxy / sxx);
        System.out.printf(Locale.ROOT, "steps %d in %.0f s (median step %.3f s), loss %.4f -> %.4f%n", s.steps(),
                (System.nanoTime() - t0) / 1e9, median(rows.stream().mapToDouble(r -> r[2]).toArray()),
                s.meanLossFirst10(), s.meanLossLast10());
    }

    static void precision(PretrainConfig config, int warmup, boolean fp16) {
        Torch.setThreads(config.threads());
        for (int n : new int[] {192, 768, 1024}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = dev.mvp.api.Tensors.randn(n, n), y = dev.mvp.api.Tensors.randn(n, n);
                Tensor xb = x.to(ScalarType.BFloat16), yb = y.to(ScalarType.BFloat16);
                int reps = n <= 192 ? 200 : 10;
                for (int w = 0; w < 2; w++) {
                    x.matmul(y);
                    xb.matmul(yb);
                }
                double fp32 = timePerCall(reps, () -> x.matmul(y)) / 1e3; // ms
                double bf16 = timePerCall(reps, () -> xb.matmul(yb)) / 1e3;
                double autocast;
                try (Autocast a = Autocast.of(Precision.BF16)) {
                    torch.linear(x, y);
                    autocast = timePerCall(reps, () -> torch.linear(x, y)) / 1e3;
                }
                System.out.printf(Locale.ROOT, "matmul %dx%d: fp32 %.2f ms, bf16 %.2f ms, linear under bf16 autocast %.2f ms%n",
                        n, n, fp32, bf16, autocast);
            }
        }
        List<Held> held = holdBatches(config, 8);
        int steps = (int) config.steps();
        Precision[][] settings = fp16
                ? new Precision[][] {{Precision.FP32, Precision.FP32}, {Precision.FP16, Precision.FP32}}
                : new Precision[][] {{Precision.FP32, Precision.FP32}, {Precision.BF16, Precision.FP32},
                        {Precision.BF16, Precision.BF16}, {Precision.FP32, Precision.BF16}};
        System.out.printf("# ViT-%s %dx%d patch %d, batch %d, %d threads, %d steps per setting (first %d left out)%n",
                config.model(), config.imageSize(), config.imageSize(), config.patchSize(), config.batchSize(),
                config.threads(), steps, warmup);
        for (Precision[] p : settings) {
            double[] loss = new double[1];
            double[] t = bare(config, held, steps, p[0], p[1], loss);
            t = Arrays.copyOfRange(t, warmup, t.length);
            System.out.printf(Locale.ROOT, "student %s teacher %s: median %.4f s/step (min %.4f), first-step loss %.6f, load %s%n",
                    p[0], p[1], median(t), min(t), loss[0], loadAverage());
        }
    }

    static void micro(PretrainConfig config) throws IOException {
        Torch.setThreads(config.threads());
        Recipe recipe = Recipes.mvp(config);
        AdamW optimizer = Optimizers.adamW(ParameterGroups.of(Pretrainer.trainedModules(recipe)), 1e-3, 0.05, 0.9, 0.98);
        Path out = config.out().resolve("micro");
        Checkpoints.deleteRecursively(out);
        StepMetrics m = new StepMetrics(1, 0, -0.5, 0.5, "cosine", 1e-3, 0.05, 2.0, false, 0, 100, 0.001, 0.1, 10, 400, 20, null);
        int n = 20_000;
        for (int round = 0; round < 2; round++) { // the first round warms up the JIT
            double lrWd = timePerCall(n, () -> {
                Optimizers.setLearningRate(optimizer, 1e-3);
                Optimizers.setWeightDecay(optimizer, 0.05);
            });
            double seed = timePerCall(n, () -> torch.manual_seed(Seeds.mix(0, 7)));
            double scopes = timePerCall(n, () -> {
                try (PointerScope s = new PointerScope(); PointerScope micro = new PointerScope();
                     NoGradGuard g = new NoGradGuard(); Autocast a = Autocast.of(Precision.FP32)) {
                    // nothing: the cost of entering and leaving
                }
            });
            double rss = timePerCall(n, Pretrainer.Memory::residentMiB);
            double line;
            try (RunFiles files = RunFiles.open(out, 0)) {
                line = timePerCall(n, () -> files.append(m));
            }
            if (round == 1) {
                System.out.printf(Locale.ROOT, "per step: lr + weight decay of both groups %.2f us, manual_seed %.2f us, "
                                + "step and batch scopes + no-grad + autocast(fp32) %.2f us, metrics line %.2f us, RSS "
                                + "read %.2f us; total %.1f us%n", lrWd, seed, scopes, line, rss,
                        lrWd + seed + scopes + line + rss);
            }
        }
        recipe.tokenizer().close();
    }

    static void threads(PretrainConfig config) {
        List<Held> held = holdBatches(config, 4);
        Recipe recipe = Recipes.mvp(config);
        ParameterGroups groups = ParameterGroups.of(Pretrainer.trainedModules(recipe));
        AdamW optimizer = Optimizers.adamW(groups, config.lr(), config.weightDecay(), config.beta1(), config.beta2());
        TensorVector parameters = new TensorVector();
        for (Tensor t : groups.all()) parameters.push_back(t);
        int steps = (int) config.steps();
        for (int[] c : new int[][] {{1, 1}, {2, 1}, {1, 2}, {2, 2}, {1, 1}}) {
            torch.set_num_threads(c[0]);
            org.bytedeco.openblas.global.openblas.blas_set_num_threads(c[1]);
            double[] t = new double[steps];
            for (int s = 0; s < steps; s++) {
                long t0 = System.nanoTime();
                try (PointerScope scope = new PointerScope()) {
                    Held b = held.get(s % held.size());
                    optimizer.zero_grad();
                    Tensor targets;
                    try (NoGradGuard g = new NoGradGuard()) {
                        targets = recipe.tokenizer().targets(b.teacher());
                    }
                    recipe.forwardWithTargets(b.student(), targets, b.mask()).value().backward();
                    torch.clip_grad_norm_(parameters, config.clipGrad());
                    optimizer.step();
                }
                t[s] = (System.nanoTime() - t0) / 1e9;
            }
            System.out.printf(Locale.ROOT, "libtorch threads %d, OpenBLAS threads %d: median %.3f s/step (min %.3f), load %s%n",
                    c[0], c[1], median(t), min(t), loadAverage());
        }
    }

    static void teacher(PretrainConfig config, int reps, int fp16Reps) throws IOException {
        Torch.setThreads(config.threads());
        Path file = config.out().resolve("clip-vit-b16-random.safetensors");
        if (!Files.isRegularFile(file)) {
            Files.createDirectories(config.out());
            try (var model = dev.mvp.models.clip.ClipVisionTransformer.random(
                    new dev.mvp.models.clip.ClipVisionConfig(224, 16, 768, 12, 12, 512), 0);
                 PointerScope scope = new PointerScope()) {
                dev.mvp.models.io.SafeTensorsWriter.write(file, dev.mvp.models.io.StateDict.of(model));
            }
        }
        PretrainConfig views = config.toBuilder().imageSize(224).patchSize(16).build();
        Tensor images = holdBatches(views, 1).get(0).teacher(); // real images, CLIP's 224 view
        float[] reference;
        try (dev.mvp.tokenizers.ClipTokenizer clip = dev.mvp.tokenizers.ClipTokenizer.load(file)) {
            System.out.printf(Locale.ROOT, "# teacher %s, batch %d at 224, %d thread(s)%n", clip.name(),
                    images.size(0), config.threads());
            PlacedTeacher fp32 = PlacedTeacher.place(clip, dev.mvp.api.ComputeDevice.CPU, Precision.FP32);
            reference = teacherRun("fp32", () -> fp32.targets(images), reps, null);
            teacherRun("bf16 autocast over fp32 weights", () -> {
                try (Autocast a = Autocast.of(Precision.BF16)) {
                    return clip.targets(images).to(ScalarType.Float);
                }
            }, reps, reference);
            PlacedTeacher bf16 = PlacedTeacher.place(clip, dev.mvp.api.ComputeDevice.CPU, Precision.BF16);
            teacherRun("bf16 weights (PlacedTeacher)", () -> bf16.targets(images), reps, reference);
        }
        if (fp16Reps > 0) {
            try (PlacedTeacher fp16 = PlacedTeacher.place(dev.mvp.tokenizers.ClipTokenizer.load(file),
                    dev.mvp.api.ComputeDevice.CPU, Precision.FP16)) {
                teacherRun("fp16 weights (PlacedTeacher)", () -> fp16.targets(images), fp16Reps, reference);
            }
        }
    }

    /** Times {@code forward} (one warm-up call, then {@code reps}) and compares its targets with {@code reference}. */
    private static float[] teacherRun(String label, java.util.function.Supplier<Tensor> forward, int reps, float[] reference) {
        float[] targets;
        try (PointerScope scope = new PointerScope()) {
            targets = dev.mvp.api.Tensors.toFloats(forward.get());
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            try (PointerScope scope = new PointerScope()) {
                forward.get();
            }
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        String comparison = "";
        if (reference != null) {
            try (PointerScope scope = new PointerScope()) {
                long[] shape = {-1, 512};
                Tensor a = dev.mvp.api.Tensors.ofFloats(targets, targets.length).reshape(shape);
                Tensor b = dev.mvp.api.Tensors.ofFloats(reference, reference.length).reshape(shape);
                Tensor cos = torch.cosine_similarity(a, b, 1, 1e-8);
                double relative = a.sub(b).norm().item_double() / b.norm().item_double();
                comparison = String.format(Locale.ROOT, "; targets vs fp32: token cosine min %.6f mean %.6f, max |diff| "
                                + "%.3e, relative L2 error %.3e", cos.min().item_double(), cos.mean().item_double(),
                        dev.mvp.testing.TensorAssert.maxAbsDiff(a, b), relative);
            }
        }
        System.out.printf(Locale.ROOT, "%s: median %.3f s per forward (min %.3f, %d timed)%s; load %s%n", label, median(t),
                min(t), reps, comparison, loadAverage());
        return targets;
    }

    /** Microseconds per call. */
    static double timePerCall(int n, Runnable r) {
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) r.run();
        return (System.nanoTime() - t) / 1e3 / n;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static double mean(double[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }
}
