package dev.mvp.models.nn;

import dev.mvp.api.Torch;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** LayerNorm over the last dimension with {@code weight} (ones) and {@code bias} (zeros), as PyTorch names them. */
public final class LayerNorm extends Module {
    private final Tensor weight;
    private final Tensor bias;
    private final long[] shape;
    private final double eps;

    public LayerNorm(int dim, double eps) {
        Torch.init();
        this.shape = new long[] {dim};
        this.eps = eps;
        this.weight = torch.ones(shape);
        this.bias = torch.zeros(shape);
        register_parameter("weight", weight);
        register_parameter("bias", bias);
    }

    public Tensor forward(Tensor x) {
        return torch.layer_norm(x, shape, new TensorOptional(weight), new TensorOptional(bias), eps, true);
    }

    public double eps() {
        return eps;
    }
}
