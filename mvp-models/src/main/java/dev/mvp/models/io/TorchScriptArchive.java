package dev.mvp.models.io;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.NamedTensor;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.named_buffer_iterator;
import org.bytedeco.pytorch.named_buffer_list;
import org.bytedeco.pytorch.named_parameter_iterator;
import org.bytedeco.pytorch.named_parameter_list;
import org.bytedeco.pytorch.global.torch.DeviceType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.zip.ZipFile;

/**
 * The parameters and buffers of a TorchScript archive ({@code torch.jit.save}; OpenAI's released CLIP {@code .pt}
 * files are such archives), read through libtorch's own TorchScript loader with every storage mapped to the CPU
 * (OpenAI's files were saved from CUDA). The module's code is compiled by the loader but never run: only the
 * weights are used, by their {@code named_parameters} names ({@code visual.conv1.weight}, ...).
 *
 * <p>Unlike the other readers this hands the file to native code: libtorch parses the archive (its errors become a
 * {@link WeightFormatException}). Tensors are new handles on the module's own CPU tensors, not file views; the
 * module is freed by {@link #close()} (handles already given out stay valid).
 */
public final class TorchScriptArchive implements Weights {
    private final Path path;
    private final JitModule module;
    private final Map<String, TensorInfo> infos;
    private boolean closed;

    private TorchScriptArchive(Path path, JitModule module, Map<String, TensorInfo> infos) {
        this.path = path;
        this.module = module;
        this.infos = infos;
    }

    /** Whether {@code path} is a zip archive written by {@code torch.jit.save} (it has {@code constants.pkl}). */
    public static boolean isTorchScript(Path path) {
        try (ZipFile zip = new ZipFile(path.toFile())) {
            return zip.stream().anyMatch(e -> e.getName().endsWith("/constants.pkl") || e.getName().equals("constants.pkl"));
        } catch (IOException | RuntimeException e) {
            return false; // not a readable zip: the checkpoint reader says what is wrong with it
        }
    }

    /**
     * Loads the archive with libtorch's TorchScript loader, on the CPU.
     *
     * @throws WeightFormatException if libtorch cannot load it, or a tensor has a dtype no weight format here knows
     */
    public static TorchScriptArchive open(Path path) {
        Torch.init();
        JitModule module;
        try (PointerScope scope = new PointerScope()) {
            module = torch.load(path.toString(), new DeviceOptional(new Device(DeviceType.CPU)), false);
            // the scope (and any the caller has open) would free the module: the archive owns it until close()
            module.retainReference();
        } catch (RuntimeException e) {
            throw WeightFormatException.of(path, "libtorch's TorchScript loader refused it: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse("").strip());
        }
        try (PointerScope scope = new PointerScope()) {
            Map<String, TensorInfo> infos = new LinkedHashMap<>();
            forEachTensor(module, (name, t) -> {
                Dtype dtype = Dtype.of(t.scalar_type()).orElseThrow(() -> WeightFormatException.of(path, name,
                        "dtype " + t.scalar_type() + " is not supported"));
                infos.put(name, new TensorInfo(name, dtype, t.sizes().vec().get()));
            });
            return new TorchScriptArchive(path, module, Collections.unmodifiableMap(infos));
        } catch (RuntimeException e) {
            module.releaseReference();
            throw e;
        }
    }

    @Override public Path path() {
        return path;
    }

    @Override public String format() {
        return "TorchScript archive";
    }

    @Override public Set<String> names() {
        return infos.keySet();
    }

    @Override public TensorInfo info(String name) {
        TensorInfo info = infos.get(name);
        if (info == null) throw WeightFormatException.of(path, name, "missing (the archive has " + infos.size() + " tensors)");
        return info;
    }

    /** A new handle on the module's CPU tensor {@code name} (shares its memory; do not modify it). */
    @Override public Tensor tensor(String name) {
        info(name);
        synchronized (this) {
            if (closed) throw new IllegalStateException(path + " is closed");
            PointerScope caller = PointerScope.getInnerScope();
            Tensor[] found = new Tensor[1];
            try (PointerScope scope = new PointerScope()) {
                forEachTensor(module, (n, t) -> {
                    if (found[0] == null && n.equals(name)) found[0] = new Tensor(t).retainReference();
                });
            }
            // the handle outlived the temporary scope by its extra reference: hand it to the caller's scope
            if (caller != null) {
                caller.attach(found[0]);
                found[0].releaseReference();
            }
            return found[0];
        }
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        module.releaseReference();
    }

    /** Parameters then buffers, with their hierarchical names. */
    private static void forEachTensor(JitModule module, BiConsumer<String, Tensor> action) {
        named_parameter_list params = module.named_parameters(true);
        for (named_parameter_iterator it = params.begin(), end = params.end(); it.notEquals(end); it = it.increment()) {
            NamedTensor nt = it.access();
            action.accept(nt.name().getString(), nt.value());
        }
        named_buffer_list buffers = module.named_buffers(true);
        for (named_buffer_iterator it = buffers.begin(), end = buffers.end(); it.notEquals(end); it = it.increment()) {
            NamedTensor nt = it.access();
            action.accept(nt.name().getString(), nt.value());
        }
    }
}
