package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A module's parameters and buffers by name ({@code blocks.0.attn.qkv.weight}, ...), loaded from any
 * {@link Weights} (safetensors, PyTorch checkpoints, TorchScript archives, renamed views) or saved to safetensors
 * files. Loading is a strict, name-by-name {@code copy_}: the module keeps its own tensors (so nothing
 * it owns ever points into a file mapping) and floating-point weights stored as fp16/bf16 are converted on the fly.
 */
public final class StateDict {
    private StateDict() {}

    /**
     * The module's parameters then buffers, by their dotted names: new handles (owned by the caller's scope) on the
     * module's own tensors, so writing into them writes into the module.
     */
    public static Map<String, Tensor> of(Module module) {
        Torch.init();
        Map<String, Tensor> named = new LinkedHashMap<>();
        addAll(named, module.named_parameters(true));
        addAll(named, module.named_buffers(true));
        return named;
    }

    /**
     * The module's parameters alone, by their dotted names, in registration order: new handles as in {@link #of}.
     * Use these rather than the elements of {@code named_parameters(true)}, which point into a dictionary that the
     * garbage collector may free while they are still in use (docs/LIBTORCH-NOTES.md, "Modules").
     */
    public static Map<String, Tensor> parameters(Module module) {
        Torch.init();
        Map<String, Tensor> named = new LinkedHashMap<>();
        addAll(named, module.named_parameters(true));
        return named;
    }

    /**
     * Copies, for every parameter and buffer {@code n} of {@code module}, the weights' tensor {@code prefix + n}.
     * Strict: a missing tensor, a tensor whose shape differs, a non-floating tensor for a floating parameter (or
     * the reverse), or a tensor under {@code prefix} that the module does not have, is a
     * {@link WeightFormatException} naming the file and the tensor. Tensors outside {@code prefix} are ignored (a
     * full CLIP checkpoint loaded into its vision tower, for instance).
     */
    public static void load(Module module, Weights file, String prefix) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> targets = of(module);
            for (String name : file.names()) {
                if (name.startsWith(prefix) && !targets.containsKey(name.substring(prefix.length()))) {
                    throw WeightFormatException.of(file.path(), name, "unexpected: the model has no '"
                            + name.substring(prefix.length()) + "'");
                }
            }
            for (Map.Entry<String, Tensor> e : targets.entrySet()) checkCompatible(file, prefix + e.getKey(), e.getValue());
            for (Map.Entry<String, Tensor> e : targets.entrySet()) {
                try (Tensor view = file.tensor(prefix + e.getKey())) {
                    e.getValue().copy_(view);
                }
            }
        }
    }

    /** Writes the module's parameters and buffers (as they are: dtype, names) to {@code path}, atomically. */
    public static void save(Module module, Path path, Map<String, String> metadata) {
        SafeTensorsWriter.write(path, of(module), metadata);
    }

    private static void checkCompatible(Weights file, String name, Tensor target) {
        TensorInfo info = file.info(name);
        long[] expected = Tensors.shape(target);
        if (!Arrays.equals(info.shape(), expected)) {
            throw WeightFormatException.of(file.path(), name, "shape " + Arrays.toString(info.shape())
                    + " does not match the model's " + Arrays.toString(expected));
        }
        if (info.isFloatingPoint() != target.is_floating_point()) {
            throw WeightFormatException.of(file.path(), name, "dtype " + info.dtype() + " cannot be loaded into the model's "
                    + target.scalar_type() + " tensor");
        }
    }

    private static void addAll(Map<String, Tensor> into, StringTensorDict dict) {
        for (long i = 0; i < dict.size(); i++) {
            // a copy of the handle: the dict's own element dies with the dict
            into.put(dict.get(i).key().getString(), new Tensor(dict.get(i).value()));
        }
        Reference.reachabilityFence(dict); // the last element's handle is copied before the dict can be freed
    }
}
