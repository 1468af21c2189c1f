package dev.mvp.data;

import java.util.Objects;

/**
 * A decoded picture: {@code width x height} pixels of interleaved 8-bit RGB, row-major, so the red value of pixel
 * (x, y) is {@code pixels[3 * (y * width + x)] & 0xFF}. The array is shared, not copied: treat it as read-only.
 */
public record RgbImage(int width, int height, byte[] pixels) {

    public RgbImage {
        Objects.requireNonNull(pixels, "pixels");
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if ((long) width * height * 3 != pixels.length) {
            throw new IllegalArgumentException(width + "x" + height + " RGB needs " + (long) width * height * 3
                    + " bytes, got " + pixels.length);
        }
    }

    /** Channel {@code c} (0 = red, 1 = green, 2 = blue) of pixel (x, y), in [0, 255]. */
    public int get(int x, int y, int c) {
        Objects.checkIndex(x, width);
        Objects.checkIndex(y, height);
        Objects.checkIndex(c, 3);
        return pixels[3 * (y * width + x) + c] & 0xFF;
    }

    @Override public boolean equals(Object o) {
        return o instanceof RgbImage r && width == r.width && height == r.height
                && java.util.Arrays.equals(pixels, r.pixels);
    }

    @Override public int hashCode() {
        return 31 * (31 * width + height) + java.util.Arrays.hashCode(pixels);
    }

    @Override public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
