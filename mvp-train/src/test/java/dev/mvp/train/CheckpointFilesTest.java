package dev.mvp.train;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.io.SafeTensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The checkpoint files' failure paths: the optimiser archive written through Java I/O (byte for byte what libtorch's
 * own file writer writes, and a full disk an {@link IOException} rather than libtorch's process abort), a checkpoint
 * that cannot be written (the temporary folder removed, the previous checkpoint still the latest), and bad
 * {@code optimizer.pt} files refused at load time naming the file (and the parameter for a shape mismatch).
 */
class CheckpointFilesTest {

    /** One linear layer under "m." with AdamW over BEiT's two groups (weight decays, bias does not). */
    private static final class Net {
        final LinearImpl linear;
        final Map<String, Module> modules = new LinkedHashMap<>();
        final AdamW optimizer;

        Net(int in) {
            Torch.init();
            linear = new LinearImpl(in, 3);
            modules.put("m.", linear);
            optimizer = Optimizers.adamW(ParameterGroups.of(modules), 1e-2, 0.05, 0.9, 0.98);
        }

        Net trained(int steps) {
            for (int k = 0; k < steps; k++) {
                try (PointerScope scope = new PointerScope()) {
                    optimizer.zero_grad();
                    Tensor x = Tensors.randn(2, linear.weight().size(1));
                    linear.forward(x).pow(Tensors.scalar(2)).sum().backward();
                    optimizer.step();
                }
            }
            return this;
        }

        TrainingState state(long step) {
            return new TrainingState(step, 0, step, 0, 0, 0, Map.of("lr", "0.01"));
        }
    }

    @Test
    void theArchiveWrittenThroughJavaIsByteForByteLibtorchsFileAndReloadsTheSameState(@TempDir Path tmp) throws Exception {
        Net net = new Net(4).trained(3);
        // libtorch names the archive's records after the file ("archive/...") and after nothing for a writer
        // function ("archive/..." too): with the file named archive.pt both write the same bytes
        Path viaLibtorch = tmp.resolve("lib").resolve("archive.pt"), viaJava = tmp.resolve("archive.pt");
        Files.createDirectories(viaLibtorch.getParent());
        try (PointerScope scope = new PointerScope()) {
            OutputArchive a = new OutputArchive();
            net.optimizer.save(a);
            a.save_to(viaLibtorch.toString());
            OutputArchive b = new OutputArchive();
            net.optimizer.save(b);
            Checkpoints.writeArchive(b, viaJava);
        }
        assertThat(Files.readAllBytes(viaJava)).isEqualTo(Files.readAllBytes(viaLibtorch));

        // and its state, loaded into a fresh optimiser, writes the same archive again
        Net copy = new Net(4);
        Path again = tmp.resolve("again").resolve("archive.pt");
        Files.createDirectories(again.getParent());
        try (PointerScope scope = new PointerScope()) {
            InputArchive in = new InputArchive();
            in.load_from(viaJava.toString());
            copy.optimizer.load(in);
            OutputArchive out = new OutputArchive();
            copy.optimizer.save(out);
            Checkpoints.writeArchive(out, again);
        }
        // the state's keys are the parameters' TensorImpl addresses, which differ between the two optimisers: compare
        // the size and that it loads, rather than the bytes
        assertThat(Files.size(again)).isEqualTo(Files.size(viaJava));
    }

    @Test
    void aFullDiskIsAnIOExceptionNotAnAbort() {
        Net net = new Net(4).trained(1);
        assertThat(Path.of("/dev/full")).exists();
        assertThatThrownBy(() -> Checkpoints.saveOptimizer(net.optimizer, Path.of("/dev/full"), false))
                .isInstanceOf(IOException.class).hasMessageContaining("No space left on device");
        // the writer is usable again afterwards
        assertThatThrownBy(() -> Checkpoints.saveOptimizer(net.optimizer, Path.of("/dev/full"), true))
                .isInstanceOf(IOException.class);
    }

    @Test
    void aCheckpointThatCannotBeWrittenIsOneLineAndLeavesThePreviousOneTheLatest(@TempDir Path tmp) throws Exception {
        Net net = new Net(4).trained(2);
        Checkpoints checkpoints = new Checkpoints(tmp.resolve("run"));
        Path first = checkpoints.save(net.modules, net.optimizer, net.state(1), Map.of("m", 1), 5);
        net.trained(1);
        // optimizer.pt of step 2 lands on a full disk: /dev/full, through a link made while the checkpoint is half written
        Checkpoints.midWriteHook = step -> {
            try {
                Files.createSymbolicLink(checkpoints.dir().resolve(String.format("step-%08d.tmp-%d", step,
                        ProcessHandle.current().pid())).resolve("optimizer.pt"), Path.of("/dev/full"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        try {
            Path second = checkpoints.dir().resolve("step-00000002");
            assertThatThrownBy(() -> checkpoints.save(net.modules, net.optimizer, net.state(2), Map.of("m", 1), 5))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessage("cannot write checkpoint " + second + ": no space left on device");
        } finally {
            Checkpoints.midWriteHook = step -> {};
        }
        try (var files = Files.list(checkpoints.dir())) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).as("no temporary folder left")
                    .containsExactly("latest", "step-00000001");
        }
        assertThat(Checkpoints.latest(tmp.resolve("run"))).contains(first);
        // the previous checkpoint still loads
        Checkpoints.load(first, new Net(4).modules, new Net(4).optimizer);
    }

    @Test
    void aBadOptimizerFileIsRefusedAtLoadNamingTheFileAndTheParameter(@TempDir Path tmp) throws Exception {
        Net net = new Net(4).trained(2);
        Path ckpt = new Checkpoints(tmp.resolve("run")).save(net.modules, net.optimizer, net.state(2), Map.of("m", 1), 5);
        Path file = ckpt.resolve("optimizer.pt");
        byte[] good = Files.readAllBytes(file);
        Net fresh = new Net(4);
        Checkpoints.load(ckpt, fresh.modules, fresh.optimizer); // as written

        // truncated
        Files.write(file, Arrays.copyOf(good, good.length / 2));
        assertRefused(ckpt, "cannot resume from " + file + ": not a libtorch optimiser archive");
        // a safetensors file in its place
        Files.delete(file);
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, Map.of("x", Tensors.randn(2, 2)));
        }
        assertRefused(ckpt, "cannot resume from " + file + ": not a libtorch optimiser archive");
        // another libtorch archive (a tensor, not an optimiser)
        try (PointerScope scope = new PointerScope()) {
            OutputArchive other = new OutputArchive();
            other.write("x", Tensors.randn(2, 2));
            Checkpoints.writeArchive(other, file);
        }
        assertRefused(ckpt, "cannot resume from " + file + ": not an optimiser state");
        // the optimiser of a model with other shapes (as another image size changes pos_embed)
        Net wider = new Net(5).trained(1);
        try (PointerScope scope = new PointerScope()) {
            OutputArchive other = new OutputArchive();
            wider.optimizer.save(other);
            Checkpoints.writeArchive(other, file);
        }
        assertRefused(ckpt, "cannot resume from " + file + ": the state of m.weight (exp_avg) has shape [3, 5], "
                + "the model's parameter [3, 4]");
        // missing
        Files.delete(file);
        assertRefused(ckpt, "cannot resume: " + file + " is missing");
    }

    private static void assertRefused(Path ckpt, String message) {
        Net net = new Net(4);
        assertThatThrownBy(() -> Checkpoints.load(ckpt, net.modules, net.optimizer))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(message)
                .satisfies(e -> assertThat(e.getMessage().lines()).hasSize(1));
    }
}
