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
 *   model.safetensors   student as backbone.*, head as head.* (fp32, timm-style names)
 *   optimizer.pt        libtorch's AdamW state (moments, step counts, per-group options)
 *   rng.safetensors     libtorch's CPU generator state
 *   state.json          {@link TrainingState}
 * latest                the name of the newest complete checkpoint
 * </pre>
 * Writes are atomic: a checkpoint is assembled in a temporary folder, flushed to disk, then renamed; {@code latest}
 * is replaced by rename only after that. A run killed at any moment leaves the previous checkpoint as the latest.
 */
public final class Checkpoints {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String LATEST = "latest";

    private final Path dir;

    public Checkpoints(Path runDir) {
        this.dir = runDir.resolve("checkpoints");
    }

    public Path dir() {
        return dir;
    }

    /** Writes a checkpoint and makes it the latest; keeps the newest {@code keep} ones. Returns its folder. */
    public Path save(Map<String, Module> modules, AdamW optimizer, TrainingState state, int keep) {
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
                        Map.of("format", "mvp-checkpoint", "step", Long.toString(state.step())));
                SafeTensorsWriter.write(tmp.resolve("rng.safetensors"),
                        Map.of("torch_cpu_generator", torch.getDefaultCPUGenerator().get_state()), Map.of());
                OutputArchive archive = new OutputArchive();
                optimizer.save(archive);
                archive.save_to(tmp.resolve("optimizer.pt").toString());
            }
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
