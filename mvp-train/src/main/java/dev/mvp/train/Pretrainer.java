package dev.mvp.train;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.LossOutput;
import dev.mvp.api.Recipe;
import dev.mvp.api.Torch;
import dev.mvp.api.ViewSpec;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.LoaderConfig;
import dev.mvp.data.RandomResizedCrop;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pre-training loop, as BEiT's {@code train_one_epoch} and MAE's {@code engine_pretrain}: per step, the teacher's
 * targets on the unmasked view, the student's prediction from the masked view, AdamW with BEiT's parameter groups,
 * warm-up + cosine learning rate, gradient clipping, a checkpoint now and then. Each step runs inside its own
 * {@link PointerScope}, so native memory is released deterministically; only Java numbers cross steps.
 */
public final class Pretrainer {
    private final PretrainConfig config;
    private final Recipe recipe;
    private final ImageDataset data;
    private final RunListener listener;

    private Pretrainer(PretrainConfig config, Recipe recipe, ImageDataset data, RunListener listener) {
        this.config = config;
        this.recipe = recipe;
        this.data = data;
        this.listener = listener;
    }

    /**
     * Runs (or resumes) pre-training.
     *
     * @param recipe   the assembled parts; the student must have been initialised from {@code config.seed()}
     * @param resumeFrom a checkpoint folder (see {@link Checkpoints#resolve}), or {@code null} for a fresh run
     */
    public static RunSummary run(PretrainConfig config, Recipe recipe, ImageDataset data, Path resumeFrom,
                                 RunListener listener) {
        return new Pretrainer(config, recipe, data, listener).run(resumeFrom);
    }

    /** The student's view: BEiT's bicubic RandomResizedCrop output, ImageNet-normalised. */
    public static ViewSpec studentView(int imageSize) {
        return new ViewSpec(imageSize, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    private RunSummary run(Path resumeFrom) {
        Torch.setThreads(config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors());
        Map<String, Module> modules = new LinkedHashMap<>();
        modules.put("backbone.", recipe.backbone().module());
        modules.put("head.", recipe.head().module());
        ParameterGroups groups = ParameterGroups.of(modules);
        AdamW optimizer = Optimizers.adamW(groups, config.lr(), config.weightDecay(), config.beta1(), config.beta2());
        TensorVector parameters = new TensorVector();
        for (Tensor t : groups.all()) parameters.push_back(t);

        TrainingState state = new TrainingState(0, 0, 0, config.seed(), 0, 0, config.runDefinition());
        if (resumeFrom != null) {
            state = Checkpoints.load(resumeFrom, modules, optimizer);
            checkSameRun(resumeFrom, state);
        }
        Checkpoints checkpoints = new Checkpoints(config.out());
        List<ViewSpec> views = List.of(studentView(config.imageSize()), recipe.tokenizer().inputSpec());
        int workers = config.workers() > 0 ? config.workers() : Runtime.getRuntime().availableProcessors();
        LoaderConfig loaderConfig = new LoaderConfig(config.batchSize(), config.seed(), workers, 2,
                config.maxBadFraction(), LoaderConfig.defaults().decoder(), RandomResizedCrop.pretraining(), 0.5,
                state.epoch(), state.batchInEpoch(), listener::warning);

        long startNanos = System.nanoTime();
        try (RunFiles files = RunFiles.open(config.out(), state.step());
             BatchLoader loader = BatchLoader.open(data, views, recipe.masking(), recipe.backbone().gridSize(), loaderConfig)) {
            long total = config.steps() > 0 ? config.steps() : (long) config.epochs() * loader.batchesPerEpoch();
            CosineSchedule lrSchedule = CosineSchedule.learningRate(config.lr(), config.minLr(), total,
                    Math.min(config.warmupSteps(), total));
            files.writeConfig(config, recipe.describe(), environment(total, resumeFrom));
            listener.started(state.step(), total, recipe.describe());

            Stats stats = new Stats();
            long step = state.step();
            long skipped = state.skippedSteps();
            int epoch = state.epoch();
            long batchInEpoch = state.batchInEpoch();
            Path lastCheckpoint = resumeFrom;
            while (step < total) {
                StepMetrics m;
                try (PointerScope scope = new PointerScope()) {
                    long t0 = System.nanoTime();
                    Batch batch = loader.next();
                    long t1 = System.nanoTime();
                    double lr = lrSchedule.at(step);
                    Optimizers.setLearningRate(optimizer, lr);
                    Optimizers.setWeightDecay(optimizer, config.weightDecay());
                    torch.manual_seed(Seeds.mix(config.seed(), step));

                    optimizer.zero_grad();
                    LossOutput out = recipe.forward(batch.view(0), batch.view(1), batch.mask());
                    double loss = out.value().item_double();
                    double gradNorm = Double.NaN;
                    boolean finite = Double.isFinite(loss);
                    if (finite) {
                        out.value().backward();
                        gradNorm = torch.clip_grad_norm_(parameters, config.clipGrad() > 0 ? config.clipGrad() : Double.MAX_VALUE);
                        finite = Double.isFinite(gradNorm);
                    }
                    if (finite) {
                        optimizer.step();
                    } else {
                        skipped++;
                        optimizer.zero_grad();
                        listener.warning("step " + (step + 1) + ": non-finite loss or gradient (loss " + loss
                                + ", grad norm " + gradNorm + "), step skipped");
                    }
                    step++;
                    epoch = batch.epoch();
                    batchInEpoch = batch.batchInEpoch() + 1;
                    if (batchInEpoch == loader.batchesPerEpoch()) {
                        epoch++;
                        batchInEpoch = 0;
                    }
                    long t2 = System.nanoTime();
                    m = new StepMetrics(step, batch.epoch(), loss, out.metric().item_double(), out.metricName(), lr,
                            config.weightDecay(), gradNorm, config.batchSize() / ((t2 - t0) / 1e9), (t1 - t0) / 1e9,
                            (t2 - startNanos) / 1e9, skipped, Memory.residentMiB());
                }
                files.append(m);
                stats.add(m.loss());
                listener.step(m, total);
                boolean periodic = config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0;
                if (periodic || step == total) {
                    TrainingState now = new TrainingState(step, epoch, batchInEpoch, config.seed(), skipped,
                            loader.badFiles() + state.badFiles(), config.runDefinition());
                    lastCheckpoint = checkpoints.save(modules, optimizer, now, config.keepCheckpoints());
                    listener.checkpoint(lastCheckpoint);
                }
            }
            RunSummary summary = new RunSummary(step, stats.first, stats.last, stats.meanFirst(), stats.meanLast(),
                    skipped, loader.badFiles() + state.badFiles(), (System.nanoTime() - startNanos) / 1e9,
                    lastCheckpoint, config.out());
            listener.finished(summary);
            return summary;
        }
    }

    private void checkSameRun(Path checkpoint, TrainingState state) {
        Map<String, String> now = config.runDefinition();
        for (var e : now.entrySet()) {
            String then = state.run() == null ? null : state.run().get(e.getKey());
            if (!e.getValue().equals(then)) {
                throw new IllegalArgumentException("cannot resume " + checkpoint + ": --" + e.getKey() + " was "
                        + then + " in that run, " + e.getValue() + " now");
            }
        }
    }

    private Map<String, Object> environment(long total, Path resumeFrom) {
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("total_steps", total);
        env.put("resumed_from", resumeFrom == null ? null : resumeFrom.toString());
        env.put("torch_threads", Torch.threads());
        env.put("java", Runtime.version().toString());
        env.put("dataset", data.describe());
        env.put("images", data.size());
        return env;
    }

    /** Loss bookkeeping for the summary, in Java numbers. */
    private static final class Stats {
        double first = Double.NaN, last = Double.NaN;
        final ArrayDeque<Double> firstTen = new ArrayDeque<>(), lastTen = new ArrayDeque<>();

        void add(double loss) {
            if (Double.isNaN(first)) first = loss;
            last = loss;
            if (firstTen.size() < 10) firstTen.add(loss);
            lastTen.add(loss);
            if (lastTen.size() > 10) lastTen.removeFirst();
        }

        double meanFirst() {
            return firstTen.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }

        double meanLast() {
            return lastTen.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
    }

    /** Resident memory from /proc (Linux); NaN elsewhere. */
    static final class Memory {
        static double residentMiB() {
            try {
                String[] f = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
                return Long.parseLong(f[1]) * 4096.0 / (1 << 20);
            } catch (Exception e) {
                return Double.NaN;
            }
        }
    }
}
