package dev.mvp.eval.finetune;

import java.util.SplittableRandom;

/** Symmetric Beta(a, a) draws from two Gamma draws (Marsaglia and Tsang's method; a boost for shapes below 1). */
final class Beta {
    private Beta() {}

    static double sample(double a, SplittableRandom rng) {
        double x = gamma(a, rng), y = gamma(a, rng);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    static double gamma(double shape, SplittableRandom rng) {
        if (shape < 1) {
            double u = rng.nextDouble();
            return gamma(shape + 1, rng) * Math.pow(u == 0 ? Double.MIN_VALUE : u, 1 / shape);
        }
        double d = shape - 1.0 / 3, c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x, v;
            do {
                x = gaussian(rng);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = rng.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
        }
    }

    private static double gaussian(SplittableRandom rng) {
        return rng.nextGaussian();
    }
}
