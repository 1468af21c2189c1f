package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.api.ComputeDevice;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
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
            throw new UncheckedIOException("cannot clean " + dir + ": " + e.getMessage(), e);
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

    /** As {@link #save(Map, AdamW, TrainingState, Map, int)} for a run on {@code device}. */
    public Path save(Map<String, Module> modules, AdamW optimizer, TrainingState state, Map<String, ?> model, int keep,
                     ComputeDevice device) {
        String name = String.format("step-%08d", state.step());
        Path target = dir.resolve(name);
        Path tmp = dir.resolve(name + ".tmp-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(dir);
            deleteRecursively(tmp);
            Files.createDirectories(tmp);
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
            if (Files.exists(target)) deleteRecursively(target);
            move(tmp, target);
            writeAtomically(dir.resolve(LATEST), name + "\n");
            prune(keep);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
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
            throw new UncheckedIOException("cannot read " + latest + ": " + e.getMessage(), e);
        }
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
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads the training state of a checkpoint folder. */
    public static TrainingState readState(Path checkpoint) {
        Path file = checkpoint.resolve("state.json");
        try {
            return JSON.readValue(file.toFile(), TrainingState.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
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
        try (SafeTensorsFile rng = SafeTensorsFile.open(checkpoint.resolve("rng.safetensors"));
             PointerScope scope = new PointerScope()) {
            torch.getDefaultCPUGenerator().set_state(rng.tensor(CPU_GENERATOR).clone());
            if (device.kind() == ComputeDevice.Kind.CUDA && rng.contains(CUDA_GENERATOR)) {
                torch.globalContext().defaultGenerator(device.torchDevice()).set_state(rng.tensor(CUDA_GENERATOR).clone());
            }
        }
        try (PointerScope scope = new PointerScope()) {
            InputArchive archive = new InputArchive();
            archive.load_from(checkpoint.resolve("optimizer.pt").toString(), new DeviceOptional(device.torchDevice()));
            optimizer.load(archive);
        }
        return state;
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
                archive.save_to(file.toString());
                return;
            }
            Path onDevice = file.resolveSibling(file.getFileName() + ".device");
            archive.save_to(onDevice.toString());
            AdamW twin = cpuTwin(optimizer);
            InputArchive in = new InputArchive();
            in.load_from(onDevice.toString(), new DeviceOptional(ComputeDevice.CPU.torchDevice()));
            twin.load(in);
            OutputArchive out = new OutputArchive();
            twin.save(out);
            out.save_to(file.toString());
            Files.delete(onDevice);
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
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        move(tmp, file);
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
