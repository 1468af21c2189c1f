package dev.mvp.train;

import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import java.util.Collection;

/**
 * libtorch's AdamW with BEiT's two parameter groups (group 0 decays, group 1 does not), and the only place that
 * touches the bindings' option layout (see docs/LIBTORCH-NOTES.md: the betas tuple is stored in reverse).
 */
public final class Optimizers {
    private Optimizers() {}

    /** Index of the weight-decay group. */
    public static final int DECAY_GROUP = 0;
    /** Index of the no-decay group. */
    public static final int NO_DECAY_GROUP = 1;

    /**
     * AdamW over the two groups. The learning rate and weight decay are set per step by
     * {@link #setLearningRate} and {@link #setWeightDecay}; eps is 1e-8 as in PyTorch.
     */
    public static AdamW adamW(ParameterGroups groups, double lr, double weightDecay, double beta1, double beta2) {
        AdamW optimizer = new AdamW(vector(groups.decay().values()), options(lr, weightDecay, beta1, beta2));
        optimizer.add_param_group(new OptimizerParamGroup(vector(groups.noDecay().values()), options(lr, 0.0, beta1, beta2)));
        return optimizer;
    }

    /** Sets the learning rate of every group. */
    public static void setLearningRate(AdamW optimizer, double lr) {
        var groups = optimizer.param_groups();
        for (long g = 0; g < groups.size(); g++) new AdamWOptions(groups.get(g).options()).set_lr(lr);
    }

    /** Sets the weight decay of the decay group (the other group stays at 0). */
    public static void setWeightDecay(AdamW optimizer, double weightDecay) {
        new AdamWOptions(optimizer.param_groups().get(DECAY_GROUP).options()).weight_decay().put(weightDecay);
    }

    /** The options of one group, for inspection: {lr, weight decay, beta1, beta2, eps}. */
    public static double[] groupOptions(AdamW optimizer, int group) {
        AdamWOptions o = new AdamWOptions(optimizer.param_groups().get(group).options());
        return new double[] {o.get_lr(), o.weight_decay().get(), o.betas().get(1), o.betas().get(0), o.eps().get()};
    }

    private static AdamWOptions options(double lr, double weightDecay, double beta1, double beta2) {
        AdamWOptions o = new AdamWOptions(lr);
        o.weight_decay().put(weightDecay);
        // std::tuple<double, double> is laid out in reverse by libstdc++: element 1 is beta1, element 0 is beta2
        o.betas().put(1, beta1);
        o.betas().put(0, beta2);
        o.eps().put(1e-8);
        return o;
    }

    private static TensorVector vector(Collection<Tensor> tensors) {
        TensorVector v = new TensorVector();
        for (Tensor t : tensors) v.push_back(t);
        return v;
    }
}
