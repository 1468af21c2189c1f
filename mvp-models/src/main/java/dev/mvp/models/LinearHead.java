package dev.mvp.models;

import dev.mvp.api.Backbone;
import dev.mvp.api.Head;
import dev.mvp.api.Tokenizer;
import dev.mvp.models.nn.Linear;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * MVP's head: one linear layer per token from the student's width into the teacher's space (or, for BEiT, onto
 * the codebook's logits). Parameters {@code weight} [out, in] (truncated normal, std 0.02, as BEiT's lm_head)
 * and {@code bias} [out] (zeros).
 */
public final class LinearHead extends Module implements Head {
    private final Linear linear;

    public LinearHead(int inputDim, int outputDim) {
        linear = new Linear(inputDim, outputDim, true);
        register_parameter("weight", linear.weight());
        register_parameter("bias", linear.bias());
    }

    /** A head from {@code backbone}'s width to what {@code tokenizer}'s targets need. */
    public static LinearHead of(Backbone backbone, Tokenizer tokenizer) {
        return new LinearHead(backbone.width(), tokenizer.targetSpec().headOutputs());
    }

    @Override public int inputDim() {
        return linear.in();
    }

    @Override public int outputDim() {
        return linear.out();
    }

    @Override public Tensor forward(Tensor tokens) {
        return linear.forward(tokens);
    }

    @Override public Module module() {
        return this;
    }
}
