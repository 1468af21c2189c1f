package dev.mvp.eval;

import java.util.Locale;

/**
 * How a linear probe is trained; the defaults are MAE's linear probing recipe ({@code main_linprobe.py}, MAE paper
 * appendix A.2): LARS, base learning rate 0.1 scaled by {@code batch / 256}, no weight decay, 90 epochs of which 10
 * warm up linearly, then a half-cycle cosine to 0, stepped per iteration.
 *
 * @param epochs       passes over the training features (MAE: 90)
 * @param batchSize    features per step (MAE: 16384); the last incomplete batch of an epoch is dropped unless the
 *                     whole set is smaller than one batch
 * @param baseLr       MAE's {@code blr}; the peak learning rate is {@code baseLr * batchSize / 256}
 * @param optimizer    LARS (MAE) or SGD with momentum
 * @param weightDecay  weight decay (MAE: 0)
 * @param momentum     momentum of either optimiser (0.9)
 * @param warmupEpochs linear warm-up from 0 (MAE: 10), fractional epochs allowed
 * @param minLr        learning rate at the end of the cosine (MAE: 0)
 * @param seed         seed of the probe's initial weights and of the per-epoch shuffles
 */
public record ProbeConfig(int epochs, int batchSize, double baseLr, OptimizerKind optimizer, double weightDecay,
                          double momentum, double warmupEpochs, double minLr, long seed) {

    /** The optimiser of a probe. */
    public enum OptimizerKind {
        LARS, SGD;

        public static OptimizerKind parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "lars" -> LARS;
                case "sgd" -> SGD;
                default -> throw new IllegalArgumentException("unknown optimizer '" + s + "' (expected lars or sgd)");
            };
        }
    }

    public ProbeConfig {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (!(baseLr > 0 && Double.isFinite(baseLr))) throw new IllegalArgumentException("base learning rate must be > 0, got " + baseLr);
        if (!(weightDecay >= 0 && Double.isFinite(weightDecay)) || !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("weight decay must be >= 0 and momentum in [0, 1)");
        }
        if (!(warmupEpochs >= 0 && warmupEpochs <= epochs)) {
            throw new IllegalArgumentException("warm-up epochs must be in [0, epochs], got " + warmupEpochs);
        }
        if (!(minLr >= 0 && Double.isFinite(minLr))) throw new IllegalArgumentException("min lr must be >= 0, got " + minLr);
        java.util.Objects.requireNonNull(optimizer, "optimizer");
    }

    /** MAE's recipe at paper scale: 90 epochs, batch 16384, LARS, blr 0.1, 10 warm-up epochs. */
    public static ProbeConfig mae() {
        return new ProbeConfig(90, 16384, 0.1, OptimizerKind.LARS, 0, 0.9, 10, 0, 0);
    }

    /** The peak learning rate, {@code baseLr * batchSize / 256}. */
    public double peakLr() {
        return baseLr * batchSize / 256.0;
    }

    /**
     * MAE's {@code adjust_learning_rate} at a fractional epoch {@code e = epoch + iteration / iterationsPerEpoch}:
     * {@code peak * e / warmup} during warm-up, else {@code min + (peak - min) * (1 + cos(pi * (e - warmup) /
     * (epochs - warmup))) / 2}.
     */
    public double lrAt(double epoch) {
        double peak = peakLr();
        if (epoch < warmupEpochs) return peak * epoch / warmupEpochs;
        return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * (epoch - warmupEpochs) / (epochs - warmupEpochs)));
    }

    public ProbeConfig withEpochs(int e) {
        return new ProbeConfig(e, batchSize, baseLr, optimizer, weightDecay, momentum, Math.min(warmupEpochs, e), minLr, seed);
    }

    public ProbeConfig withBatchSize(int b) {
        return new ProbeConfig(epochs, b, baseLr, optimizer, weightDecay, momentum, warmupEpochs, minLr, seed);
    }

    public ProbeConfig withBaseLr(double lr) {
        return new ProbeConfig(epochs, batchSize, lr, optimizer, weightDecay, momentum, warmupEpochs, minLr, seed);
    }

    public ProbeConfig withOptimizer(OptimizerKind o, double weightDecay) {
        return new ProbeConfig(epochs, batchSize, baseLr, o, weightDecay, momentum, warmupEpochs, minLr, seed);
    }

    public ProbeConfig withWarmupEpochs(double w) {
        return new ProbeConfig(epochs, batchSize, baseLr, optimizer, weightDecay, momentum, w, minLr, seed);
    }

    public ProbeConfig withSeed(long s) {
        return new ProbeConfig(epochs, batchSize, baseLr, optimizer, weightDecay, momentum, warmupEpochs, minLr, s);
    }
}
