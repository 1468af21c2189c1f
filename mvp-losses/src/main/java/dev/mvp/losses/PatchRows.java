package dev.mvp.losses;

import org.bytedeco.pytorch.Tensor;

/**
 * The rows a loss reads from [B, N, ...] patch tensors: all B * N of them, or the masked ones in row-major order.
 * The index is computed once per batch and applied to predictions and targets alike.
 */
final class PatchRows {
    private final Tensor index;   // int64 [K] into the flattened B * N rows; null = all rows

    private PatchRows(Tensor index) {
        this.index = index;
    }

    /** The rows {@code selection} picks from a batch with this bool [B, N] mask. */
    static PatchRows of(PatchSelection selection, Tensor mask, String loss) {
        if (selection == PatchSelection.ALL) return new PatchRows(null);
        Tensor index = mask.reshape(-1).nonzero().reshape(-1);
        if (index.size(0) == 0) {
            throw new IllegalArgumentException(loss + ": the mask " + LossInputs.describe(mask)
                    + " masks no patch, but this loss compares masked patches only");
        }
        return new PatchRows(index);
    }

    /** The selected rows of {@code patches} [B, N, ...]: [K, ...]. */
    Tensor from(Tensor patches) {
        Tensor flat = patches.flatten(0, 1);
        return index == null ? flat : flat.index_select(0, index);
    }
}
