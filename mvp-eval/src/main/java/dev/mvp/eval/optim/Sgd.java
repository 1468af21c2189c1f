package dev.mvp.eval.optim;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * {@code torch.optim.SGD} with momentum (dampening 0, no Nesterov): {@code d = grad + wd * p} (the parameter's own
 * decay, applied to every parameter that has one), {@code buf = momentum * buf + d} ({@code buf = d} at the first
 * step), {@code p -= lr * buf}.
 */
public final class Sgd extends Optimizer {
    private final double momentum;

    public Sgd(List<Param> params, double momentum) {
        super(params, 1);
        this.momentum = momentum;
    }

    @Override protected void update(Param p, Tensor g, Tensor[] s, double lr) {
        Tensor w = p.tensor();
        Tensor d = p.weightDecay() == 0 ? g : g.add(w, new Scalar(p.weightDecay()));
        Tensor buf = s[0];
        if (momentum != 0) {
            buf.mul_(new Scalar(momentum)).add_(d);
            d = buf;
        }
        w.add_(d, new Scalar(-lr));
    }
}
