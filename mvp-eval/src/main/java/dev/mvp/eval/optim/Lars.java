package dev.mvp.eval.optim;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * LARS as MAE's linear probe uses it ({@code util/lars.py}): for a parameter of more than one dimension,
 * {@code dp = grad + wd * p}, scaled by the trust ratio {@code trust * ||p|| / ||dp||} (1 when either norm is 0);
 * parameters of one dimension (biases, norms) take the plain gradient, with no decay and no scaling. Then
 * {@code mu = momentum * mu + dp; p -= lr * mu}.
 */
public final class Lars extends Optimizer {
    private final double momentum;
    private final double trustCoefficient;

    /** MAE's defaults: momentum 0.9, trust coefficient 0.001. */
    public Lars(List<Param> params) {
        this(params, 0.9, 0.001);
    }

    public Lars(List<Param> params, double momentum, double trustCoefficient) {
        super(params, 1);
        this.momentum = momentum;
        this.trustCoefficient = trustCoefficient;
    }

    @Override protected void update(Param p, Tensor g, Tensor[] s, double lr) {
        Tensor w = p.tensor();
        Tensor dp = g;
        if (w.dim() > 1) {
            dp = p.weightDecay() == 0 ? g : g.add(w, new Scalar(p.weightDecay()));
            double paramNorm = w.norm().item_double();
            double updateNorm = dp.norm().item_double();
            if (paramNorm > 0 && updateNorm > 0) {
                // the ratio as torch computes it, in float32: trust * ||p|| / ||dp||
                float q = (float) ((float) (trustCoefficient * (float) paramNorm) / (float) updateNorm);
                dp = dp.mul(new Scalar(q));
            }
        }
        Tensor mu = s[0];
        mu.mul_(new Scalar(momentum)).add_(dp);
        w.add_(mu, new Scalar(-lr));
    }
}
