package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;

/**
 * The evaluation transform of BEiT/MVP fine-tuning and linear probing, torchvision's
 * {@code Compose([Resize(resizeTo, interpolation), CenterCrop(cropSize)])} on a PIL image, bit for bit:
 * <ol>
 *   <li>the short side is resized to {@code resizeTo} and the long side to {@code int(resizeTo * long / short)}
 *       (PIL's antialiased resize, see {@link Resampler}); an image already of that size is left as it is;</li>
 *   <li>the central {@code cropSize x cropSize} window is cut at {@code top = round((h - cropSize) / 2)},
 *       {@code left = round((w - cropSize) / 2)} (round half to even, as Python); a side shorter than
 *       {@code cropSize} is first padded with black, {@code (cropSize - side) / 2} before it.</li>
 * </ol>
 * Immutable and thread-safe (each call uses its own resampler).
 *
 * @param resizeTo      the short side after resizing
 * @param cropSize      the side of the square output
 * @param interpolation the resize filter
 */
public record EvalTransform(int resizeTo, int cropSize, Interpolation interpolation) {

    public EvalTransform {
        if (resizeTo < 1 || cropSize < 1) {
            throw new IllegalArgumentException("resize and crop sizes must be positive, got " + resizeTo + " and " + cropSize);
        }
        java.util.Objects.requireNonNull(interpolation, "interpolation");
    }

    /**
     * BEiT's evaluation transform for an input of {@code size} pixels: resize to {@code int(size / 0.875)} (256 for
     * 224) with bicubic, then centre crop {@code size}.
     */
    public static EvalTransform beit(int size) {
        return new EvalTransform((int) (size / 0.875), size, Interpolation.BICUBIC);
    }

    /** The image size after the resize step, {width, height}. */
    public int[] resizedSize(int width, int height) {
        int shortSide = Math.min(width, height), longSide = Math.max(width, height);
        int newLong = (int) ((double) ((long) resizeTo * longSide) / shortSide);
        return width <= height ? new int[] {resizeTo, newLong} : new int[] {newLong, resizeTo};
    }

    /** Resizes and centre-crops {@code image}: a new {@code cropSize x cropSize} image. */
    public RgbImage apply(RgbImage image) {
        int[] size = resizedSize(image.width(), image.height());
        RgbImage resized = size[0] == image.width() && size[1] == image.height() ? image
                : new Resampler().resize(image, CropBox.whole(image.width(), image.height()), size[0], size[1], interpolation);
        return centerCrop(resized, cropSize);
    }

    /**
     * Resizes, centre-crops and normalises {@code image} into {@code out[0 .. 3 * cropSize^2)} as planar (CHW)
     * float32, as {@code ToTensor} and {@code Normalize} (or BEiT's affine map) compute it.
     */
    public void apply(RgbImage image, ImageNormalization normalization, float[] out) {
        if (out.length < 3 * cropSize * cropSize) {
            throw new IllegalArgumentException("output of " + out.length + " floats < 3 x " + cropSize + "x" + cropSize);
        }
        RgbImage crop = apply(image);
        new PixelNormalizer(normalization).toPlanar(crop.pixels(), cropSize, cropSize, false, out);
    }

    /** torchvision's {@code center_crop} of a PIL image (zero padding when the image is smaller). */
    static RgbImage centerCrop(RgbImage image, int size) {
        int w = image.width(), h = image.height();
        // padding: torchvision pads (size - side) // 2 before and (size - side + 1) // 2 after
        int padLeft = size > w ? (size - w) / 2 : 0, padTop = size > h ? (size - h) / 2 : 0;
        int paddedW = Math.max(w, size), paddedH = Math.max(h, size);
        int top = (int) Math.rint((paddedH - size) / 2.0), left = (int) Math.rint((paddedW - size) / 2.0);
        byte[] out = new byte[3 * size * size];
        for (int y = 0; y < size; y++) {
            int sy = top + y - padTop;
            if (sy < 0 || sy >= h) continue;
            for (int x = 0; x < size; x++) {
                int sx = left + x - padLeft;
                if (sx < 0 || sx >= w) continue;
                System.arraycopy(image.pixels(), 3 * (sy * w + sx), out, 3 * (y * size + x), 3);
            }
        }
        return new RgbImage(size, size, out);
    }
}
