package dev.mvp.models.nn;

import dev.mvp.api.Torch;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code y = x W^T + b}, with parameters named {@code weight} [out, in] and {@code bias} [out] as in PyTorch.
 * Initialised as BEiT's pre-training model initialises every linear layer: weight {@link Init#beitTruncNormal}
 * (std 0.02, truncated at plus or minus 0.02), bias zero.
 */
public final class Linear extends Module {
    private final Tensor weight;
    private final Tensor bias;
    private final int in;
    private final int out;

    public Linear(int in, int out, boolean bias) {
        Torch.init();
        this.in = in;
        this.out = out;
        this.weight = Init.beitTruncNormal(new long[] {out, in}, 0.02);
        register_parameter("weight", weight);
        if (bias) {
            this.bias = torch.zeros(new long[] {out});
            register_parameter("bias", this.bias);
        } else {
            this.bias = null;
        }
    }

    public Tensor forward(Tensor x) {
        return bias == null ? torch.linear(x, weight) : torch.linear(x, weight, new TensorOptional(bias));
    }

    public Tensor weight() {
        return weight;
    }

    /** The bias, or {@code null} when built without one. */
    public Tensor bias() {
        return bias;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }
}
