package dev.mvp.api;

/**
 * Numeric precision of a computation. Master weights are always float32; {@code BF16}/{@code FP16} mean autocast
 * for the forward pass (or half-precision storage for a frozen teacher).
 */
public enum Precision {
    FP32, BF16, FP16
}
