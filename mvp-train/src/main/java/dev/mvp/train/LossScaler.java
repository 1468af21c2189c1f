package dev.mvp.train;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * Dynamic loss scaling for float16 training, as PyTorch's {@code torch.amp.GradScaler} does it with its defaults
 * (libtorch's C++/Java API has no scaler): the loss is multiplied by the scale before {@code backward}, so that small
 * float16 gradients do not flush to zero; the gradients are divided by it again before clipping and the optimiser
 * step. A step whose unscaled gradients hold an infinity or NaN is skipped and the scale is multiplied by
 * {@link #BACKOFF}; after {@link #GROWTH_INTERVAL} good steps in a row it is multiplied by {@link #GROWTH} (if the
 * result is finite). This is {@code _amp_update_scale_}'s state machine, with the scale kept as a float32 value as
 * GradScaler keeps it (powers of two from {@link #INIT_SCALE}, so every value is exact).
 *
 * <p>The scale and the count of good steps are part of a run's state ({@link TrainingState}): a resumed run continues
 * with them. Not thread-safe.
 */
final class LossScaler {
    /** GradScaler's {@code init_scale}. */
    static final float INIT_SCALE = 65536f;
    /** GradScaler's {@code growth_factor}. */
    static final float GROWTH = 2f;
    /** GradScaler's {@code backoff_factor}. */
    static final float BACKOFF = 0.5f;
    /** GradScaler's {@code growth_interval}. */
    static final int GROWTH_INTERVAL = 2000;

    private final int growthInterval;
    private float scale;
    private int growthTracker;

    /** A scaler at GradScaler's initial state. */
    LossScaler() {
        this(INIT_SCALE, 0, GROWTH_INTERVAL);
    }

    /** A scaler in a given state (a resumed run's), growing every {@code growthInterval} good steps. */
    LossScaler(float scale, int growthTracker, int growthInterval) {
        if (!(scale > 0) || !Float.isFinite(scale)) throw new IllegalArgumentException("loss scale must be positive and finite, got " + scale);
        if (growthInterval < 1 || growthTracker < 0 || growthTracker >= growthInterval) {
            throw new IllegalArgumentException("growth tracker " + growthTracker + " must be in [0, " + growthInterval + ")");
        }
        this.scale = scale;
        this.growthTracker = growthTracker;
        this.growthInterval = growthInterval;
    }

    /** The current scale. */
    float scale() {
        return scale;
    }

    /** Good steps since the scale last changed (GradScaler's {@code _growth_tracker}). */
    int growthTracker() {
        return growthTracker;
    }

    /** {@code loss * scale}, a new tensor in the caller's scope. */
    Tensor scale(Tensor loss) {
        return loss.mul(new Scalar((double) scale));
    }

    /**
     * Divides the gradient of every parameter that has one by the scale, in place: multiplies it by the float32
     * reciprocal of the scale, as GradScaler's {@code unscale_} does (infinities and NaNs stay what they are).
     */
    void unscale(TensorVector parameters) {
        float inverse = (float) (1.0 / scale);
        try (Scalar s = new Scalar((double) inverse)) {
            for (long i = 0; i < parameters.size(); i++) {
                Tensor grad = parameters.get(i).grad();
                if (grad.defined()) grad.mul_(s);
            }
        }
    }

    /**
     * Moves the state machine on after a step: {@code foundInf} (the unscaled gradients were not all finite) backs the
     * scale off and restarts the count; otherwise the count grows and, at the growth interval, so does the scale.
     */
    void update(boolean foundInf) {
        if (foundInf) {
            scale *= BACKOFF;
            growthTracker = 0;
            return;
        }
        int successful = growthTracker + 1;
        if (successful == growthInterval) {
            float grown = scale * GROWTH;
            if (Float.isFinite(grown)) scale = grown;
            growthTracker = 0;
        } else {
            growthTracker = successful;
        }
    }
}
