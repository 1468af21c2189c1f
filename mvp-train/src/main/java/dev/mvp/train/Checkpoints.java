package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.api.ComputeDevice;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Checkpoints of a run, in {@code <run>/checkpoints/}:
 * <pre>
 * step-00000020/        one complete checkpoint
 *   model.safetensors   student as backbone.*, head as head.* (fp32, timm-style names); its metadata holds
 *                       {@code format=mvp-checkpoint}, {@code step} and {@code model} (model.json, compact)
 *   model.json          what rebuilds the parts without the run: {@code backbone.type} ({@code vit}) and
 *                       {@code backbone.config} (a {@code VitConfig}, camelCase record fields), {@code head} sizes,
 *                       the teacher and the recipe; with it the backbone alone can be exported (keys
 *                       {@code backbone.*} with the prefix stripped are timm's names)
 *   optimizer.pt        libtorch's AdamW state (moments, step counts, per-group options)
 *   rng.safetensors     libtorch's CPU generator state ({@code torch_cpu_generator}), and on a CUDA device that
 *                       device's generator state too ({@code torch_cuda_generator})
 *   state.json          {@link TrainingState}: step, epoch and position in it, skipped steps, the run definition,
 *                       the float16 loss scaler's state
 * latest                the name of the newest complete checkpoint
 * </pre>
 * The learning-rate and weight-decay schedules are closed-form functions of the step, so the step is their state;
 * the loss scaler (float16 only) is in {@code state.json}. The data order, crops, flips and masks are functions of
 * (seed, epoch, position), so the position is their state.
 *
 * <p><b>Devices.</b> Every tensor is written as a CPU tensor, whatever device the run computes on, and a checkpoint
 * loads onto either device: weights are copied into the live modules wherever they are, the optimiser state is read
 * onto the run's device. A CUDA run's optimiser state goes through a CPU twin of the optimiser to reach the file
 * ({@link #saveOptimizer}).
 * Writes are atomic: a checkpoint is assembled in a temporary folder, flushed to disk, then renamed; {@code latest}
 * is replaced by rename only after that. A run killed at any moment leaves the previous checkpoint as the latest.
 */
public final class Checkpoints {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper COMPACT = new ObjectMapper();
    private static final String LATEST = "latest";
    private static final String CPU_GENERATOR = "torch_cpu_generator";
    private static final String CUDA_GENERATOR = "torch_cuda_generator";

    /**
     * Called while a checkpoint is half written (its weights are in the temporary folder, nothing else), with its
     * step: a seam for the test that kills a run at that moment. Does nothing otherwise.
     */
    static volatile java.util.function.LongConsumer midWriteHook = step -> {};

    private final Path dir;

    public Checkpoints(Path runDir) {
        this.dir = runDir.resolve("checkpoints");
    }

    /**
     * Deletes what a killed writer left: temporary checkpoint folders and {@code latest} files (named
     * {@code *.tmp-<pid>}). Call before writing to a run folder that no other process writes to. Returns how many.
     */
    public int removeIncomplete() {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> stale = s.filter(p -> p.getFileName().toString().matches(".+\\.tmp-\\d+")).toList();
            for (Path p : stale) deleteRecursively(p);
            return stale.size();
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot clean", dir, e), e);
        }
    }

    public Path dir() {
        return dir;
    }

    /**
     * Writes a checkpoint and makes it the latest; keeps the newest {@code keep} ones. Returns its folder.
     *
     * @param model what {@code model.json} holds (see the class comment); serialised with Jackson
     */
    public Path save(Map<String, Module> modules, AdamW optimizer, TrainingState state, Map<String, ?> model, int keep) {
        return save(modules, optimizer, state, model, keep, ComputeDevice.CPU);
    }

    /**
     * As {@link #save(Map, AdamW, TrainingState, Map, int)} for a run on {@code device}. Every file goes through
     * Java I/O (the optimiser archive too, {@link #writeArchive}), so a full disk or any other write error is an
     * {@link UncheckedIOException} with a one-line message ("cannot write checkpoint DIR: no space left on device"),
     * never a crash; the temporary folder is then removed and the previous checkpoint stays the latest.
     */
    public Path save(Map<String, Module> modules, AdamW optimizer, TrainingState state, Map<String, ?> model, int keep,
                     ComputeDevice device) {
        String name = String.format("step-%08d", state.step());
        Path target = dir.resolve(name);
        Path tmp = dir.resolve(name + ".tmp-" + ProcessHandle.current().pid());
        boolean done = false;
        try {
            Files.createDirectories(dir);
            deleteRecursively(tmp);
            Files.createDirectories(tmp);
            Interruption.writing(tmp);
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> weights = new LinkedHashMap<>();
                modules.forEach((prefix, m) -> StateDict.of(m).forEach((k, v) -> weights.put(prefix + k, v)));
                SafeTensorsWriter.write(tmp.resolve("model.safetensors"), weights,
                        Map.of("format", "mvp-checkpoint", "step", Long.toString(state.step()),
                                "model", COMPACT.writeValueAsString(model)));
                midWriteHook.accept(state.step());
                Map<String, Tensor> rng = new LinkedHashMap<>();
                rng.put(CPU_GENERATOR, torch.getDefaultCPUGenerator().get_state());
                if (device.kind() == ComputeDevice.Kind.CUDA) {
                    rng.put(CUDA_GENERATOR, torch.globalContext().defaultGenerator(device.torchDevice()).get_state());
                }
                SafeTensorsWriter.write(tmp.resolve("rng.safetensors"), rng, Map.of());
                saveOptimizer(optimizer, tmp.resolve("optimizer.pt"), device);
            }
            Files.writeString(tmp.resolve("model.json"), JSON.writeValueAsString(model));
            Files.writeString(tmp.resolve("state.json"), JSON.writeValueAsString(state));
            fsyncTree(tmp);
            // a SIGTERM (shutdown hook) either waits for the rename and `latest`, or stops the checkpoint before them
            synchronized (Interruption.LOCK) {
                if (Interruption.stopping) throw new IOException("the run is being stopped");
                if (Files.exists(target)) deleteRecursively(target);
                move(tmp, target);
                writeAtomically(dir.resolve(LATEST), name + "\n");
                Interruption.written(tmp);
            }
            done = true;
            prune(keep);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + reason(e), e);
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + reason(e.getCause()), e.getCause());
        } finally {
            if (!done) {
                try {
                    deleteRecursively(tmp);
                } catch (IOException | RuntimeException ignored) {
                    // the write error matters more; the next run on the folder removes what is left
                }
                Interruption.written(tmp);
            }
        }
    }

    /**
     * The cause of an I/O error in words, without Java class names: {@code no space left on device},
     * {@code permission denied: FILE}, ...
     */
    static String reason(Throwable e) {
        if (e instanceof AccessDeniedException a) return "permission denied: " + a.getFile();
        if (e instanceof NoSuchFileException n) return "no such file or folder: " + n.getFile();
        String text = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : e.getMessage();
        if (text == null || text.isBlank()) text = e.getClass().getSimpleName();
        text = text.lines().findFirst().orElse(text).strip();
        return text.length() > 1 && Character.isUpperCase(text.charAt(0)) && Character.isLowerCase(text.charAt(1))
                ? Character.toLowerCase(text.charAt(0)) + text.substring(1) : text;
    }

    /**
     * Temporary checkpoint folders being written, and the shutdown hook that removes them when the process is
     * stopped (SIGTERM, Ctrl-C): {@link #install} while a run lives, {@link #uninstall} when it ends.
     */
    static final class Interruption {
        static final Object LOCK = new Object();
        static boolean stopping;
        private static final Set<Path> writing = new LinkedHashSet<>();

        private Interruption() {}

        static void writing(Path tmp) {
            synchronized (LOCK) {
                writing.add(tmp);
            }
        }

        static void written(Path tmp) {
            synchronized (LOCK) {
                writing.remove(tmp);
            }
        }

        /**
         * A shutdown hook that stops checkpoint writing, removes the temporary folders (waiting for a checkpoint
         * being renamed into place to finish) and then gives them to {@code after} (e.g. to print one line). Returns the hook,
         * for {@link #uninstall}.
         */
        static Thread install(java.util.function.Consumer<List<Path>> after) {
            Thread hook = new Thread(() -> {
                List<Path> removed = new ArrayList<>();
                synchronized (LOCK) {
                    stopping = true;
                    for (Path tmp : writing) {
                        // the writer may still be adding files: try a few times
                        for (int attempt = 0; attempt < 5 && Files.exists(tmp); attempt++) {
                            try {
                                deleteRecursively(tmp);
                            } catch (IOException | RuntimeException again) {
                                Thread.onSpinWait();
                            }
                        }
                        removed.add(tmp);
                    }
                    writing.clear();
                }
                after.accept(removed);
            }, "mvp-checkpoint-cleanup");
            Runtime.getRuntime().addShutdownHook(hook);
            return hook;
        }

        static void uninstall(Thread hook) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    /**
     * The checkpoint folder a {@code --resume} argument names: a checkpoint folder itself (holding state.json), or a
     * run folder whose {@code checkpoints/latest} names one.
     */
    public static Path resolve(Path resumeArg) {
        if (Files.isRegularFile(resumeArg.resolve("state.json"))) return resumeArg;
        Path latest = resumeArg.resolve("checkpoints").resolve(LATEST);
        if (!Files.isRegularFile(latest)) latest = resumeArg.resolve(LATEST);
        if (!Files.isRegularFile(latest)) {
            throw new IllegalArgumentException("--resume " + resumeArg + ": no checkpoint there (expected state.json or checkpoints/latest)");
        }
        try {
            Path ckpt = latest.getParent().resolve(Files.readString(latest).trim());
            if (!Files.isRegularFile(ckpt.resolve("state.json"))) {
                throw new IllegalArgumentException("--resume " + resumeArg + ": latest points to " + ckpt + ", which is incomplete");
            }
            return ckpt;
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", latest, e), e);
        }
    }

    /**
     * The run folder a checkpoint belongs to: {@code RUN} for {@code RUN/checkpoints/step-N}; empty for a checkpoint
     * folder that is not inside a run's {@code checkpoints/} folder.
     */
    public static java.util.Optional<Path> runOf(Path checkpoint) {
        Path parent = checkpoint.toAbsolutePath().normalize().getParent();
        if (parent == null || parent.getParent() == null || parent.getFileName() == null
                || !parent.getFileName().toString().equals("checkpoints")) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(parent.getParent());
    }

    /** Whether two paths name the same folder (the same file when both exist, the same absolute path otherwise). */
    public static boolean sameFolder(Path a, Path b) {
        try {
            if (Files.exists(a) && Files.exists(b)) return Files.isSameFile(a, b);
        } catch (IOException e) {
            // compare the paths
        }
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    /**
     * Makes {@code checkpoint} (a complete checkpoint of this run) the latest and deletes the run's newer ones: a run
     * resumed from an earlier checkpoint abandons what followed it (its metrics lines are dropped too,
     * {@link RunFiles#open}), which would otherwise mix with the new trajectory. Returns the names deleted.
     */
    List<String> rewindTo(Path checkpoint) {
        String name = checkpoint.getFileName().toString();
        List<String> newer;
        try (Stream<Path> s = Files.list(dir)) {
            newer = s.map(p -> p.getFileName().toString()).filter(n -> n.matches("step-\\d+") && n.compareTo(name) > 0)
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + reason(e), e);
        }
        try {
            Path latest = dir.resolve(LATEST);
            if (!newer.isEmpty() || !Files.isRegularFile(latest) || !Files.readString(latest).trim().equals(name)) {
                writeAtomically(dir.resolve(LATEST), name + "\n");
            }
            for (String n : newer) deleteRecursively(dir.resolve(n));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rewind " + dir + " to " + name + ": " + reason(e), e);
        }
        return newer;
    }

    /** The newest complete checkpoint of a run folder, if any. */
    public static java.util.Optional<Path> latest(Path runDir) {
        Path latest = runDir.resolve("checkpoints").resolve(LATEST);
        if (!Files.isRegularFile(latest)) return java.util.Optional.empty();
        return java.util.Optional.of(resolve(runDir));
    }

    /** Reads {@code model.json} of a checkpoint folder (see the class comment). */
    public static com.fasterxml.jackson.databind.JsonNode readModel(Path checkpoint) {
        Path file = checkpoint.resolve("model.json");
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e), e);
        }
    }

    /** Reads the training state of a checkpoint folder. */
    public static TrainingState readState(Path checkpoint) {
        Path file = checkpoint.resolve("state.json");
        try {
            return JSON.readValue(file.toFile(), TrainingState.class);
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e), e);
        }
    }

    /**
     * Checks what {@code state.json} says on its own, before anything is loaded or any file of the run changed: a
     * step of at least 1 equal to the folder's number ({@code step-00000006} holds step 6), a non-negative epoch,
     * position, seed-independent counts and loss scale. Each error is one line naming the file.
     */
    public static void checkState(Path checkpoint, TrainingState state) {
        Path file = checkpoint.resolve("state.json");
        String bad = null;
        if (state.step() < 1) bad = "step " + state.step() + " (a checkpoint is written after step 1 or later)";
        else if (state.epoch() < 0) bad = "negative epoch " + state.epoch();
        else if (state.batchInEpoch() < 0) bad = "negative batchInEpoch " + state.batchInEpoch();
        else if (state.skippedSteps() < 0 || state.skippedSteps() > state.step()) {
            bad = "skippedSteps " + state.skippedSteps() + " of " + state.step() + " steps";
        } else if (state.badFiles() < 0) bad = "negative badFiles " + state.badFiles();
        else if (!(state.lossScale() >= 0) || Double.isInfinite(state.lossScale()) || state.lossScaleGrowthTracker() < 0) {
            bad = "loss scale " + state.lossScale() + " (good steps " + state.lossScaleGrowthTracker() + ")";
        }
        if (bad == null) {
            String name = checkpoint.getFileName() == null ? "" : checkpoint.getFileName().toString();
            var m = java.util.regex.Pattern.compile("step-(\\d+)").matcher(name);
            if (m.matches() && !m.group(1).equals(String.format("%08d", state.step()))
                    && !(m.group(1).length() > 8 && Long.parseLong(m.group(1)) == state.step())) {
                bad = "step " + state.step() + " in the folder of step " + Long.parseLong(m.group(1));
            }
        }
        if (bad != null) throw new IllegalArgumentException("cannot resume from " + file + ": " + bad);
    }

    /** Loads weights, optimiser state and the libtorch generator state of a checkpoint into a live CPU run. */
    public static TrainingState load(Path checkpoint, Map<String, Module> modules, AdamW optimizer) {
        return load(checkpoint, modules, optimizer, ComputeDevice.CPU);
    }

    /**
     * Loads a checkpoint (written on any device) into a live run on {@code device}: weights copied into the modules,
     * the optimiser state read onto {@code device}, the CPU generator's state, and the CUDA generator's when both the
     * checkpoint and the run have one (it is re-seeded every step anyway, so its absence changes nothing).
     */
    public static TrainingState load(Path checkpoint, Map<String, Module> modules, AdamW optimizer, ComputeDevice device) {
        TrainingState state = readState(checkpoint);
        try (SafeTensorsFile weights = SafeTensorsFile.open(checkpoint.resolve("model.safetensors"))) {
            modules.forEach((prefix, m) -> StateDict.load(m, weights, prefix));
        }
        // checked in full before anything is loaded into the optimiser: a mismatch would otherwise fail in a step
        Path optimizerFile = checkpoint.resolve("optimizer.pt");
        try (PointerScope scope = new PointerScope()) {
            InputArchive archive = readOptimizerArchive(optimizerFile, device);
            checkOptimizerState(archive, optimizer, parameterNames(modules), optimizerFile);
            try {
                optimizer.load(archive);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot resume from " + optimizerFile + ": " + Checkpoints.firstLine(e));
            }
        }
        Path rngFile = checkpoint.resolve("rng.safetensors");
        try (SafeTensorsFile rng = SafeTensorsFile.open(rngFile);
             PointerScope scope = new PointerScope()) {
            if (!rng.contains(CPU_GENERATOR)) {
                throw new IllegalArgumentException("cannot resume from " + rngFile + ": no tensor " + CPU_GENERATOR);
            }
            try {
                torch.getDefaultCPUGenerator().set_state(rng.tensor(CPU_GENERATOR).clone());
                if (device.kind() == ComputeDevice.Kind.CUDA && rng.contains(CUDA_GENERATOR)) {
                    torch.globalContext().defaultGenerator(device.torchDevice()).set_state(rng.tensor(CUDA_GENERATOR).clone());
                }
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot resume from " + rngFile + ": not a generator state ("
                        + firstLine(e) + ")");
            }
        }
        return state;
    }

    /** Reads an optimiser archive onto {@code device}; a file that is not one is a one-line error naming it. */
    static InputArchive readOptimizerArchive(Path file, ComputeDevice device) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("cannot resume: " + file + " is missing");
        }
        InputArchive archive = new InputArchive();
        try {
            archive.load_from(file.toString(), new DeviceOptional(device.torchDevice()));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot resume from " + file + ": not a libtorch optimiser archive ("
                    + firstLine(e) + ")");
        }
        return archive;
    }

    /** Parameter names by TensorImpl address, for messages about optimiser state. */
    private static Map<Long, String> parameterNames(Map<String, Module> modules) {
        Map<Long, String> names = new HashMap<>();
        ParameterGroups groups = ParameterGroups.of(modules);
        groups.decay().forEach((n, t) -> names.put(t.unsafeGetTensorImpl().address(), n));
        groups.noDecay().forEach((n, t) -> names.put(t.unsafeGetTensorImpl().address(), n));
        return names;
    }

    /**
     * Checks an AdamW archive (libtorch's layout: {@code param_groups/size}, per group {@code params/size} and
     * {@code params/<i>}, the key of each parameter's state in {@code state}) against the live optimiser: the same
     * number of groups and of parameters in each, and every moment tensor of the shape of the parameter it will be
     * paired with (libtorch pairs them by position and would only fail in the next step).
     */
    static void checkOptimizerState(InputArchive archive, AdamW optimizer, Map<Long, String> names, Path file) {
        try {
            InputArchive groups = new InputArchive();
            InputArchive states = new InputArchive();
            if (!archive.try_read("param_groups", groups) || !archive.try_read("state", states)) {
                throw new IllegalArgumentException("cannot resume from " + file + ": not an optimiser state (no "
                        + "param_groups or state)");
            }
            Set<String> stateKeys = new java.util.HashSet<>();
            var keys = states.keys();
            for (long i = 0; i < keys.size(); i++) stateKeys.add(keys.get(i).getString());
            Tensor count = new Tensor();
            groups.read("param_groups/size", count);
            var live = optimizer.param_groups();
            if (count.item_long() != live.size()) {
                throw new IllegalArgumentException("cannot resume from " + file + ": " + count.item_long()
                        + " parameter groups, the optimiser has " + live.size());
            }
            for (long g = 0; g < live.size(); g++) {
                InputArchive group = new InputArchive();
                groups.read("param_groups/" + g, group);
                Tensor n = new Tensor();
                group.read("params/size", n);
                TensorVector params = live.get(g).params();
                if (n.item_long() != params.size()) {
                    throw new IllegalArgumentException("cannot resume from " + file + ": parameter group " + g
                            + " holds " + n.item_long() + " parameters, the model's " + params.size()
                            + " (a checkpoint of another model?)");
                }
                for (long i = 0; i < params.size(); i++) {
                    IValue key = new IValue();
                    group.read("params/" + i, key);
                    String k = key.toStringRef().getString();
                    if (!stateKeys.contains(k)) continue; // no state yet (no step taken): nothing to pair
                    InputArchive paramState = new InputArchive();
                    states.read(k, paramState);
                    long[] expected = dev.mvp.api.Tensors.shape(params.get(i));
                    for (String moment : new String[] {"exp_avg", "exp_avg_sq"}) {
                        Tensor t = new Tensor();
                        if (!paramState.try_read(moment, t)) continue;
                        long[] shape = dev.mvp.api.Tensors.shape(t);
                        if (!Arrays.equals(shape, expected)) {
                            String name = names.getOrDefault(params.get(i).unsafeGetTensorImpl().address(),
                                    "parameter " + i + " of group " + g);
                            throw new IllegalArgumentException("cannot resume from " + file + ": the state of "
                                    + name + " (" + moment + ") has shape " + Arrays.toString(shape)
                                    + ", the model's parameter " + Arrays.toString(expected)
                                    + " (a checkpoint of another model or image size?)");
                        }
                    }
                }
            }
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot resume from " + file + ": not an AdamW state of this model ("
                    + firstLine(e) + ")");
        }
    }

    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m).strip();
    }

    /**
     * Writes the optimiser's state with every tensor on the CPU. libtorch writes each tensor on its own device, so on
     * a CUDA device the state is written once as it is, read back mapped onto the CPU into a twin optimiser (same
     * groups and options, over empty CPU placeholders: loading pairs state with parameters by position and never
     * reads their values), and the twin's state is written. {@code viaCpuTwin} forces that path on the CPU (tests).
     */
    static void saveOptimizer(AdamW optimizer, Path file, ComputeDevice device) throws IOException {
        saveOptimizer(optimizer, file, device.kind() != ComputeDevice.Kind.CPU);
    }

    static void saveOptimizer(AdamW optimizer, Path file, boolean viaCpuTwin) throws IOException {
        try (PointerScope scope = new PointerScope()) {
            OutputArchive archive = new OutputArchive();
            optimizer.save(archive);
            if (!viaCpuTwin) {
                writeArchive(archive, file);
                return;
            }
            Path onDevice = file.resolveSibling(file.getFileName() + ".device");
            try {
                writeArchive(archive, onDevice);
                AdamW twin = cpuTwin(optimizer);
                InputArchive in = new InputArchive();
                in.load_from(onDevice.toString(), new DeviceOptional(ComputeDevice.CPU.torchDevice()));
                twin.load(in);
                OutputArchive out = new OutputArchive();
                twin.save(out);
                writeArchive(out, file);
            } finally {
                Files.deleteIfExists(onDevice);
            }
        }
    }

    /**
     * Writes a libtorch archive to {@code file} through a Java writer function ({@code save_to(writer)}) instead of
     * libtorch's own file writer, then forces it to disk. libtorch's file writer turns a short write (a full disk)
     * into a C++ exception that its zip writer's destructor throws again: {@code std::terminate}, the JVM aborts
     * (docs/LIBTORCH-NOTES.md). This writer always reports every byte as written, so libtorch never sees an error;
     * the first I/O error is kept, the rest of the archive is skipped, and it is thrown here as an
     * {@link IOException} once libtorch has finished.
     */
    static void writeArchive(OutputArchive archive, Path file) throws IOException {
        synchronized (ChannelWriter.class) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ChannelWriter w = ChannelWriter.instance();
                w.channel = ch;
                w.error = null;
                try {
                    archive.save_to(w);
                } finally {
                    w.channel = null;
                }
                if (w.error != null) throw w.error;
                ch.force(true);
            }
        }
    }

    /**
     * The one writer function ({@code std::function<size_t(const void*, size_t)>}) given to libtorch: JavaCPP
     * allows few live callback instances per class (docs/LIBTORCH-NOTES.md), so one, made outside any scope and
     * retained, used under the class's lock.
     */
    static final class ChannelWriter extends ArchiveWriter {
        private static final int CHUNK = 1 << 30;
        private static ChannelWriter instance;
        FileChannel channel;
        IOException error;

        static ChannelWriter instance() {
            if (instance == null) {
                ChannelWriter w = new ChannelWriter();
                w.retainReference();
                instance = w;
            }
            return instance;
        }

        @Override public long call(Pointer data, long n) {
            if (error != null || n <= 0) return n;
            try {
                BytePointer bytes = new BytePointer(data);
                for (long at = 0; at < n; at += CHUNK) {
                    int len = (int) Math.min(CHUNK, n - at);
                    ByteBuffer b = bytes.position(at).limit(at + len).asByteBuffer();
                    while (b.hasRemaining()) channel.write(b);
                }
            } catch (IOException e) {
                error = e;
            } catch (RuntimeException e) {
                error = new IOException(e.getMessage(), e);
            }
            // always all of it: a short count makes libtorch throw from a destructor (std::terminate)
            return n;
        }
    }

    /** An AdamW with the groups of {@code optimizer} over empty CPU tensors, one per parameter. */
    private static AdamW cpuTwin(AdamW optimizer) {
        OptimizerParamGroupVector groups = optimizer.param_groups();
        AdamW twin = null;
        for (long g = 0; g < groups.size(); g++) {
            TensorVector placeholders = new TensorVector();
            for (long i = 0; i < groups.get(g).params().size(); i++) placeholders.push_back(torch.empty(0));
            // any options: loading replaces each group's options with the saved ones
            AdamWOptions options = new AdamWOptions(1e-3);
            if (twin == null) {
                twin = new AdamW(placeholders, options);
            } else {
                twin.add_param_group(new OptimizerParamGroup(placeholders, options));
            }
        }
        return twin;
    }

    private void prune(int keep) throws IOException {
        List<Path> complete;
        try (Stream<Path> s = Files.list(dir)) {
            complete = s.filter(p -> p.getFileName().toString().matches("step-\\d+"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
        for (int i = 0; i < complete.size() - keep; i++) deleteRecursively(complete.get(i));
    }

    static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void fsyncTree(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : s.toList()) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                    ch.force(true);
                }
            }
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
