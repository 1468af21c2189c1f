package dev.mvp.api;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.DeviceType;

/** Where tensors live: the CPU or one CUDA device. Parsed from {@code cpu}, {@code cuda}, {@code cuda:1}. */
public record ComputeDevice(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    public static final ComputeDevice CPU = new ComputeDevice(Kind.CPU, 0);

    public ComputeDevice {
        if (index < 0) throw new IllegalArgumentException("device index must be >= 0");
    }

    /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static ComputeDevice parse(String text) {
        String s = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("cpu")) return CPU;
        if (s.equals("cuda")) return new ComputeDevice(Kind.CUDA, 0);
        if (s.startsWith("cuda:")) {
            try {
                return new ComputeDevice(Kind.CUDA, Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
    }

    /** The libtorch device (a new native object owned by the caller's scope). */
    public Device torchDevice() {
        Torch.init();
        return kind == Kind.CPU ? new Device(DeviceType.CPU) : new Device(DeviceType.CUDA, (byte) index);
    }

    @Override public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
