package dev.mvp.models.nn;

import dev.mvp.api.Torch;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Parameter initialisers, drawing from libtorch's default generator (seed it with {@code torch.manual_seed}). */
public final class Init {
    private Init() {}

    /**
     * timm's {@code trunc_normal_(t, std=std)}: normal(0, std) truncated to the ABSOLUTE interval [-2, 2] (timm's
     * defaults a=-2, b=2), which for std 0.02 never truncates in practice. A new float32 tensor.
     */
    public static Tensor truncNormal(long[] shape, double std) {
        Torch.init();
        Tensor t = torch.empty(shape);
        torch.normal_(t, 0.0, std);
        return t.clamp_(new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(-2.0)),
                new org.bytedeco.pytorch.ScalarOptional(new org.bytedeco.pytorch.Scalar(2.0)));
    }

    /**
     * PyTorch's default initialisation of a Conv2d / Linear weight ({@code kaiming_uniform_(a=sqrt(5))}), i.e.
     * uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); also used for their bias.
     */
    public static Tensor pytorchDefault(long[] shape, long fanIn) {
        Torch.init();
        double bound = 1.0 / Math.sqrt(fanIn);
        Tensor t = torch.empty(shape);
        return t.uniform_(-bound, bound, new org.bytedeco.pytorch.GeneratorOptional());
    }
}
