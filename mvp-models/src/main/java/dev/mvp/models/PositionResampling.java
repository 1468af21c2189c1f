package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.pytorch.DoubleVector;
import org.bytedeco.pytorch.InterpolateFuncOptions;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.kBicubic;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

/**
 * Position parameters of a checkpoint carried to another patch grid (another image size), as timm and BEiT do
 * when they load a checkpoint into a model built for a different resolution: a 224 checkpoint (14 x 14 patches of
 * 16) then runs at 160 (10 x 10), 384 (24 x 24) or 512 (32 x 32).
 *
 * <p>All methods return new float32 tensors in the caller's scope, computed without autograd; inputs are not
 * modified.
 */
public final class PositionResampling {
    private PositionResampling() {}

    /** Whose interpolation of absolute position embeddings to reproduce. */
    public enum Style {
        /**
         * timm ({@code resample_abs_pos_embed}, used by its checkpoint filters): bicubic with
         * {@code antialias=True} (PIL-style cubic, a = -0.5, widened support when shrinking).
         */
        TIMM,
        /**
         * BEiT ({@code run_class_finetuning.py}) and DeiT: {@code F.interpolate(mode='bicubic',
         * align_corners=False)} (a = -0.75, no antialiasing).
         */
        BEIT,
        /**
         * DINO ({@code VisionTransformer.interpolate_pos_encoding}, facebookresearch/dino): {@code F.interpolate(
         * mode='bicubic', scale_factor=(g' + 0.1) / g, align_corners=False)} (a = -0.75, no antialiasing). DINO adds
         * 0.1 to the new grid g' "to avoid floating point error"; since the scale factor is passed on (not recomputed
         * from the sizes), it also sets the sampling positions: output pixel i samples input
         * {@code (i + 0.5) * g / (g' + 0.1) - 0.5}, not {@code (i + 0.5) * g / g' - 0.5} as the other styles do.
         */
        DINO
    }

    /**
     * The absolute position embedding {@code [1, 1 + g*g, C]} resampled to {@code [1, 1 + newGrid^2, C]}: the CLS
     * embedding kept apart and unchanged, the patch embeddings interpolated bicubically as a g x g image with C
     * channels. Returned unchanged (a copy) when the grid already matches.
     *
     * @throws IllegalArgumentException if {@code posEmbed} is not [1, 1 + g*g, C] for some g
     */
    public static Tensor absolute(Tensor posEmbed, int newGrid, Style style) {
        Torch.init();
        long[] s = Tensors.shape(posEmbed);
        int grid = s.length == 3 && s[0] == 1 ? squareRoot(s[1] - 1) : -1;
        if (grid < 1) {
            throw new IllegalArgumentException("position embedding must be [1, 1 + g*g, C], got " + Arrays.toString(s));
        }
        if (newGrid < 1) throw new IllegalArgumentException("grid must be positive, got " + newGrid);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            Tensor pos = posEmbed.detach().to(ScalarType.Float);
            if (grid == newGrid) return pos.clone();
            long c = s[2];
            Tensor cls = pos.narrow(1, 0, 1);
            Tensor patches = pos.narrow(1, 1, (long) grid * grid)
                    .reshape(new long[] {1, grid, grid, c}).permute(new long[] {0, 3, 1, 2});
            InterpolateFuncOptions options = new InterpolateFuncOptions();
            if (style == Style.DINO) {
                // output size floor(g * (g' + 0.1) / g) = g'; libtorch, like PyTorch, samples with the given factor
                double factor = (newGrid + 0.1) / grid;
                options.scale_factor().put(new DoubleVector(factor, factor));
                options.recompute_scale_factor().put(false);
            } else {
                options.size().put(new LongVector(new long[] {newGrid, newGrid}));
            }
            options.mode().put(new kBicubic());
            options.align_corners().put(false);
            options.antialias().put(style == Style.TIMM);
            Tensor interpolated = torch.interpolate(patches, options);
            if (interpolated.size(2) != newGrid || interpolated.size(3) != newGrid) { // DINO's own assert
                throw new IllegalStateException("interpolating a " + grid + "x" + grid + " grid gave "
                        + interpolated.size(2) + "x" + interpolated.size(3) + ", not " + newGrid + "x" + newGrid);
            }
            Tensor resized = interpolated.permute(new long[] {0, 2, 3, 1}).reshape(new long[] {1, (long) newGrid * newGrid, c});
            return torch.cat(new TensorVector(cls, resized), 1);
        }
    }

    /**
     * A relative position bias table {@code [(2g-1)^2 + 3, heads]} resampled to the table of a
     * {@code newGrid x newGrid} grid, by BEiT's rule ({@code run_class_finetuning.py}): the three CLS entries are kept;
     * the {@code (2g-1) x (2g-1)} offsets are placed at positions spaced by a geometric progression whose ratio q
     * (found by bisection in [1.01, 1.5]) makes the outermost one land on the new grid's largest offset, and a
     * bicubic interpolating spline through them (scipy's {@code interp2d(kind='cubic')}: FITPACK's not-a-knot
     * tensor-product spline) is evaluated at the new integer offsets. Computed in double, rounded to float32 as BEiT's
     * {@code torch.Tensor(...)} does.
     *
     * @throws IllegalArgumentException if the table's row count is not {@code (2g-1)^2 + 3}, or g < 3 (FITPACK needs
     *                                  4 points per axis for a cubic)
     */
    public static Tensor relativeTable(Tensor table, int newGrid) {
        Torch.init();
        long[] s = Tensors.shape(table);
        int grid = s.length == 2 ? RelativePositionBias.gridOfTableRows(s[0]) : -1;
        if (grid < 1) {
            throw new IllegalArgumentException("relative position bias table must be [(2g-1)^2 + 3, heads], got "
                    + Arrays.toString(s));
        }
        if (newGrid < 1) throw new IllegalArgumentException("grid must be positive, got " + newGrid);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            Tensor src = table.detach().to(ScalarType.Float);
            if (grid == newGrid) return src.clone();
            if (grid < 3) {
                throw new IllegalArgumentException("cannot resample the relative position bias of a " + grid + "x" + grid
                        + " grid: BEiT's bicubic spline needs at least 3x3 patches");
            }
            int heads = (int) s[1];
            int srcSide = 2 * grid - 1, dstSide = 2 * newGrid - 1;
            float[] values = Tensors.toFloats(src);                     // row-major [rows, heads]
            double[][] w = splineMatrix(beitSourcePositions(srcSide, dstSide), targetPositions(dstSide));
            int dstRows = dstSide * dstSide;
            float[] out = new float[(dstRows + 3) * heads];
            double[] z = new double[srcSide * srcSide];
            double[] tmp = new double[srcSide * dstSide];
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < z.length; i++) z[i] = values[i * heads + h];
                // along x (columns, the w offset) for every source row, then along y (rows, the h offset)
                for (int r = 0; r < srcSide; r++) {
                    for (int c = 0; c < dstSide; c++) {
                        double sum = 0;
                        for (int k = 0; k < srcSide; k++) sum += w[c][k] * z[r * srcSide + k];
                        tmp[r * dstSide + c] = sum;
                    }
                }
                for (int r = 0; r < dstSide; r++) {
                    for (int c = 0; c < dstSide; c++) {
                        double sum = 0;
                        for (int k = 0; k < srcSide; k++) sum += w[r][k] * tmp[k * dstSide + c];
                        out[(r * dstSide + c) * heads + h] = (float) sum;
                    }
                }
                for (int e = 0; e < 3; e++) out[(dstRows + e) * heads + h] = values[(srcSide * srcSide + e) * heads + h];
            }
            return Tensors.ofFloats(out, dstRows + 3, heads);
        }
    }

    /**
     * BEiT's source offsets: {@code -d_n .. -d_1, 0, d_1 .. d_n} with n = srcSide / 2, d_1 = 1 and
     * d_{i+1} = d_i + q^i, q the bisection's last midpoint.
     */
    static double[] beitSourcePositions(int srcSide, int dstSide) {
        int n = srcSide / 2;
        double left = 1.01, right = 1.5, q = 0;
        while (right - left > 1e-6) {
            q = (left + right) / 2.0;
            double gp = (1.0 - Math.pow(q, n)) / (1.0 - q);
            if (gp > dstSide / 2) right = q;
            else left = q;
        }
        double[] dis = new double[n];
        double cur = 1;
        for (int i = 0; i < n; i++) {
            dis[i] = cur;
            cur += Math.pow(q, i + 1);
        }
        double[] x = new double[2 * n + 1];
        for (int i = 0; i < n; i++) {
            x[i] = -dis[n - 1 - i];
            x[n + 1 + i] = dis[i];
        }
        return x;
    }

    /** {@code np.arange(-t, t + 0.1, 1.0)} with t = dstSide / 2: the new grid's integer offsets. */
    private static double[] targetPositions(int dstSide) {
        int t = dstSide / 2;
        double[] dx = new double[2 * t + 1];
        for (int i = 0; i < dx.length; i++) dx[i] = -t + i;
        return dx;
    }

    /**
     * The linear map from values at the knots {@code x} (increasing, at least 4) to the not-a-knot cubic spline
     * through them evaluated at {@code at}: row i holds the weights of {@code s(at[i])}. Points outside [x_0, x_n]
     * are clamped to the boundary, as FITPACK's {@code bispev} does.
     */
    static double[][] splineMatrix(double[] x, double[] at) {
        int n = x.length;
        if (n < 4) throw new IllegalArgumentException("a not-a-knot cubic spline needs at least 4 points, got " + n);
        double[][] weights = new double[at.length][n];
        double[] y = new double[n];
        for (int k = 0; k < n; k++) {
            Arrays.fill(y, 0);
            y[k] = 1;
            double[] m = secondDerivatives(x, y);
            for (int i = 0; i < at.length; i++) weights[i][k] = evaluate(x, y, m, at[i]);
        }
        return weights;
    }

    /**
     * The second derivatives M of the not-a-knot cubic spline through (x, y): the interior continuity equations
     * {@code h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (slope_i - slope_{i-1})} and, at each end,
     * a continuous third derivative across the second knot. Solved by Gaussian elimination with partial pivoting.
     */
    private static double[] secondDerivatives(double[] x, double[] y) {
        int n = x.length;
        double[] h = new double[n - 1];
        for (int i = 0; i < n - 1; i++) h[i] = x[i + 1] - x[i];
        double[][] a = new double[n][n + 1];
        a[0][0] = h[1];
        a[0][1] = -(h[0] + h[1]);
        a[0][2] = h[0];
        for (int i = 1; i < n - 1; i++) {
            a[i][i - 1] = h[i - 1];
            a[i][i] = 2 * (h[i - 1] + h[i]);
            a[i][i + 1] = h[i];
            a[i][n] = 6 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1]);
        }
        a[n - 1][n - 3] = h[n - 2];
        a[n - 1][n - 2] = -(h[n - 3] + h[n - 2]);
        a[n - 1][n - 1] = h[n - 3];
        return solve(a);
    }

    /** Solves the augmented system {@code a = [A | b]} in place. */
    private static double[] solve(double[][] a) {
        int n = a.length;
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
            double[] swap = a[col];
            a[col] = a[pivot];
            a[pivot] = swap;
            for (int r = col + 1; r < n; r++) {
                double f = a[r][col] / a[col][col];
                if (f == 0) continue;
                for (int c = col; c <= n; c++) a[r][c] -= f * a[col][c];
            }
        }
        double[] m = new double[n];
        for (int r = n - 1; r >= 0; r--) {
            double sum = a[r][n];
            for (int c = r + 1; c < n; c++) sum -= a[r][c] * m[c];
            m[r] = sum / a[r][r];
        }
        return m;
    }

    private static double evaluate(double[] x, double[] y, double[] m, double t) {
        int n = x.length;
        t = Math.min(Math.max(t, x[0]), x[n - 1]);
        int i = 0;
        while (i < n - 2 && t > x[i + 1]) i++;
        double h = x[i + 1] - x[i], a = x[i + 1] - t, b = t - x[i];
        return m[i] * a * a * a / (6 * h) + m[i + 1] * b * b * b / (6 * h)
                + (y[i] / h - m[i] * h / 6) * a + (y[i + 1] / h - m[i + 1] * h / 6) * b;
    }

    /** The integer square root of {@code v} if it is a positive perfect square, else -1. */
    static int squareRoot(long v) {
        if (v < 1) return -1;
        long r = Math.round(Math.sqrt(v));
        return r * r == v ? (int) r : -1;
    }
}
