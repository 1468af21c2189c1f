package dev.mvp.api;

import org.bytedeco.pytorch.Tensor;

/**
 * A frozen teacher that turns the unmasked image into per-token targets: CLIP or DINO features (continuous) or
 * d-VAE token ids (discrete), or a non-learned target such as pixels or HOG.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #inputSpec()} says which view of the crop to pass: its size and normalisation. The data pipeline
 *       prepares exactly that view from the same crop as the student's.</li>
 *   <li>{@link #targets(Tensor)} takes a float32 tensor [B, 3, S, S] (S = {@code inputSpec().size()}) already
 *       normalised, on {@link #device()}, and returns targets shaped as {@link #targetSpec()} says. It runs without
 *       autograd; the returned tensor is a new tensor owned by the caller (freed with the caller's
 *       {@link org.bytedeco.javacpp.PointerScope}). The tokenizer never keeps references to its inputs.</li>
 *   <li>The tokenizer's own weights are long-lived and released by {@link #close()}.</li>
 * </ul>
 */
public interface Tokenizer extends AutoCloseable {

    /** A short description for logs, e.g. {@code clip-vit(width 768, depth 12, patch 16, dim 512)}. */
    String name();

    /** The view of each crop this tokenizer reads. */
    ViewSpec inputSpec();

    /** What {@link #targets(Tensor)} returns. */
    TargetSpec targetSpec();

    /** The patch grid the targets are laid on (rows = cols for square inputs). */
    int gridSize();

    /** Computes the targets of a batch, without autograd. */
    Tensor targets(Tensor images);

    /** The device the tokenizer's weights live on. */
    default ComputeDevice device() {
        return ComputeDevice.CPU;
    }

    /** Moves the weights; returns {@code this}. */
    default Tokenizer to(ComputeDevice device) {
        if (!device.equals(ComputeDevice.CPU)) {
            throw new UnsupportedOperationException(name() + " cannot move to " + device);
        }
        return this;
    }

    @Override default void close() {}
}
