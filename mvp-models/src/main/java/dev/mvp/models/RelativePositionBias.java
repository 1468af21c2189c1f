package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * BEiT's learned relative position bias for a g x g patch grid plus the CLS token: a table
 * {@code relative_position_bias_table} of {@code (2g-1)^2 + 3} rows (every relative offset between two patches, then
 * CLS-to-patch, patch-to-CLS and CLS-to-CLS) by {@code heads} columns, registered on the module that owns it (the
 * shared {@code rel_pos_bias} module or a block's {@code attn}), initialised to zero as BEiT does.
 *
 * <p>The lookup index is BEiT's {@code relative_position_index}, computed here and kept as a plain long-lived tensor
 * (not a registered buffer: it is a function of the grid, so checkpoints need not carry it; the BEiT exporter writes
 * it because BEiT's own model has it as a buffer).
 */
final class RelativePositionBias {
    static final String TABLE = "relative_position_bias_table";
    static final String INDEX = "relative_position_index";

    private final int grid;
    private final int heads;
    private final Tensor table;
    private final Tensor index;

    /** Registers a zero table on {@code owner}. Build outside any PointerScope (the tensors are long-lived). */
    RelativePositionBias(Module owner, int grid, int heads) {
        Torch.init();
        this.grid = grid;
        this.heads = heads;
        this.table = torch.zeros(new long[] {tableRows(grid), heads});
        owner.register_parameter(TABLE, table);
        this.index = Tensors.ofLongs(index(grid), (long) tokens(grid) * tokens(grid));
    }

    /** The bias added to the attention logits: [heads, T, T], T = g^2 + 1, in the caller's scope. */
    Tensor bias() {
        long t = tokens(grid);
        return table.index_select(0, index).view(new long[] {t, t, heads}).permute(new long[] {2, 0, 1}).contiguous();
    }

    Tensor table() {
        return table;
    }

    /** The lookup index, int64 [T * T] (long-lived; {@link VisionTransformer#moveTo} moves it with the table). */
    Tensor index() {
        return index;
    }

    /** {@code (2g - 1)^2 + 3}. */
    static int tableRows(int grid) {
        return (2 * grid - 1) * (2 * grid - 1) + 3;
    }

    /** The grid side g whose table has {@code rows} rows, or -1 if none has. */
    static int gridOfTableRows(long rows) {
        long side = Math.round(Math.sqrt(Math.max(0, rows - 3)));
        if (side * side + 3 != rows || side % 2 == 0) return -1;
        return (int) (side + 1) / 2;
    }

    private static int tokens(int grid) {
        return grid * grid + 1;
    }

    /**
     * BEiT's {@code relative_position_index}, row-major [T, T]: for patches i = (hi, wi) and j = (hj, wj),
     * {@code (hi - hj + g - 1) * (2g - 1) + (wi - wj + g - 1)}; row 0 (CLS as query) is {@code rows - 3}, column 0
     * (CLS as key) {@code rows - 2}, and (0, 0) {@code rows - 1}.
     */
    static long[] index(int grid) {
        int t = tokens(grid), side = 2 * grid - 1, rows = tableRows(grid);
        long[] index = new long[t * t];
        for (int i = 0; i < grid * grid; i++) {
            for (int j = 0; j < grid * grid; j++) {
                int dh = i / grid - j / grid + grid - 1, dw = i % grid - j % grid + grid - 1;
                index[(1 + i) * t + 1 + j] = (long) dh * side + dw;
            }
        }
        for (int j = 0; j < t; j++) index[j] = rows - 3;
        for (int i = 0; i < t; i++) index[i * t] = rows - 2;
        index[0] = rows - 1;
        return index;
    }
}
