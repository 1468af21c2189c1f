package dev.mvp.losses;

/** Which patch tokens a loss compares with their targets. */
public enum PatchSelection {
    /** Every patch token, masked or not (MVP's equation 9). */
    ALL,
    /** Only the masked patch tokens (BEiT, EVA, MaskDistill, MAE). */
    MASKED
}
