package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.tokenizers.ClipTokenizer;
import dev.mvp.tokenizers.DalleTokenizer;
import dev.mvp.tokenizers.DinoTokenizer;
import dev.mvp.tokenizers.HogTokenizer;
import dev.mvp.tokenizers.PixelTokenizer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Objects;

/**
 * The teacher as the engine runs it: its weights on a device and in a precision, chosen once.
 *
 * <ul>
 *   <li>{@link Precision#BF16} / {@link Precision#FP16}: the teacher's floating-point weights are converted to that
 *       type once, in place, when it is placed (not merely cast by autocast on every forward pass: autocast caches
 *       its casts only for weights that require gradients, which a frozen teacher's do not, so it would convert all
 *       of them again in every step). The forward pass then runs in an autocast region of that type, which casts the
 *       float32 input at the first convolution and keeps norms and softmax where libtorch's autocast lists put them.
 *       Floating-point targets are handed on as float32; token ids stay int64.</li>
 *   <li>A CUDA device: the weights move there, and inputs that are elsewhere are copied there.</li>
 * </ul>
 * The teachers this library makes (CLIP, DINO, the d-VAE; HOG and pixels have no weights) can be placed; another
 * {@link Tokenizer} only on the CPU in float32, or through its own {@link Tokenizer#to} for a device.
 *
 * <p>Placing changes the wrapped teacher in place: afterwards use it only through this object. The weights stay
 * owned by the wrapped teacher; {@link #close()} closes it.
 */
public final class PlacedTeacher implements Tokenizer {
    private final Tokenizer teacher;
    private final ComputeDevice device;
    private final Device torchDevice;
    private final Precision precision;

    private PlacedTeacher(Tokenizer teacher, ComputeDevice device, Precision precision) {
        this.teacher = teacher;
        this.device = device;
        this.torchDevice = device.torchDevice();
        this.precision = precision;
    }

    /**
     * Moves and converts {@code teacher} (see the class comment), or returns it when it is a placed teacher with
     * these settings already.
     *
     * @throws IllegalArgumentException for a placed teacher with other settings, or reduced precision asked of a
     *                                  teacher whose weights this class cannot reach
     */
    public static PlacedTeacher place(Tokenizer teacher, ComputeDevice device, Precision precision) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(precision, "precision");
        if (teacher instanceof PlacedTeacher placed) {
            if (placed.device.equals(device) && placed.precision == precision) return placed;
            throw new IllegalArgumentException("the teacher is placed on " + placed.device + " in " + placed.precision
                    + " already; it cannot be placed again on " + device + " in " + precision);
        }
        Module weights = weightsOf(teacher);
        boolean known = weights != null || teacher instanceof HogTokenizer || teacher instanceof PixelTokenizer;
        if (!known) {
            if (precision != Precision.FP32) {
                throw new IllegalArgumentException("--teacher-precision " + precision.name().toLowerCase(java.util.Locale.ROOT)
                        + ": cannot convert the weights of " + teacher.name() + " (" + teacher.getClass().getName() + ")");
            }
            teacher.to(device); // the tokenizer's own move (throws if it cannot)
            return new PlacedTeacher(teacher, device, precision);
        }
        if (weights != null) {
            ScalarType floating = switch (precision) {
                case FP32 -> null;
                case BF16 -> ScalarType.BFloat16;
                case FP16 -> ScalarType.Half;
            };
            try (Device target = device.torchDevice()) {
                Devices.move(weights, target, floating);
            }
        }
        return new PlacedTeacher(teacher, device, precision);
    }

    /** The teacher's module, for the tokenizers of this library that have weights; null otherwise. */
    static Module weightsOf(Tokenizer teacher) {
        if (teacher instanceof ClipTokenizer clip) return clip.model();
        if (teacher instanceof DinoTokenizer dino) return dino.model();
        if (teacher instanceof DalleTokenizer dalle) return dalle.encoder();
        return null;
    }

    /** The precision its weights are in and its forward pass runs in. */
    public Precision precision() {
        return precision;
    }

    /** The teacher's name, with {@code , weights in bf16} (or fp16) when not in float32. */
    @Override public String name() {
        return precision == Precision.FP32 ? teacher.name()
                : teacher.name() + ", weights in " + precision.name().toLowerCase(java.util.Locale.ROOT);
    }

    @Override public ViewSpec inputSpec() {
        return teacher.inputSpec();
    }

    @Override public TargetSpec targetSpec() {
        return teacher.targetSpec();
    }

    @Override public int gridSize() {
        return teacher.gridSize();
    }

    /**
     * The targets of a batch on {@link #device()}, without autograd: float32 for features, int64 for token ids.
     *
     * @param images float32 [B, 3, S, S] as {@link #inputSpec()} says, on any device (copied to this one if needed)
     */
    @Override public Tensor targets(Tensor images) {
        Tensor input = Devices.onDevice(images, device, torchDevice);
        Tensor out;
        try (NoGradGuard noGrad = new NoGradGuard(); Autocast autocast = Autocast.of(precision, device)) {
            out = teacher.targets(input);
        }
        if (out.is_floating_point() && out.scalar_type().value != ScalarType.Float.value) out = out.to(ScalarType.Float);
        return out;
    }

    @Override public ComputeDevice device() {
        return device;
    }

    /** Returns this when already on {@code device}; a placed teacher does not move again. */
    @Override public Tokenizer to(ComputeDevice other) {
        if (other.equals(device)) return this;
        throw new UnsupportedOperationException(name() + " is placed on " + device + "; it does not move to " + other);
    }

    /** The teacher it wraps (converted as {@link #precision()} says). */
    public Tokenizer unwrap() {
        return teacher;
    }

    @Override public void close() {
        teacher.close();
    }
}
