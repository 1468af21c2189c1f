package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.nn.Placement;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where the engine's tensors live. On the CPU everything stays where it is made: the loader's off-heap batches are
 * handed to the model without a copy. On a CUDA device the student, head and teacher are moved there once, before
 * the optimiser is made (so its state is created there too), and every batch is copied there with
 * {@code non_blocking}: a copy from pageable memory returns once the source has been read, so the loader may reuse its
 * buffer as soon as the step releases the batch.
 */
public final class Devices {
    private Devices() {}

    /**
     * Checks that a device can be used: the CPU always; {@code cuda:N} when libtorch reports CUDA available (a
     * CUDA build of libtorch, a driver and a GPU) with more than N devices.
     *
     * @throws IllegalStateException one line naming the device and what is missing
     */
    public static void requireAvailable(ComputeDevice device) {
        if (device.kind() == ComputeDevice.Kind.CPU) return;
        Torch.init();
        if (!torch.cuda_is_available()) {
            throw new IllegalStateException("--device " + device + ": CUDA is not available (libtorch "
                    + (org.bytedeco.pytorch.Context.hasCUDA() ? "found no CUDA driver or GPU" : "is the CPU build; "
                    + "build with mvn -Pcuda on a machine with CUDA") + "); use --device cpu");
        }
        int count = torch.cuda_device_count();
        if (device.index() >= count) {
            throw new IllegalStateException("--device " + device + ": there " + (count == 1 ? "is 1 CUDA device" : "are "
                    + count + " CUDA devices") + " (cuda:0.." + (count - 1) + ")");
        }
    }

    /**
     * The tensor on {@code device}: the tensor itself when it is there already (always on the CPU: zero-copy), else a
     * new copy, made with {@code non_blocking} (in the caller's scope).
     */
    static Tensor onDevice(Tensor t, ComputeDevice device, Device torchDevice) {
        if (t == null || device.kind() == ComputeDevice.Kind.CPU && t.device().is_cpu()) return t;
        return t.to(torchDevice, t.scalar_type(), true, false, new org.bytedeco.pytorch.MemoryFormatOptional());
    }

    /**
     * Moves a module's parameters and buffers in place (floating ones to {@code floating} unless null); a
     * {@link VisionTransformer} with its unregistered tensors too ({@link VisionTransformer#moveTo}).
     */
    static void move(Module module, Device device, ScalarType floating) {
        if (module instanceof VisionTransformer vit) {
            vit.moveTo(device, floating);
        } else {
            Placement.move(module, device, floating);
        }
    }
}
