package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A region of autocast on one device type, as {@code torch.autocast("cpu" | "cuda", dtype)}: matmuls, convolutions
 * and linear layers inside it run in the reduced precision, precision-sensitive ops (softmax, norms, losses) in
 * float32 as libtorch's autocast lists say; parameters stay float32 (casts of them are cached for the region and
 * freed when it closes). For {@link Precision#FP32} the region does nothing. Regions nest; the previous state is
 * restored on close. Not for use across threads: autocast state is thread-local in libtorch.
 */
final class Autocast implements AutoCloseable {
    private final boolean active;
    private final DeviceType device;
    private final boolean wasEnabled;
    private final ScalarType previousType;

    private Autocast(Precision precision, DeviceType device) {
        this.active = precision != Precision.FP32;
        this.device = device;
        if (!active) {
            wasEnabled = false;
            previousType = null;
            return;
        }
        wasEnabled = torch.is_autocast_enabled(device);
        previousType = torch.get_autocast_dtype(device);
        torch.set_autocast_dtype(device, precision == Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Half);
        torch.set_autocast_enabled(device, true);
        torch.increment_nesting();
    }

    /** Enters CPU autocast at this precision (nothing for FP32). */
    static Autocast of(Precision precision) {
        return new Autocast(precision, DeviceType.CPU);
    }

    /** Enters autocast for the tensors of {@code device} (CUDA autocast on a CUDA device) at this precision. */
    static Autocast of(Precision precision, ComputeDevice device) {
        return new Autocast(precision, device.kind() == ComputeDevice.Kind.CUDA ? DeviceType.CUDA : DeviceType.CPU);
    }

    @Override public void close() {
        if (!active) return;
        if (torch.decrement_nesting() == 0) torch.clear_cache();
        torch.set_autocast_enabled(device, wasEnabled);
        torch.set_autocast_dtype(device, previousType);
    }
}
