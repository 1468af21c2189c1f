package dev.mvp.train;

import dev.mvp.api.Precision;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A region of CPU autocast, as {@code torch.autocast("cpu", dtype)}: matmuls, convolutions and linear layers inside
 * it run in the reduced precision, precision-sensitive ops (softmax, norms, losses) in float32 as libtorch's autocast
 * lists say; parameters stay float32 (casts of them are cached for the region and freed when it closes). For
 * {@link Precision#FP32} the region does nothing. Regions nest; the previous state is restored on close. Not for use
 * across threads: autocast state is thread-local in libtorch.
 */
final class Autocast implements AutoCloseable {
    private final boolean active;
    private final boolean wasEnabled;
    private final ScalarType previousType;

    private Autocast(Precision precision) {
        this.active = precision != Precision.FP32;
        if (!active) {
            wasEnabled = false;
            previousType = null;
            return;
        }
        wasEnabled = torch.is_autocast_enabled(DeviceType.CPU);
        previousType = torch.get_autocast_dtype(DeviceType.CPU);
        torch.set_autocast_dtype(DeviceType.CPU, precision == Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Half);
        torch.set_autocast_enabled(DeviceType.CPU, true);
        torch.increment_nesting();
    }

    /** Enters autocast at this precision (nothing for FP32). */
    static Autocast of(Precision precision) {
        return new Autocast(precision);
    }

    @Override public void close() {
        if (!active) return;
        if (torch.decrement_nesting() == 0) torch.clear_cache();
        torch.set_autocast_enabled(DeviceType.CPU, wasEnabled);
        torch.set_autocast_dtype(DeviceType.CPU, previousType);
    }
}
