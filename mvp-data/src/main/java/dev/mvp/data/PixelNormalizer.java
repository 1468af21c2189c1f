package dev.mvp.data;

import dev.mvp.api.ImageNormalization;

/**
 * torchvision's {@code ToTensor} then {@code Normalize} (or BEiT's {@code map_pixels}) for 8-bit pixels, as one table
 * lookup per sample: the table holds, per channel and byte value v, exactly the float32 torch computes,
 * {@code (v / 255f - mean) / std} or {@code a * (v / 255f) + b}. Writes planar (CHW) floats, optionally mirrored.
 */
final class PixelNormalizer {
    private final float[] table = new float[3 * 256];

    PixelNormalizer(ImageNormalization normalization) {
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) table[c * 256 + v] = value(normalization, c, v);
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
        int plane = width * height;
        for (int y = 0; y < height; y++) {
            int row = y * width;
            for (int x = 0; x < width; x++) {
                int s = 3 * (row + x);
                int d = offset + row + (flip ? width - 1 - x : x);
                out[d] = table[rgb[s] & 0xFF];
                out[plane + d] = table[256 + (rgb[s + 1] & 0xFF)];
                out[2 * plane + d] = table[512 + (rgb[s + 2] & 0xFF)];
            }
        }
    }
}
