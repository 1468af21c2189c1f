package dev.mvp.models.io;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Named tensors read from a weight file: a safetensors file, a {@code torch.save} checkpoint (zip or legacy format),
 * a TorchScript archive, or a renamed view of one of them ({@link RenamedWeights}).
 *
 * <p>{@link #names()} and {@link #info} come from the file's header (or pickle) and never touch native code.
 * {@link #tensor(String)} returns a CPU tensor in the caller's {@link org.bytedeco.javacpp.PointerScope}, which may be a
 * zero-copy view of read-only file memory: never modify it in place (copy it into your own tensors, as
 * {@link StateDict#load} does, or ask for a converted copy with {@link #tensor(String, ScalarType)}).
 * {@link #close()} releases the file; views already handed out stay valid until they are freed.
 */
public interface Weights extends AutoCloseable {

    /** The file the tensors come from (for messages). */
    Path path();

    /** A short description of the file format, e.g. {@code safetensors} or {@code torch.save zip}. */
    String format();

    /** The tensor names, in the file's order. */
    Set<String> names();

    /** Whether there is a tensor named {@code name}. */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * Name, dtype and shape of tensor {@code name}.
     *
     * @throws WeightFormatException naming the file and the tensor if there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * Tensor {@code name} with the file's dtype and shape, on the CPU, owned by the caller's scope; possibly a
     * read-only view of the file (see the class comment).
     *
     * @throws WeightFormatException naming the file and the tensor if there is no such tensor
     * @throws IllegalStateException if the weights were closed
     */
    Tensor tensor(String name);

    /**
     * A new CPU tensor holding tensor {@code name} converted to {@code type} (for instance fp16 weights to fp32).
     * Always a copy, never sharing memory with the file.
     */
    default Tensor tensor(String name, ScalarType type) {
        try (Tensor view = tensor(name)) {
            return view.scalar_type().intern() == type.intern() ? view.clone() : view.to(type);
        }
    }

    @Override void close();

    /** {@link #open(Path, String)} choosing the state dict of a checkpoint automatically. */
    static Weights open(Path path) {
        return open(path, "");
    }

    /**
     * Opens a weight file, recognised by its first bytes:
     * <ul>
     *   <li>a zip archive: a TorchScript archive (it has {@code constants.pkl}) is read with libtorch's TorchScript
     *       loader ({@link TorchScriptArchive}); any other is a {@code torch.save} checkpoint
     *       ({@link TorchCheckpoint}, restricted reader, nothing executed);</li>
     *   <li>a pickle starting with torch's magic number: a legacy {@code torch.save} checkpoint;</li>
     *   <li>otherwise a safetensors file ({@link SafeTensorsFile}).</li>
     * </ul>
     *
     * @param keyPath where the state dict is inside a checkpoint, keys joined by {@code /} ({@code teacher},
     *                {@code model/state_dict}); empty to search the usual places (see {@link TorchCheckpoint#open})
     * @throws WeightFormatException one line naming the file and the problem
     */
    static Weights open(Path path, String keyPath) {
        return open(path, keyPath, PickleAllowlist.STATE_DICTS);
    }

    /**
     * {@link #open(Path, String)} with {@code allowlist} for the pickle of a {@code torch.save} checkpoint (for files
     * that pickle whole modules, such as DALL-E's {@code encoder.pkl}); other formats ignore it.
     */
    static Weights open(Path path, String keyPath, PickleAllowlist allowlist) {
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(path)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", path, e), e);
        }
        boolean zip = n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        boolean pickle = n >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5;
        if (zip && TorchScriptArchive.isTorchScript(path)) {
            if (!keyPath.isEmpty()) {
                throw WeightFormatException.of(path, "a TorchScript archive has no nested state dicts (key path '"
                        + keyPath + "')");
            }
            return TorchScriptArchive.open(path);
        }
        if (zip || pickle) return TorchCheckpoint.open(path, keyPath, allowlist);
        if (!keyPath.isEmpty()) {
            throw WeightFormatException.of(path, "a safetensors file has no nested state dicts (key path '" + keyPath + "')");
        }
        if (n >= 9 && head[8] != '{') {
            throw WeightFormatException.of(path, "not a weight file: neither safetensors (a header length, then '{'), "
                    + "nor a torch.save checkpoint (zip or pickle), nor a TorchScript archive");
        }
        return SafeTensorsFile.open(path);
    }
}
