package dev.mvp.api;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * The student network: a patch-based encoder that returns one feature vector per token.
 *
 * <p>Contract of {@link #forward(Tensor, Tensor)}: {@code images} is float32 [B, 3, H, W] with H = W =
 * {@link #imageSize()}; {@code mask} is a bool tensor [B, N] (N = {@link #numPatches()}, row-major, {@code true} =
 * masked) or {@code null} for no masking; masked patch embeddings are replaced by a learnable mask token before
 * position embeddings are added. The result is float32 [B, 1 + N, {@link #width()}]: the CLS token then the patch
 * tokens, after the final norm. The result belongs to the caller's scope and is part of the autograd graph.
 *
 * <p>Parameters live in {@link #module()} (registered, so the optimiser and checkpoints find them by name).
 */
public interface Backbone {

    /** The token width (embedding dimension). */
    int width();

    /** Input side length in pixels. */
    int imageSize();

    /** Patch side length in pixels. */
    int patchSize();

    /** Patches per side. */
    default int gridSize() {
        return imageSize() / patchSize();
    }

    /** Patches per image. */
    default int numPatches() {
        return gridSize() * gridSize();
    }

    /** Encodes a batch; see the class comment for shapes. */
    Tensor forward(Tensor images, Tensor mask);

    /** The libtorch module that owns the parameters. */
    Module module();

    /** A short description for logs (not {@code name()}: that is taken by libtorch's {@code Module}). */
    String description();
}
