package dev.mvp.models.nn;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Moves a module's tensors to another device and/or floating-point type in place, as libtorch's {@code Module::to}
 * does ({@code set_data}): every tensor keeps its identity, so the Java handles a module holds on its own parameters
 * stay valid and see the moved data. Not {@code Module.to} itself: that is a virtual call that recurses into children
 * and fails once a child's Java peer was garbage-collected (docs/LIBTORCH-NOTES.md, "Modules").
 *
 * <p>Move before an optimiser is made over the parameters and before any gradient exists (gradients stay where they
 * were). Integer and boolean tensors keep their type.
 */
public final class Placement {
    private Placement() {}

    /**
     * Moves every parameter and buffer of {@code module} and its children.
     *
     * @param floating the type of floating-point tensors afterwards, or {@code null} to keep each one's
     */
    public static void move(Module module, Device device, ScalarType floating) {
        Torch.init();
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            moveAll(module.parameters(true), device, floating);
            moveAll(module.buffers(true), device, floating);
        }
    }

    /** Moves one long-lived tensor in place (see the class comment); nothing when it is already there. */
    public static void move(Tensor t, Device device, ScalarType floating) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            ScalarType type = floating != null && t.is_floating_point() ? floating : t.scalar_type();
            if (t.device().equals(device) && t.scalar_type().value == type.value) return;
            t.set_data(t.to(device, type));
        }
    }

    private static void moveAll(TensorVector tensors, Device device, ScalarType floating) {
        for (long i = 0; i < tensors.size(); i++) move(tensors.get(i), device, floating);
    }
}
