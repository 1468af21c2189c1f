package dev.mvp.api;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * Maps the student's tokens into the target space: [B, T, inputDim] to [B, T, outputDim], applied per token
 * (for MVP, one linear layer into CLIP's joint space; for BEiT, logits over the codebook).
 * The result belongs to the caller's scope and is part of the autograd graph.
 */
public interface Head {

    int inputDim();

    int outputDim();

    Tensor forward(Tensor tokens);

    /** The libtorch module that owns the parameters. */
    Module module();
}
