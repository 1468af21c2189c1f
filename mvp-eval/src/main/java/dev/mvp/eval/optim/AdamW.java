package dev.mvp.eval.optim;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * {@code torch.optim.AdamW} (amsgrad off) with a learning rate per parameter ({@code lr * lrScale}, as BEiT's
 * layer-wise decay sets each group's {@code lr}):
 * <pre>
 * p *= 1 - lr * wd
 * m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 */
public final class AdamW extends Optimizer {
    private final double beta1;
    private final double beta2;
    private final double eps;

    /** BEiT's fine-tuning betas (0.9, 0.999) and eps 1e-8. */
    public AdamW(List<Param> params) {
        this(params, 0.9, 0.999, 1e-8);
    }

    public AdamW(List<Param> params, double beta1, double beta2, double eps) {
        super(params, 2);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    @Override protected void update(Param p, Tensor g, Tensor[] s, double lr) {
        Tensor w = p.tensor();
        if (p.weightDecay() != 0) w.mul_(new Scalar(1 - lr * p.weightDecay()));
        Tensor m = s[0], v = s[1];
        m.mul_(new Scalar(beta1)).add_(g, new Scalar(1 - beta1));
        v.mul_(new Scalar(beta2)).addcmul_(g, g, new Scalar(1 - beta2));
        double c1 = 1 - Math.pow(beta1, steps), c2 = 1 - Math.pow(beta2, steps);
        Tensor denom = v.sqrt().div_(new Scalar(Math.sqrt(c2))).add_(new Scalar(eps));
        w.addcdiv_(m, denom, new Scalar(-lr / c1));
    }
}
