package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;

import java.util.Locale;
import java.util.Objects;

/**
 * The evaluation transform of BEiT, MVP, DINO and MAE (k-NN, linear probing, fine-tuning evaluation), torchvision's
 * {@code Compose([Resize(resizeTo(), interpolation), CenterCrop(size), ToTensor(), Normalize(...)])} on a PIL image,
 * bit for bit:
 * <ol>
 *   <li>the short side is resized to {@link #resizeTo()} {@code = floor(size / cropPct)} (timm's {@code scale_size};
 *       256 for 224 at 0.875) and the long side to {@code int(resizeTo * long / short)}, with PIL's antialiased
 *       resize ({@link Resampler}); an image whose short side already has that length is left as it is;</li>
 *   <li>the central {@code size x size} window is cut at {@code top = round((h - size) / 2)},
 *       {@code left = round((w - size) / 2)} (Python's round half to even); a side shorter than {@code size} (only
 *       possible when {@code cropPct > 1}) is first padded with black, {@code (size - side) / 2} before it, as
 *       torchvision's {@code CenterCrop} pads;</li>
 *   <li>each 8-bit value becomes the float32 {@code (v / 255f - mean) / std} (or the affine map) that
 *       {@code ToTensor} + {@code Normalize} compute, written planar (CHW).</li>
 * </ol>
 * {@link BatchLoader#evaluation} applies it to a whole dataset. Immutable and thread-safe (each call without a
 * {@link Resampler} argument uses a new one).
 *
 * @param size          the side of the square output in pixels
 * @param cropPct       the fraction of the resized short side the centre crop keeps: {@code size / resizeTo()};
 *                      positive and finite, usually in (0, 1] (above 1 the crop is padded: torchvision's
 *                      {@code Resize(r)} + {@code CenterCrop(size)} with {@code r < size}, {@link #resizeThenCrop}),
 *                      with {@code 1 <= floor(size / cropPct) <= }{@link #MAX_RESIZE}
 * @param interpolation the resize filter (torchvision's {@code interpolation=3}: bicubic)
 * @param normalization the pixel map after {@code ToTensor}
 */
public record EvalTransform(int size, double cropPct, Interpolation interpolation, ImageNormalization normalization) {

    /**
     * The longest short side {@link #resizeTo()} may be: a resize to more than this many pixels comes from a crop
     * fraction far too small (an image of 16384 x 16384 RGB pixels is already 805 MB), and the resized image's
     * {@code width * height * 3} bytes must stay an {@code int}.
     */
    public static final int MAX_RESIZE = 16384;

    /**
     * @throws IllegalArgumentException naming the parameter as the command line calls it ({@code --img-size},
     *                                  {@code --crop-pct}) when the size is below 1, the crop fraction is not a
     *                                  positive finite number, or {@code floor(size / cropPct)} is below 1 or above
     *                                  {@link #MAX_RESIZE}
     */
    public EvalTransform {
        if (size < 1) throw new IllegalArgumentException("--img-size must be >= 1, got " + size);
        if (!(cropPct > 0 && Double.isFinite(cropPct))) {
            throw new IllegalArgumentException("--crop-pct must be a positive number in (0, 1], got " + cropPct);
        }
        double resize = Math.floor(size / cropPct + 1e-9);
        if (resize > MAX_RESIZE) {
            throw new IllegalArgumentException("--crop-pct " + cropPct + " is too small for image size " + size
                    + ": the shorter side would be resized to " + String.format(Locale.ROOT, "%.0f", resize)
                    + " pixels (at most " + MAX_RESIZE + ")");
        }
        if (resize < 1) {
            throw new IllegalArgumentException("--crop-pct " + cropPct + " is too large for image size " + size
                    + ": the shorter side would be resized to 0 pixels");
        }
        Objects.requireNonNull(interpolation, "interpolation");
        Objects.requireNonNull(normalization, "normalization");
    }

    /**
     * DINO's and MAE's evaluation transform (k-NN, linear probe) at {@code size}: crop fraction 0.875 (resize to
     * 256 for 224), bicubic, ImageNet mean and std.
     */
    public static EvalTransform standard(int size) {
        return new EvalTransform(size, 0.875, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    /**
     * BEiT's fine-tuning evaluation transform ({@code beit/datasets.py}, {@code build_transform(is_train=False)}) at
     * {@code size}: crop fraction {@code 224 / 256} below 384 pixels and 1 from 384 on (so
     * {@code Resize(int(size / crop_pct), bicubic)} then {@code CenterCrop(size)}), with ImageNet mean and std
     * (BEiT's {@code --imagenet_default_mean_and_std}; without it BEiT uses 0.5 and 0.5: see
     * {@link #beit(int, ImageNormalization)}). BEiT skips resizing altogether for inputs of 32 pixels or less
     * (CIFAR); this preset does not.
     */
    public static EvalTransform beit(int size) {
        return beit(size, ImageNormalization.IMAGENET);
    }

    /** {@link #beit(int)} with another normalisation. */
    public static EvalTransform beit(int size, ImageNormalization normalization) {
        return new EvalTransform(size, size < 384 ? 224.0 / 256 : 1.0, Interpolation.BICUBIC, normalization);
    }

    /**
     * {@code Resize(resizeTo)} then {@code CenterCrop(size)}: the transform with
     * {@code cropPct = size / resizeTo}, whose {@link #resizeTo()} is {@code resizeTo} again.
     */
    public static EvalTransform resizeThenCrop(int resizeTo, int size, Interpolation interpolation,
                                               ImageNormalization normalization) {
        if (resizeTo < 1) throw new IllegalArgumentException("resize length must be positive, got " + resizeTo);
        return new EvalTransform(size, (double) size / resizeTo, interpolation, normalization);
    }

    /** The same resize and crop with another normalisation. */
    public EvalTransform withNormalization(ImageNormalization normalization) {
        return new EvalTransform(size, cropPct, interpolation, normalization);
    }

    /**
     * The length the short side is resized to: {@code floor(size / cropPct)} (timm's {@code scale_size}; the
     * {@code 1e-9} absorbs the rounding of a fraction given as {@code size / resizeTo}).
     */
    public int resizeTo() {
        return (int) Math.floor(size / cropPct + 1e-9);
    }

    /** The image size after the resize step, {width, height}: torchvision's {@code int(resizeTo * long / short)}. */
    public int[] resizedSize(int width, int height) {
        int target = resizeTo();
        int shortSide = Math.min(width, height), longSide = Math.max(width, height);
        int newLong = (int) ((double) ((long) target * longSide) / shortSide);
        return width <= height ? new int[] {target, newLong} : new int[] {newLong, target};
    }

    /** One line for logs, result files and cache keys. */
    public String describe() {
        return "resize shorter side to " + resizeTo() + " (" + interpolation.name().toLowerCase(Locale.ROOT)
                + "), center crop " + size + ", normalize " + normalization;
    }

    /** Resizes and centre-crops {@code image}: a new (or, when nothing changes, the same) {@code size x size} image. */
    public RgbImage crop(RgbImage image) {
        return crop(image, new Resampler());
    }

    /** As {@link #crop(RgbImage)}, resampling with {@code resampler} (one per thread). */
    public RgbImage crop(RgbImage image, Resampler resampler) {
        int[] resized = resizedSize(image.width(), image.height());
        // torchvision returns the image unchanged when its short side already has the target length
        boolean unchanged = Math.min(image.width(), image.height()) == resizeTo();
        RgbImage r = unchanged ? image
                : resampler.resize(image, CropBox.whole(image.width(), image.height()), resized[0], resized[1], interpolation);
        return centerCrop(r, size);
    }

    /**
     * Writes an image made by {@link #crop} as planar float32 {@code [3, size, size]} at {@code out[offset ..]},
     * each value exactly as {@code ToTensor} + {@code Normalize} compute it in float32.
     *
     * @throws IllegalArgumentException if {@code cropped} is not {@code size x size} or {@code out} is too short
     */
    public void toPlanar(RgbImage cropped, float[] out, int offset) {
        if (cropped.width() != size || cropped.height() != size) {
            throw new IllegalArgumentException("expected a " + size + "x" + size + " image, got " + cropped);
        }
        if (offset < 0 || out.length - offset < 3 * size * size) {
            throw new IllegalArgumentException("output of " + out.length + " floats from " + offset + " < 3 x " + size + "x" + size);
        }
        new PixelNormalizer(normalization).toPlanar(cropped.pixels(), size, size, false, out, offset);
    }

    /** {@link #crop} then {@link #toPlanar}: the model input of one image, {@code out[0 .. 3 * size^2)}. */
    public void apply(RgbImage image, float[] out) {
        toPlanar(crop(image), out, 0);
    }

    /** torchvision's {@code center_crop} of a PIL image (zero padding when the image is smaller). */
    static RgbImage centerCrop(RgbImage image, int size) {
        int w = image.width(), h = image.height();
        if (w == size && h == size) return image;
        // padding: torchvision pads (size - side) // 2 before and (size - side + 1) // 2 after
        int padLeft = size > w ? (size - w) / 2 : 0, padTop = size > h ? (size - h) / 2 : 0;
        int paddedW = Math.max(w, size), paddedH = Math.max(h, size);
        int top = (int) Math.rint((paddedH - size) / 2.0), left = (int) Math.rint((paddedW - size) / 2.0);
        byte[] out = new byte[3 * size * size];
        for (int y = 0; y < size; y++) {
            int sy = top + y - padTop;
            if (sy < 0 || sy >= h) continue;
            int x0 = Math.max(0, padLeft - left), x1 = Math.min(size, w + padLeft - left);
            if (x1 > x0) System.arraycopy(image.pixels(), 3 * (sy * w + left + x0 - padLeft), out, 3 * (y * size + x0), 3 * (x1 - x0));
        }
        return new RgbImage(size, size, out);
    }
}
