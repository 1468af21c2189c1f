package dev.mvp.data;

import dev.mvp.api.ImageNormalization;

/**
 * torchvision's {@code ToTensor} then {@code Normalize} (or BEiT's {@code map_pixels}) for 8-bit pixels, as one table
 * lookup per sample: the table holds, per channel and byte value v, exactly the float32 torch computes,
 * {@code (v / 255f - mean) / std} or {@code a * (v / 255f) + b}. Writes planar (CHW) floats, optionally mirrored.
 * Rows that are already planar ({@link #planarRowToPlanar}) are computed with that arithmetic instead, which gives
 * the same floats and vectorises.
 */
final class PixelNormalizer {
    private final float[] table = new float[3 * 256];
    /** {@code value}'s arithmetic, per channel: mean and std, or (for an affine map) a and b. */
    private final boolean affine;
    private final float[] first = new float[3], second = new float[3];

    PixelNormalizer(ImageNormalization normalization) {
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) table[c * 256 + v] = value(normalization, c, v);
        }
        affine = normalization instanceof ImageNormalization.Affine;
        for (int c = 0; c < 3; c++) {
            switch (normalization) {
                case ImageNormalization.MeanStd m -> {
                    first[c] = m.mean()[c];
                    second[c] = m.std()[c];
                }
                case ImageNormalization.Affine a -> {
                    first[c] = a.a();
                    second[c] = a.b();
                }
            }
        }
    }

    /** The model input for byte value {@code v} of channel {@code c}, in float32 like torch. */
    static float value(ImageNormalization normalization, int c, int v) {
        float x = v / 255f;
        return switch (normalization) {
            case ImageNormalization.MeanStd m -> (x - m.mean()[c]) / m.std()[c];
            case ImageNormalization.Affine a -> a.a() * x + a.b();
        };
    }

    /**
     * Converts an interleaved RGB image to planar floats: {@code out[c * width * height + y * width + x]}, with x
     * mirrored ({@code width - 1 - x}) when {@code flip}.
     */
    void toPlanar(byte[] rgb, int width, int height, boolean flip, float[] out) {
        toPlanar(rgb, width, height, flip, out, 0);
    }

    /** As {@link #toPlanar(byte[], int, int, boolean, float[])}, writing from {@code out[offset]} on. */
    void toPlanar(byte[] rgb, int width, int height, boolean flip, float[] out, int offset) {
        for (int y = 0; y < height; y++) toPlanarRow(rgb, 3 * y * width, width, height, y, flip, out, offset);
    }

    /**
     * Row {@code y} of {@link #toPlanar(byte[], int, int, boolean, float[], int)}: the {@code width} interleaved RGB
     * pixels at {@code rgb[rgbOffset ..]} become {@code out[offset + c * width * height + y * width + x]} (x mirrored
     * when {@code flip}).
     */
    void toPlanarRow(byte[] rgb, int rgbOffset, int width, int height, int y, boolean flip, float[] out, int offset) {
        int plane = width * height;
        int r = offset + y * width, g = r + plane, b = g + plane;
        if (flip) {
            for (int x = 0, s = rgbOffset, d = width - 1; x < width; x++, s += 3, d--) {
                out[r + d] = table[rgb[s] & 0xFF];
                out[g + d] = table[256 + (rgb[s + 1] & 0xFF)];
                out[b + d] = table[512 + (rgb[s + 2] & 0xFF)];
            }
        } else {
            for (int x = 0, s = rgbOffset; x < width; x++, s += 3) {
                out[r + x] = table[rgb[s] & 0xFF];
                out[g + x] = table[256 + (rgb[s + 1] & 0xFF)];
                out[b + x] = table[512 + (rgb[s + 2] & 0xFF)];
            }
        }
    }

    /**
     * Row {@code y} of a planar image from a row that is already planar, values in [0, 255]:
     * {@code out[offset + c * width * height + y * width + x]} is the value of {@code planes[c * width + x]}. Computed
     * with {@link #value}'s float32 arithmetic rather than looked up (the same floats: Java's float operations are
     * IEEE-754 single precision, as torch's), so the loop vectorises.
     */
    void planarRowToPlanar(int[] planes, int width, int height, int y, float[] out, int offset) {
        int plane = width * height;
        for (int c = 0; c < 3; c++) {
            int s = c * width, d = offset + c * plane + y * width;
            float p = first[c], q = second[c];
            if (affine) {
                for (int x = 0; x < width; x++) out[d + x] = p * (planes[s + x] / 255f) + q;
            } else {
                for (int x = 0; x < width; x++) out[d + x] = (planes[s + x] / 255f - p) / q;
            }
        }
    }

    /** As {@link #toPlanarRow(byte[], int, int, int, int, boolean, float[], int)} for values in [0, 255] in an int array. */
    void toPlanarRow(int[] rgb, int width, int height, int y, boolean flip, float[] out, int offset) {
        int plane = width * height;
        int r = offset + y * width, g = r + plane, b = g + plane;
        if (flip) {
            for (int x = 0, s = 0, d = width - 1; x < width; x++, s += 3, d--) {
                out[r + d] = table[rgb[s]];
                out[g + d] = table[256 + rgb[s + 1]];
                out[b + d] = table[512 + rgb[s + 2]];
            }
        } else {
            for (int x = 0, s = 0; x < width; x++, s += 3) {
                out[r + x] = table[rgb[s]];
                out[g + x] = table[256 + rgb[s + 1]];
                out[b + x] = table[512 + rgb[s + 2]];
            }
        }
    }
}
