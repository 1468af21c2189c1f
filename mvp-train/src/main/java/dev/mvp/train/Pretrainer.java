package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.LossOutput;
import dev.mvp.api.Precision;
import dev.mvp.api.Recipe;
import dev.mvp.api.Torch;
import dev.mvp.api.ViewSpec;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoders;
import dev.mvp.models.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The pre-training loop, as BEiT's {@code train_one_epoch} and MAE's {@code engine_pretrain}. Per optimisation step:
 * for each of {@code accumSteps} loader batches, the teacher's targets on the unmasked view (no autograd; optionally
 * with its weights in bf16/fp16, {@link PlacedTeacher}), the student's prediction from the masked view (optionally in
 * bf16 or fp16 autocast) and the backward pass of {@code loss / accumSteps} (times the loss scale in fp16,
 * {@link LossScaler}); then gradient clipping and AdamW with BEiT's parameter groups, its learning rate from the
 * warm-up + cosine schedule and its weight decay from the (optionally cosine) weight-decay schedule. Master weights,
 * gradients and optimiser state are float32 whatever the precision.
 *
 * <p>The run computes on {@link PretrainConfig#device()} ({@link Devices}): the engine moves the recipe's student,
 * head and teacher there in place (and converts the teacher's weights for a reduced teacher precision), so after a
 * run the recipe's parts live there; build a new recipe for a run with other settings.
 *
 * <p>A step whose loss or gradient norm is not finite is skipped: no update, counted, warned, written to
 * {@code metrics.jsonl} with {@code "skipped": true}. Checkpoints due during such a step wait for the next good one,
 * and after {@link PretrainConfig#maxConsecutiveNonFinite()} skipped steps in a row the run stops with a
 * {@link NonFiniteLossException}, its latest checkpoint the last good one.
 *
 * <p>Checkpoints are written every {@link PretrainConfig#checkpointEvery()} steps, at the end of every
 * {@link PretrainConfig#checkpointEveryEpochs()} epochs and at the end of the run (see {@link Checkpoints}).
 *
 * <p>Each step runs inside its own {@link PointerScope} (and each accumulated batch inside a nested one), so native
 * memory is released deterministically; only Java numbers cross steps.
 */
public final class Pretrainer {

    /**
     * Fault injection, for tests of the non-finite path: the chosen steps (0-based) get a NaN loss (before backward)
     * or a NaN gradient (after backward, in the first parameter).
     */
    public interface Faults {
        Faults NONE = new Faults() {};

        default boolean nanLoss(long step) {
            return false;
        }

        default boolean nanGradient(long step) {
            return false;
        }
    }

    private final PretrainConfig config;
    private Recipe recipe; // the caller's, then with the placed teacher
    private final BatchSource.Opener source;
    private final RunListener listener;
    private final Faults faults;

    private Pretrainer(PretrainConfig config, Recipe recipe, BatchSource.Opener source, RunListener listener,
                       Faults faults, boolean allowDataChange) {
        this.allowDataChange = allowDataChange;
        this.config = config;
        this.recipe = recipe;
        this.source = source;
        this.listener = listener;
        this.faults = faults;
    }

    /**
     * Runs (or resumes) pre-training on an image folder.
     *
     * @param recipe     the assembled parts; the student must have been initialised from {@code config.seed()}
     * @param resumeFrom a checkpoint folder (see {@link Checkpoints#resolve}), or {@code null} for a fresh run
     * @throws NonFiniteLossException after {@link PretrainConfig#maxConsecutiveNonFinite()} non-finite steps in a row
     */
    public static RunSummary run(PretrainConfig config, Recipe recipe, ImageDataset data, Path resumeFrom,
                                 RunListener listener) {
        return run(config, recipe, data, resumeFrom, listener, false);
    }

    /**
     * As {@link #run(PretrainConfig, Recipe, ImageDataset, Path, RunListener)}; a resumption on data whose
     * {@link DataIdentity} differs from the one the run recorded at its start is refused
     * ({@link DataIdentity.DataChangedException}) unless {@code allowDataChange}.
     */
    public static RunSummary run(PretrainConfig config, Recipe recipe, ImageDataset data, Path resumeFrom,
                                 RunListener listener, boolean allowDataChange) {
        boolean fixed = config.augmentation() == PretrainConfig.Augmentation.FIXED;
        if (config.teacherCache() == null) {
            return new Pretrainer(config, recipe, BatchSource.images(data, config, recipe, listener::warning, null, fixed),
                    listener, Faults.NONE, allowDataChange).run(resumeFrom);
        }
        int workers = config.workers() > 0 ? config.workers() : Runtime.getRuntime().availableProcessors();
        try (TargetCache cache = TargetCache.openOrBuild(config.teacherCache(), recipe.tokenizer(), data,
                config.teacherCacheFloat16(), workers, ImageDecoders.named(config.decoder()), listener::message)) {
            listener.message("teacher targets from the cache " + cache.dir() + " (" + cache.size() + " images, "
                    + cache.manifest().dtype() + ")");
            return new Pretrainer(config, recipe, BatchSource.images(data, config, recipe, listener::warning, cache, true),
                    listener, Faults.NONE, allowDataChange).run(resumeFrom);
        }
    }

    /** As {@link #run(PretrainConfig, Recipe, ImageDataset, Path, RunListener)} with any batch source and faults. */
    public static RunSummary run(PretrainConfig config, Recipe recipe, BatchSource.Opener source, Path resumeFrom,
                                 RunListener listener, Faults faults) {
        return new Pretrainer(config, recipe, source, listener, faults, false).run(resumeFrom);
    }

    /** The student's view: BEiT's bicubic RandomResizedCrop output, ImageNet-normalised. */
    public static ViewSpec studentView(int imageSize) {
        return new ViewSpec(imageSize, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    /** The modules whose parameters train, by checkpoint prefix. */
    static Map<String, Module> trainedModules(Recipe recipe) {
        Map<String, Module> modules = new LinkedHashMap<>();
        modules.put("backbone.", recipe.backbone().module());
        modules.put("head.", recipe.head().module());
        return modules;
    }

    /** Whether a resumption may use data of another identity than the run's. */
    private final boolean allowDataChange;
    /** The data's identity, taken once per invocation. */
    private DataIdentity identity;
    /** The teacher file's identity, taken once per invocation; null for a teacher that is not a file. */
    private TeacherIdentity teacherIdentity;

    /** The last completed step, for the message of a stopped run. */
    private volatile long lastStep;
    /** Whether a line has been appended to metrics.jsonl by this invocation. */
    private volatile boolean stepWritten;

    private RunSummary run(Path resumeFrom) {
        Path out = config.out();
        boolean existed = Files.exists(out);
        // the folders this run creates above its own (deepest first), removed again if it fails before its first step
        java.util.List<Path> createdAbove = new java.util.ArrayList<>();
        Path top = out.toAbsolutePath().normalize().getParent();
        for (Path p = top; p != null && !Files.exists(p); p = p.getParent()) createdAbove.add(p);
        // one writer per run folder, for the whole run (released however it ends)
        RunLock lock;
        try {
            lock = RunLock.acquire(out);
        } catch (RuntimeException e) {
            // e.g. a name too long: leave none of the (empty) folders made on the way
            java.util.List<Path> made = new java.util.ArrayList<>(createdAbove);
            if (!existed) made.addFirst(out);
            removeEmpty(made);
            throw e;
        }
        // SIGTERM / Ctrl-C: remove the checkpoint being written (if any) and say where the run stands, in one line; a
        // fresh run stopped before its first step leaves no run folder, as one that fails there does
        Thread hook = Checkpoints.Interruption.install(removed -> {
            boolean nothingRun = resumeFrom == null && !stepWritten;
            listener.warning("stopped at step " + lastStep + " (SIGTERM or Ctrl-C)" + (removed.isEmpty() ? ""
                    : "; removed the unfinished checkpoint " + removed.get(0)) + "; " + (nothingRun
                    ? "nothing was trained; removed the run folder's files" : Checkpoints.latest(out).map(c ->
                    "the latest checkpoint is " + c + ": --resume " + out + " continues").orElse("no checkpoint was written")));
            if (nothingRun) {
                removeFailedRun(out, existed);
                removeEmpty(createdAbove);
            }
        });
        try {
            return runWithHook(resumeFrom);
        } catch (RuntimeException | Error e) {
            // a fresh run that failed before its first step leaves no run folder (nor anything that looks like a run)
            if (resumeFrom == null && !stepWritten) {
                removeFailedRun(out, existed);
                removeEmpty(createdAbove);
            }
            throw e;
        } finally {
            Checkpoints.Interruption.uninstall(hook);
            lock.close();
        }
    }

    /** Deletes these folders, deepest first, while they are empty. */
    private static void removeEmpty(java.util.List<Path> folders) {
        for (Path p : folders) {
            try {
                Files.deleteIfExists(p);
            } catch (java.io.IOException | RuntimeException notEmpty) {
                return;
            }
        }
    }

    /**
     * Removes what a fresh run that failed before its first step wrote: {@code config.json}, {@code metrics.jsonl},
     * an empty {@code checkpoints/}, and the run folder itself when that leaves it empty.
     */
    private static void removeFailedRun(Path out, boolean existed) {
        try {
            Files.deleteIfExists(out.resolve("config.json"));
            Files.deleteIfExists(out.resolve("metrics.jsonl"));
            Files.deleteIfExists(out.resolve(RunLock.FILE));
            Path checkpoints = out.resolve("checkpoints");
            if (Files.isDirectory(checkpoints)) {
                new Checkpoints(out).removeIncomplete();
                try (var s = Files.list(checkpoints)) {
                    if (s.findAny().isEmpty()) Files.delete(checkpoints);
                }
            }
            if (!existed || Files.isDirectory(out)) {
                try (var s = Files.list(out)) {
                    if (s.findAny().isEmpty()) Files.delete(out);
                }
            }
        } catch (java.io.IOException | RuntimeException ignored) {
            // best effort: the run's own error is what the user needs to see
        }
    }

    private RunSummary runWithHook(Path resumeFrom) {
        Torch.setThreads(config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors());
        ComputeDevice device = config.device();
        Devices.requireAvailable(device);
        Device torchDevice = device.torchDevice();
        Map<String, Module> modules = trainedModules(recipe);
        // before the optimiser exists, so that its state is made on the device
        for (Module m : modules.values()) Devices.move(m, torchDevice, null);
        PlacedTeacher teacher = PlacedTeacher.place(recipe.tokenizer(), device, config.teacherPrecision());
        recipe = Recipe.of(recipe.name(), teacher, recipe.masking(), recipe.backbone(), recipe.head(), recipe.loss());
        // modules start in training mode (drop path needs it). Not m.train(true): Module.train is virtual and recurses
        // into children whose Java peers may have been collected (docs/LIBTORCH-NOTES.md, "Modules")
        ParameterGroups groups = ParameterGroups.of(modules);
        AdamW optimizer = Optimizers.adamW(groups, config.lr(), config.weightDecay(), config.beta1(), config.beta2());
        TensorVector parameters = new TensorVector();
        for (Tensor t : groups.all()) parameters.push_back(t);
        // the vector holds its own references; the tensors of named_parameters() point into a dictionary that dies
        Tensor firstParameter = parameters.get(0);

        TrainingState state = new TrainingState(0, 0, 0, config.seed(), 0, 0, config.runDefinition());
        Checkpoints checkpoints = new Checkpoints(config.out());
        boolean rewind = false;
        if (resumeFrom != null) {
            boolean sameRun = Checkpoints.runOf(resumeFrom).map(r -> Checkpoints.sameFolder(r, config.out())).orElse(false);
            if (!sameRun && Checkpoints.latest(config.out()).isPresent()) {
                throw new IllegalArgumentException("cannot resume " + resumeFrom + " into " + config.out()
                        + ": that folder holds another run; resume a checkpoint into its own run folder");
            }
            // the flags first (another --img-size is named as such), then every file, before any step
            checkSameRun(resumeFrom, Checkpoints.readState(resumeFrom));
            checkTeacher(resumeFrom, Checkpoints.readState(resumeFrom));
            // state.json's own fields before any file is loaded; against the run's length once the data is open
            Checkpoints.checkState(resumeFrom, Checkpoints.readState(resumeFrom));
            state = Checkpoints.load(resumeFrom, modules, optimizer, device);
            rewind = sameRun;
            lastStep = state.step();
        }
        int incomplete = rewind ? 0 : checkpoints.removeIncomplete();
        if (incomplete > 0) {
            listener.warning("removed " + incomplete + " incomplete checkpoint file(s) left in " + checkpoints.dir()
                    + " by an interrupted run");
        }
        Map<String, Object> modelInfo = modelInfo();
        int accum = config.accumSteps();
        // fp16 only with dynamic loss scaling; a resumed run continues its scaler
        LossScaler scaler = config.precision() != Precision.FP16 ? null : state.lossScale() > 0
                ? new LossScaler((float) state.lossScale(), state.lossScaleGrowthTracker(), LossScaler.GROWTH_INTERVAL)
                : new LossScaler();

        long startNanos = System.nanoTime();
        final TrainingState resumed = state;
        // a resumed run that is already complete writes nothing (files stays null): not config.json, not metrics.jsonl
        try (BatchSource batches = source.open(state.epoch(), state.batchInEpoch());
             RunFiles files = openRunFiles(batches, state, resumeFrom, rewind, checkpoints)) {
            int perEpoch = batches.batchesPerEpoch();
            long total = config.totalSteps(perEpoch);
            if (total < 1) {
                throw new IllegalArgumentException(config.epochs() + " epoch(s) of " + perEpoch + " batches of "
                        + config.batchSize() + " make no optimisation step with --accum-steps " + accum);
            }
            if (files == null) {
                RunSummary complete = new RunSummary(resumed.step(), Double.NaN,
                        RunFiles.lastLoss(config.out(), resumed.step()), Double.NaN, Double.NaN, resumed.skippedSteps(),
                        resumed.badFiles(), (System.nanoTime() - startNanos) / 1e9, resumeFrom, config.out(), 0, 0, total);
                listener.finished(complete);
                return complete;
            }
            long warmup = config.warmupStepsFor(perEpoch);
            if (warmup >= total && resumeFrom == null) {
                listener.warning("the warm-up (" + (config.warmupEpochs() > 0 ? config.warmupEpochs() + " epochs" : config.warmupSteps()
                        + " steps") + ") is not shorter than the run's " + total + " steps: the lr rises for the whole run "
                        + "and never decays (--warmup-steps/--warmup-epochs)");
            }
            CosineSchedule lrSchedule = CosineSchedule.learningRate(config.lr(), config.minLr(), total, warmup);
            // BEiT's weight-decay schedule: cosine from weight_decay to weight_decay_end, no warm-up
            CosineSchedule wdSchedule = new CosineSchedule(config.weightDecay(), config.weightDecayEnd(), total, 0,
                    config.weightDecay());
            files.writeConfig(config, recipe.describe(), environment(batches, total, warmup, resumeFrom),
                    resumeFrom != null);
            listener.started(state.step(), total, recipe.describe());

            Stats stats = new Stats();
            long step = state.step();
            long skipped = state.skippedSteps();
            int epoch = state.epoch();
            long batchInEpoch = state.batchInEpoch();
            int inARow = 0;
            boolean checkpointDue = false;
            Path lastCheckpoint = resumeFrom;
            while (step < total) {
                StepMetrics m;
                boolean epochCompleted = false;
                long t0 = System.nanoTime();
                try (PointerScope scope = new PointerScope()) {
                    double lr = lrSchedule.at(step);
                    double wd = wdSchedule.at(step);
                    Optimizers.setLearningRate(optimizer, lr);
                    Optimizers.setWeightDecay(optimizer, wd);
                    torch.manual_seed(Seeds.mix(config.seed(), step));
                    optimizer.zero_grad();

                    double lossSum = 0, metricSum = 0;
                    String metricName = "";
                    boolean finite = true;
                    long waitNanos = 0;
                    int stepEpoch = epoch;
                    float scale = scaler == null ? Float.NaN : scaler.scale();
                    for (int micro = 0; micro < accum; micro++) {
                        try (PointerScope microScope = new PointerScope()) {
                            long w0 = System.nanoTime();
                            BatchSource.Item batch = batches.next();
                            waitNanos += System.nanoTime() - w0;
                            if (micro == 0) stepEpoch = batch.epoch();
                            Tensor targets = batch.targets(); // from a TargetCache, if the source has one
                            targets = targets != null ? Devices.onDevice(targets, device, torchDevice)
                                    : teacher.targets(Devices.onDevice(batch.teacherView(), device, torchDevice));
                            LossOutput out;
                            try (Autocast autocast = Autocast.of(config.precision(), device)) {
                                out = recipe.forwardWithTargets(Devices.onDevice(batch.studentView(), device, torchDevice),
                                        targets, Devices.onDevice(batch.mask(), device, torchDevice));
                            }
                            Tensor loss = out.value();
                            if (faults.nanLoss(step)) loss = loss.mul(new Scalar(Double.NaN));
                            double value = loss.item_double();
                            lossSum += value;
                            metricSum += out.metric().item_double();
                            metricName = out.metricName();
                            if (!Double.isFinite(value)) finite = false;
                            // once a batch of this step is bad, the step is skipped: spare the later backward passes
                            if (finite) {
                                Tensor scaled = accum == 1 ? loss : loss.div(new Scalar((double) accum));
                                (scaler == null ? scaled : scaler.scale(scaled)).backward();
                            }

                            epoch = batch.epoch();
                            batchInEpoch = batch.batchInEpoch() + 1;
                            if (batchInEpoch == perEpoch) {
                                epochCompleted = true;
                                epoch++;
                                batchInEpoch = 0;
                            }
                        }
                    }
                    double gradNorm = Double.NaN;
                    if (finite) {
                        if (faults.nanGradient(step)) firstParameter.grad().fill_(new Scalar(Double.NaN));
                        if (scaler != null) scaler.unscale(parameters);
                        // not finite exactly when a gradient holds an infinity or NaN (GradScaler's found_inf)
                        // no clipping: the largest float32 (libtorch converts max_norm to float32, and refuses
                        // Double.MAX_VALUE as an overflow)
                        gradNorm = torch.clip_grad_norm_(parameters, config.clipGrad() > 0 ? config.clipGrad() : Float.MAX_VALUE);
                        finite = Double.isFinite(gradNorm);
                    }
                    double loss = lossSum / accum;
                    if (scaler != null) scaler.update(!finite); // as GradScaler: any skipped step backs the scale off
                    if (finite) {
                        optimizer.step();
                        inARow = 0;
                    } else {
                        optimizer.zero_grad();
                        skipped++;
                        inARow++;
                        listener.warning(String.format("step %d: non-finite %s (loss %s, grad norm %s%s), step skipped "
                                        + "(%d in a row, %d in this run; the run stops at %d in a row)", step + 1,
                                Double.isFinite(loss) ? "gradient" : "loss", loss, gradNorm,
                                scaler == null ? "" : ", fp16 loss scale " + scale + " lowered to " + scaler.scale(),
                                inARow, skipped, config.maxConsecutiveNonFinite()));
                    }
                    step++;
                    m = new StepMetrics(step, stepEpoch, loss, metricSum / accum, metricName, lr, wd, gradNorm,
                            !finite, skipped, Double.NaN, waitNanos / 1e9, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                            scaler == null ? null : (double) scale);
                }
                // the step's time includes releasing its tensors (the scope's close)
                long t1 = System.nanoTime();
                double seconds = (t1 - t0) / 1e9;
                m = new StepMetrics(m.step(), m.epoch(), m.loss(), m.metric(), m.metricName(), m.lr(), m.weightDecay(),
                        m.gradNorm(), m.skipped(), m.skippedSteps(), config.effectiveBatchSize() / seconds, m.dataWaitS(),
                        seconds, (t1 - startNanos) / 1e9, Memory.residentMiB(), Memory.heapMiB(), m.lossScale());
                files.append(m);
                stepWritten = true;
                lastStep = m.step();
                if (!m.skipped()) stats.add(m.loss());
                listener.step(m, total);

                if (inARow >= config.maxConsecutiveNonFinite()) {
                    String message = String.format("stopped at step %d: %d steps in a row had a non-finite loss or "
                                    + "gradient (%d skipped in this run); %s. Lower --lr, lengthen the warm-up or check the "
                                    + "data, then resume", step, inARow, skipped,
                            lastCheckpoint == null ? "no checkpoint was written"
                                    : "the latest checkpoint, " + lastCheckpoint + ", is from before them");
                    throw new NonFiniteLossException(message, step, lastCheckpoint);
                }
                boolean periodic = config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0;
                boolean epochEnd = epochCompleted && config.checkpointEveryEpochs() > 0
                        && epoch % config.checkpointEveryEpochs() == 0;
                checkpointDue |= periodic || epochEnd;
                // a checkpoint never follows a skipped step (the last good one stays the latest), except the final one
                if ((checkpointDue && !m.skipped()) || step == total) {
                    TrainingState now = new TrainingState(step, epoch, batchInEpoch, config.seed(), skipped,
                            batches.badFiles() + state.badFiles(), config.runDefinition(),
                            scaler == null ? 0 : scaler.scale(), scaler == null ? 0 : scaler.growthTracker());
                    lastCheckpoint = checkpoints.save(modules, optimizer, now, modelInfo, config.keepCheckpoints(), device);
                    checkpointDue = false;
                    listener.checkpoint(lastCheckpoint);
                }
            }
            RunSummary summary = new RunSummary(step, stats.first, stats.last, stats.meanFirst(), stats.meanLast(),
                    skipped, batches.badFiles() + state.badFiles(), (System.nanoTime() - startNanos) / 1e9,
                    lastCheckpoint, config.out(), step - state.step(), stats.firstTen.size(), total);
            listener.finished(summary);
            return summary;
        }
    }

    /**
     * Opens the run's files, or returns null for a resumed run that is already complete (it writes nothing). A resumed
     * checkpoint is first checked against the run's length (its step at most the total, its position within an
     * epoch), and only then is the run rewound to it (later checkpoints deleted, later metrics lines dropped): a
     * checkpoint that cannot be resumed leaves the run as it was.
     */
    private RunFiles openRunFiles(BatchSource batches, TrainingState state, Path resumeFrom, boolean rewind,
                                  Checkpoints checkpoints) {
        if (resumeFrom == null) {
            identity = batches.identity();
            return RunFiles.open(config.out(), state.step());
        }
        identity = batches.identity();
        DataIdentity recorded = RunFiles.recordedIdentity(config.out());
        if (identity != null && recorded != null && !identity.sameData(recorded)) {
            String what = "--data " + identity.data() + " (" + identity.images() + " images) is not the data of the run "
                    + config.out() + " (" + recorded.data() + ", " + recorded.images() + " images"
                    + (identity.images() == recorded.images() ? "; other files or labels" : "") + ")";
            if (!allowDataChange) {
                throw new DataIdentity.DataChangedException("cannot resume " + resumeFrom + ": " + what
                        + "; pass --allow-data-change to resume on it anyway");
            }
            listener.warning(what + "; resuming on it (--allow-data-change)");
        }
        int perEpoch = batches.batchesPerEpoch();
        long total = config.totalSteps(perEpoch);
        Path file = resumeFrom.resolve("state.json");
        if (total >= 1 && state.step() > total) {
            throw new IllegalArgumentException("cannot resume from " + file + ": step " + state.step()
                    + " is past the run's last step " + total);
        }
        if (perEpoch > 0 && state.batchInEpoch() >= perEpoch) {
            throw new IllegalArgumentException("cannot resume from " + file + ": batch " + state.batchInEpoch()
                    + " of an epoch of " + perEpoch + " batches");
        }
        if (rewind) {
            var discarded = checkpoints.rewindTo(resumeFrom);
            if (!discarded.isEmpty()) {
                listener.warning("resuming from " + resumeFrom.getFileName() + " discards the run's later "
                        + "checkpoint(s) " + String.join(", ", discarded) + " and their metrics lines");
            }
            int incomplete = checkpoints.removeIncomplete();
            if (incomplete > 0) {
                listener.warning("removed " + incomplete + " incomplete checkpoint file(s) left in " + checkpoints.dir()
                        + " by an interrupted run");
            }
        }
        return state.step() >= total ? null : RunFiles.open(config.out(), state.step());
    }

    /** A resumption whose run definition (lr, batch size, recipe, image size, ...) is not the checkpoint's. */
    public static final class RunChangedException extends IllegalArgumentException {
        RunChangedException(String message) {
            super(message);
        }
    }

    private void checkSameRun(Path checkpoint, TrainingState state) {
        Map<String, String> now = config.runDefinition();
        for (var e : now.entrySet()) {
            // a teacher file is identified by its content, wherever it is (checkTeacher)
            if (e.getKey().equals("teacher") && TeacherIdentity.isFile(e.getValue())) continue;
            String then = state.run() == null ? null : state.run().get(e.getKey());
            if (!e.getValue().equals(then)) {
                throw new RunChangedException("cannot resume " + checkpoint + ": --" + e.getKey() + " was "
                        + then + " in that run, " + e.getValue() + " now");
            }
        }
    }

    /**
     * A teacher file is the run's if it has the identity the run recorded most recently (at another path too);
     * a run that recorded none (older, or forked into a folder without config.json) needs the same path, or the
     * same file under another name.
     */
    private void checkTeacher(Path checkpoint, TrainingState state) {
        String now = config.teacher();
        if (!TeacherIdentity.isFile(now)) return; // a keyword (random) or a missing file: checkSameRun / Recipes say so
        teacherIdentity = TeacherIdentity.of(Path.of(now));
        String then = state.run() == null ? null : state.run().get("teacher");
        TeacherIdentity recorded = RunFiles.recordedTeacher(config.out());
        if (recorded != null) {
            if (!teacherIdentity.sameFile(recorded)) {
                throw new TeacherIdentity.TeacherChangedException("cannot resume " + checkpoint + ": --teacher "
                        + teacherIdentity.path() + " (" + teacherIdentity.size() + " bytes, SHA-256 "
                        + teacherIdentity.sha256().substring(0, 12) + ") is not the teacher of the run " + config.out()
                        + " (" + recorded.path() + ", " + recorded.size() + " bytes, SHA-256 "
                        + recorded.sha256().substring(0, 12) + ")");
            }
            return;
        }
        boolean same = now.equals(then);
        if (!same && then != null && Files.isRegularFile(Path.of(then))) {
            try {
                same = Files.isSameFile(Path.of(then), Path.of(now));
            } catch (java.io.IOException e) {
                same = false;
            }
        }
        if (!same) {
            throw new IllegalArgumentException("cannot resume " + checkpoint + ": --teacher was " + then
                    + " in that run, " + now + " now");
        }
    }

    /** What a checkpoint's {@code model.json} holds: enough to rebuild (and export) the student and the head. */
    private Map<String, Object> modelInfo() {
        Map<String, Object> backbone = new LinkedHashMap<>();
        if (recipe.backbone() instanceof VisionTransformer vit) {
            backbone.put("type", "vit");
            backbone.put("config", vit.config());
        } else {
            backbone.put("type", recipe.backbone().getClass().getName());
        }
        backbone.put("description", recipe.backbone().description());
        backbone.put("prefix", "backbone.");
        Map<String, Object> head = new LinkedHashMap<>();
        head.put("type", "linear");
        head.put("inputDim", recipe.head().inputDim());
        head.put("outputDim", recipe.head().outputDim());
        head.put("prefix", "head.");
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("format", "mvp-checkpoint/1");
        info.put("backbone", backbone);
        info.put("head", head);
        info.put("teacher", recipe.tokenizer().name());
        info.put("targets", recipe.tokenizer().targetSpec().toString());
        info.put("recipe", recipe.describe().lines().map(String::strip).toList());
        return info;
    }

    private Map<String, Object> environment(BatchSource batches, long total, long warmup, Path resumeFrom) {
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("total_steps", total);
        env.put("warmup_steps", warmup);
        env.put("batches_per_epoch", batches.batchesPerEpoch());
        env.put("steps_per_epoch", config.stepsPerEpoch(batches.batchesPerEpoch()));
        env.put("effective_batch_size", config.effectiveBatchSize());
        env.put("lr_rule", config.lrRule());
        env.put("resumed_from", resumeFrom == null ? null : resumeFrom.toString());
        env.put("torch_threads", Torch.threads());
        env.put("device", config.device().toString());
        env.put("java", Runtime.version().toString());
        env.put("dataset", batches.describe());
        env.put("decoder", ImageDecoders.resolve(config.decoder()));
        env.put("images", batches.images());
        if (identity != null) env.put("data_identity", identity);
        if (teacherIdentity == null && resumeFrom == null && TeacherIdentity.isFile(config.teacher())) {
            teacherIdentity = TeacherIdentity.of(Path.of(config.teacher()));
        }
        if (teacherIdentity != null) env.put("teacher_identity", teacherIdentity);
        return env;
    }

    /** Loss bookkeeping for the summary, in Java numbers (finite losses of good steps only). */
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

    /** Process memory, in MiB. */
    static final class Memory {
        /** Resident memory from /proc (Linux); NaN elsewhere. */
        static double residentMiB() {
            try {
                String[] f = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
                return Long.parseLong(f[1]) * 4096.0 / (1 << 20);
            } catch (Exception e) {
                return Double.NaN;
            }
        }

        /** Java heap in use. */
        static double heapMiB() {
            Runtime r = Runtime.getRuntime();
            return (r.totalMemory() - r.freeMemory()) / (double) (1 << 20);
        }
    }
}
