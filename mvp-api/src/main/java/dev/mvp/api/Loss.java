package dev.mvp.api;

import org.bytedeco.pytorch.Tensor;

/**
 * Compares the head's predictions with the teacher's targets.
 *
 * <p>Shapes: {@code predictions} is [B, 1 + N, D] (the CLS token then the N patch tokens, as the backbone returns
 * them, mapped by the head); {@code targets} is what the tokenizer's {@link TargetSpec} says ([B, 1 + N, D] or
 * [B, N, D] features, or [B, N] int64 ids); {@code mask} is bool [B, N], {@code true} = masked. Implementations do
 * not keep references to their arguments; the output tensors belong to the caller's scope.
 */
public interface Loss {

    /** A short name for logs and configuration. */
    String name();

    /** Whether this loss can consume targets of this kind (e.g. cross-entropy needs token ids). */
    boolean accepts(TargetSpec targets);

    LossOutput compute(Tensor predictions, Tensor targets, Tensor mask);
}
