package dev.mvp.models.nn;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Parameter initialisers, drawing from libtorch's default generator (seed it with {@code torch.manual_seed}), in
 * place and without recording gradients.
 */
public final class Init {
    private Init() {}

    /**
     * timm's {@code trunc_normal_(t, mean=0, std, a, b)} by its own algorithm (inverse CDF): uniform in
     * [2 cdf(a/std) - 1, 2 cdf(b/std) - 1], {@code erfinv}, times {@code std sqrt 2}, clamped to [a, b].
     * {@code a} and {@code b} are absolute bounds, not multiples of std. Returns {@code t}.
     */
    public static Tensor truncNormal_(Tensor t, double std, double a, double b) {
        Torch.init();
        double l = normalCdf(a / std), u = normalCdf(b / std);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            t.uniform_(2 * l - 1, 2 * u - 1, new GeneratorOptional());
            t.erfinv_();
            t.mul_(Tensors.scalar(std * Math.sqrt(2.0)));
            t.clamp_(new ScalarOptional(new Scalar(a)), new ScalarOptional(new Scalar(b)));
        }
        return t;
    }

    /**
     * BEiT's pre-training initialiser: {@code trunc_normal_(t, std=std)} with the bounds at plus or minus one std
     * ({@code modeling_pretrain.py} wraps timm's with {@code a=-std, b=std}). Returns {@code t}.
     */
    public static Tensor beitTruncNormal_(Tensor t, double std) {
        return truncNormal_(t, std, -std, std);
    }

    /** A new float32 tensor of {@code shape} drawn with {@link #beitTruncNormal_}. */
    public static Tensor beitTruncNormal(long[] shape, double std) {
        Torch.init();
        return beitTruncNormal_(torch.empty(shape), std);
    }

    /** Fills {@code t} with {@code value}; returns {@code t}. */
    public static Tensor constant_(Tensor t, double value) {
        try (NoGradGuard noGrad = new NoGradGuard()) {
            t.fill_(Tensors.scalar(value));
        }
        return t;
    }

    /** The standard normal CDF, {@code (1 + erf(x / sqrt 2)) / 2}, as timm computes it. */
    static double normalCdf(double x) {
        return (1.0 + erf(x / Math.sqrt(2.0))) / 2.0;
    }

    /** erf to double precision (Abramowitz-Stegun 7.1.26 is too coarse; this is the series / continued fraction). */
    static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 2.5) {
            // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
                term *= -x2 / n;
                sum += term / (2 * n + 1);
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), Lentz's continued fraction
            double f = ax, c = ax, d = 0, tiny = 1e-300;
            for (int k = 1; k < 500; k++) {
                double an = k / 2.0;
                d = ax + an * d;
                d = d == 0 ? tiny : d;
                c = ax + an / c;
                c = c == 0 ? tiny : c;
                d = 1 / d;
                double delta = c * d;
                f *= delta;
                if (Math.abs(delta - 1) < 1e-16) break;
            }
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }
}
