package dev.mvp.train;

/**
 * BEiT's {@code cosine_scheduler}, evaluated in closed form per step instead of as a precomputed array:
 * <pre>
 * step &lt; warmup:  start + (base - start) * step / (warmup - 1)          (np.linspace(start, base, warmup))
 * otherwise:      final + (base - final) * (1 + cos(pi * i / (total - warmup))) / 2,   i = step - warmup
 * </pre>
 * so the first step runs at {@code start} (0 for the learning rate), the last warm-up step at {@code base}, and the
 * decay approaches {@code final} at the end.
 */
public record CosineSchedule(double base, double finalValue, long totalSteps, long warmupSteps, double warmupStart) {

    public CosineSchedule {
        if (totalSteps < 1) throw new IllegalArgumentException("a schedule needs at least one step");
        if (warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("warm-up steps " + warmupSteps + " must be in [0, " + totalSteps + "]");
        }
    }

    /** Learning-rate schedule warming up from 0. */
    public static CosineSchedule learningRate(double peak, double min, long totalSteps, long warmupSteps) {
        return new CosineSchedule(peak, min, totalSteps, warmupSteps, 0.0);
    }

    /** A constant value (e.g. a fixed weight decay). */
    public static CosineSchedule constant(double value, long totalSteps) {
        return new CosineSchedule(value, value, totalSteps, 0, value);
    }

    /** The value at a 0-based step; steps past the end keep the last value. */
    public double at(long step) {
        if (step < 0) throw new IllegalArgumentException("negative step " + step);
        if (step < warmupSteps) {
            return warmupSteps == 1 ? base : warmupStart + (base - warmupStart) * step / (double) (warmupSteps - 1);
        }
        long decaySteps = totalSteps - warmupSteps;
        if (decaySteps == 0) return base;
        long i = Math.min(step - warmupSteps, decaySteps - 1);
        return finalValue + 0.5 * (base - finalValue) * (1 + Math.cos(Math.PI * i / decaySteps));
    }
}
