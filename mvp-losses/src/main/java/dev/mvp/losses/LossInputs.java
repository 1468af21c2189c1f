package dev.mvp.losses;

import dev.mvp.api.LossOutput;
import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.function.Supplier;

/** Argument checks shared by the losses (one-line messages naming the shapes), and their scope handling. */
final class LossInputs {
    private LossInputs() {}

    /**
     * Checks floating predictions [B, 1 + N, D] and a bool mask [B, N] on the same device.
     *
     * @return {B, N, D}
     */
    static long[] predictionsAndMask(String loss, Tensor predictions, Tensor mask) {
        long[] p = Tensors.shape(predictions);
        if (p.length != 3 || p[1] < 2 || !predictions.is_floating_point()) {
            throw new IllegalArgumentException(loss + ": predictions must be floating [B, 1 + N, D] (CLS then patches), got "
                    + describe(predictions));
        }
        long[] m = Tensors.shape(mask);
        if (!is(mask, ScalarType.Bool) || m.length != 2 || m[0] != p[0] || m[1] != p[1] - 1) {
            throw new IllegalArgumentException(loss + ": mask must be Bool [" + p[0] + ", " + (p[1] - 1) + "] for predictions "
                    + describe(predictions) + ", got " + describe(mask));
        }
        sameDevice(loss, predictions, mask, "mask");
        return new long[] {p[0], p[1] - 1, p[2]};
    }

    /**
     * Checks floating feature targets against predictions [B, 1 + N, D]: [B, 1 + N, D] (with the CLS row, only when
     * {@code clsAllowed}) or [B, N, D].
     *
     * @return whether the targets include the CLS row
     */
    static boolean featureTargets(String loss, Tensor predictions, Tensor targets, boolean clsAllowed) {
        long[] p = Tensors.shape(predictions), t = Tensors.shape(targets);
        boolean fits = targets.is_floating_point() && t.length == 3 && t[0] == p[0] && t[2] == p[2]
                && (t[1] == p[1] - 1 || (clsAllowed && t[1] == p[1]));
        if (!fits) {
            String expected = clsAllowed ? "floating [B, 1 + N, D] or [B, N, D]" : "floating [B, N, D]";
            throw new IllegalArgumentException(loss + ": targets " + describe(targets) + " do not fit predictions "
                    + describe(predictions) + " (expected " + expected + ")");
        }
        sameDevice(loss, predictions, targets, "targets");
        return t[1] == p[1];
    }

    /** The patch rows [B, N, D] of a [B, 1 + N, D] tensor, or the tensor itself if it has no CLS row. */
    static Tensor patches(Tensor tokens, boolean hasCls) {
        return hasCls ? tokens.narrow(1, 1, tokens.size(1) - 1) : tokens;
    }

    /** {@code t} in float64 if it is float64, else in float32 (losses are never computed in half precision). */
    static Tensor computeType(Tensor t) {
        return is(t, ScalarType.Double) ? t : t.to(ScalarType.Float);
    }

    /** Whether {@code t} has this dtype (the binding's enum constants are not unique instances: compare values). */
    static boolean is(Tensor t, ScalarType type) {
        return t.scalar_type().value == type.value;
    }

    /** A detached float32 copy of a scalar, for {@link LossOutput#metric()}. */
    static Tensor metric(Tensor scalar) {
        return scalar.detach().to(ScalarType.Float);
    }

    /** Shape and dtype, e.g. {@code [2, 197, 512] Float}. */
    static String describe(Tensor t) {
        return Tensors.shapeString(t) + " " + t.scalar_type();
    }

    /**
     * Runs {@code body} in its own {@link PointerScope} so that its temporaries are freed on return, and hands the
     * output's two tensors to the caller's scope. Without a caller scope the body runs as is (its tensors are then
     * left to the garbage collector, as any tensor created outside a scope).
     */
    static LossOutput scoped(Supplier<LossOutput> body) {
        PointerScope outer = PointerScope.getInnerScope();
        if (outer == null) return body.get();
        try (PointerScope inner = new PointerScope()) {
            LossOutput out = body.get();
            outer.attach(out.value());
            outer.attach(out.metric());
            inner.detach(out.value());
            inner.detach(out.metric());
            return out;
        }
    }

    static void sameDevice(String loss, Tensor predictions, Tensor other, String name) {
        if (!predictions.device().equals(other.device())) {
            throw new IllegalArgumentException(loss + ": " + name + " on " + other.device().str().getString()
                    + ", predictions on " + predictions.device().str().getString() + " (move them to one device)");
        }
    }
}
