package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Optimizer;
import dev.mvp.eval.optim.Param;
import dev.mvp.models.nn.Init;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * MAE's linear probe ({@code main_linprobe.py}): {@code BatchNorm1d(D, affine=False, eps=1e-6)} followed by
 * {@code Linear(D, classes)}, on frozen features. The batch norm has no parameters, only running statistics
 * ({@code running_mean}, {@code running_var}, momentum 0.1): in training mode it normalises with the batch's
 * statistics, in {@code eval()} mode with the running ones, exactly as PyTorch's. The linear layer starts from
 * timm's {@code trunc_normal_(std=0.01)} weights and zero bias, as MAE initialises the probe head.
 *
 * <p>Parameters {@code head.weight} [classes, D], {@code head.bias} [classes]; buffers {@code bn.running_mean},
 * {@code bn.running_var} [D]. Build it outside any PointerScope.
 */
public final class LinearProbe extends Module {
    /** MAE's probe batch-norm epsilon. */
    public static final double BN_EPS = 1e-6;
    private static final double BN_MOMENTUM = 0.1;

    private final int dim;
    private final int classes;
    private final Tensor runningMean;
    private final Tensor runningVar;
    private final Tensor weight;
    private final Tensor bias;
    /** The containers, kept reachable: train()/eval() call back into them (docs/LIBTORCH-NOTES.md). */
    private final Module bnModule;
    private final Module headModule;

    public LinearProbe(int dim, int classes) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) throw new IllegalStateException("build the probe outside any PointerScope");
        if (dim < 1 || classes < 1) throw new IllegalArgumentException("dim and classes must be >= 1, got " + dim + ", " + classes);
        this.dim = dim;
        this.classes = classes;
        Module bn = bnModule = register_module("bn", new Module());
        runningMean = torch.zeros(new long[] {dim});
        runningVar = torch.ones(new long[] {dim});
        bn.register_buffer("running_mean", runningMean);
        bn.register_buffer("running_var", runningVar);
        Module head = headModule = register_module("head", new Module());
        weight = torch.empty(new long[] {classes, dim});
        Init.truncNormal_(weight, 0.01, -2, 2);
        bias = torch.zeros(new long[] {classes});
        head.register_parameter("weight", weight);
        head.register_parameter("bias", bias);
    }

    public int dim() {
        return dim;
    }

    public int classes() {
        return classes;
    }

    /** {@code head.weight} [classes, D] (the module's own tensor). */
    public Tensor weight() {
        return weight;
    }

    /** {@code head.bias} [classes]. */
    public Tensor bias() {
        return bias;
    }

    /** Class logits [B, classes] of features [B, D]; batch statistics in training mode, running ones in eval mode. */
    public Tensor forward(Tensor features) {
        if (features.dim() != 2 || features.size(1) != dim) {
            throw new IllegalArgumentException("expected features [B, " + dim + "], got " + Tensors.shapeString(features));
        }
        Tensor x = torch.batch_norm(features, new TensorOptional(), new TensorOptional(), new TensorOptional(runningMean),
                new TensorOptional(runningVar), is_training(), BN_MOMENTUM, BN_EPS, false);
        return torch.linear(x, weight, new TensorOptional(bias));
    }

    /** The trainable parameters: the head's weight and bias, each with {@code weightDecay} (MAE: 0). */
    public List<Param> params(double weightDecay) {
        return List.of(new Param("head.weight", weight, 1, weightDecay), new Param("head.bias", bias, 1, weightDecay));
    }

    /**
     * One training step on a batch in training mode: cross-entropy of {@code forward(x)} against {@code labels}
     * (int64 [B]), backward, {@code optimizer.step(lr)}. Runs in its own PointerScope.
     *
     * @return the batch's loss
     */
    public double trainStep(Tensor x, Tensor labels, Optimizer optimizer, double lr) {
        train(true);
        try (PointerScope scope = new PointerScope()) {
            optimizer.zeroGrad();
            Tensor loss = torch.cross_entropy(forward(x), labels);
            loss.backward();
            optimizer.step(lr);
            return loss.item_double();
        }
    }

    /** Top-1 and top-5 accuracy (percent) on a feature set, in eval mode, in batches. */
    public double[] evaluate(FeatureSet set, int batchSize) {
        eval();
        long c1 = 0, c5 = 0;
        int[] labels = set.labels();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (int start = 0; start < set.size(); start += batchSize) {
                int b = Math.min(batchSize, set.size() - start);
                try (PointerScope scope = new PointerScope()) {
                    float[] logits = Tensors.toFloats(forward(set.features().narrow(0, start, b)));
                    for (int r = 0; r < b; r++) {
                        int[] ranked = KnnClassifier.rank(logits, r * classes, classes);
                        if (ranked[0] == labels[start + r]) c1++;
                        for (int j = 0; j < Math.min(5, classes); j++) if (ranked[j] == labels[start + r]) c5++;
                    }
                }
            }
        }
        int n = set.size();
        return new double[] {n == 0 ? Double.NaN : 100.0 * c1 / n, n == 0 ? Double.NaN : 100.0 * c5 / n};
    }
}
