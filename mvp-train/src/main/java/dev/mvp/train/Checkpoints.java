package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
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
 *   rng.safetensors     libtorch's CPU generator state
 *   state.json          {@link TrainingState}: step, epoch and position in it, skipped steps, the run definition
 * latest                the name of the newest complete checkpoint
 * </pre>
 * The learning-rate and weight-decay schedules are closed-form functions of the step, so the step is their state;
 * there is no loss scaler (bf16 autocast needs none). The data order, crops, flips and masks are functions of
 * (seed, epoch, position), so the position is their state.
 * Writes are atomic: a checkpoint is assembled in a temporary folder, flushed to disk, then renamed; {@code latest}
 * is replaced by rename only after that. A run killed at any moment leaves the previous checkpoint as the latest.
 */
public final class Checkpoints {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper COMPACT = new ObjectMapper();
    private static final String LATEST = "latest";

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
                SafeTensorsWriter.write(tmp.resolve("rng.safetensors"),
                        Map.of("torch_cpu_generator", torch.getDefaultCPUGenerator().get_state()), Map.of());
                OutputArchive archive = new OutputArchive();
                optimizer.save(archive);
                archive.save_to(tmp.resolve("optimizer.pt").toString());
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

    /** Loads weights, optimiser state and the libtorch generator state of a checkpoint into a live run. */
    public static TrainingState load(Path checkpoint, Map<String, Module> modules, AdamW optimizer) {
        TrainingState state = readState(checkpoint);
        try (SafeTensorsFile weights = SafeTensorsFile.open(checkpoint.resolve("model.safetensors"))) {
            modules.forEach((prefix, m) -> StateDict.load(m, weights, prefix));
        }
        try (SafeTensorsFile rng = SafeTensorsFile.open(checkpoint.resolve("rng.safetensors"));
             PointerScope scope = new PointerScope()) {
            torch.getDefaultCPUGenerator().set_state(rng.tensor("torch_cpu_generator").clone());
        }
        InputArchive archive = new InputArchive();
        archive.load_from(checkpoint.resolve("optimizer.pt").toString());
        optimizer.load(archive);
        return state;
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
