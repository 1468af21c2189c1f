package dev.mvp.eval;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.data.CropBox;
import dev.mvp.data.Resampler;
import dev.mvp.data.RgbImage;

import java.util.Objects;

/**
 * The evaluation transform of DINO, MAE and BEiT, as torchvision computes it on a PIL image:
 * {@code Resize(floor(size / cropPct), bicubic)} (the shorter side to that length, the longer one to
 * {@code int(length * long / short)}), {@code CenterCrop(size)} (offsets {@code int(round((side - size) / 2))}, Python's
 * round-half-even), {@code ToTensor}, {@code Normalize}. DINO's k-NN and linear evaluation and MAE's linear probe use
 * size 224 and crop fraction 0.875 (resize to 256). Resizing is PIL-exact ({@link Resampler}); a side that does not
 * change is not resampled, so {@code cropPct = 1} on images of the target size is the identity.
 *
 * @param size          output side in pixels
 * @param cropPct       fraction of the resized image kept by the centre crop, in (0, 1]
 * @param interpolation resize filter (torchvision's {@code interpolation=3}: bicubic)
 * @param normalization pixel map after {@code ToTensor}
 */
public record EvalTransform(int size, double cropPct, Interpolation interpolation, ImageNormalization normalization) {

    public EvalTransform {
        if (size < 1) throw new IllegalArgumentException("image size must be positive, got " + size);
        if (!(cropPct > 0 && cropPct <= 1)) throw new IllegalArgumentException("crop fraction must be in (0, 1], got " + cropPct);
        Objects.requireNonNull(interpolation, "interpolation");
        Objects.requireNonNull(normalization, "normalization");
    }

    /** DINO's/MAE's evaluation transform at {@code size}: crop fraction 0.875, bicubic, ImageNet statistics. */
    public static EvalTransform standard(int size) {
        return new EvalTransform(size, 0.875, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
    }

    /** The length the shorter side is resized to: {@code floor(size / cropPct)} (timm's {@code scale_size}). */
    public int resizeTo() {
        return (int) Math.floor(size / cropPct + 1e-9);
    }

    /** One line for logs and result files. */
    public String describe() {
        return "resize shorter side to " + resizeTo() + " (" + interpolation.name().toLowerCase(java.util.Locale.ROOT)
                + "), center crop " + size + ", normalize " + normalization;
    }

    /** The resized and centre-cropped image, 8-bit RGB, {@code size x size}. */
    public RgbImage crop(RgbImage image, Resampler resampler) {
        int w = image.width(), h = image.height(), target = resizeTo();
        int ow, oh;
        if (w <= h) {
            ow = target;
            oh = (int) ((long) target * h / w);
        } else {
            oh = target;
            ow = (int) ((long) target * w / h);
        }
        RgbImage resized = (ow == w && oh == h) ? image
                : resampler.resize(image, CropBox.whole(w, h), ow, oh, interpolation);
        if (ow < size || oh < size) {
            throw new IllegalArgumentException("resized image " + ow + "x" + oh + " is smaller than the crop " + size);
        }
        int top = (int) Math.rint((oh - size) / 2.0), left = (int) Math.rint((ow - size) / 2.0);
        if (top == 0 && left == 0 && ow == size && oh == size) return resized;
        byte[] out = new byte[3 * size * size];
        byte[] src = resized.pixels();
        for (int y = 0; y < size; y++) {
            System.arraycopy(src, 3 * ((top + y) * ow + left), out, 3 * y * size, 3 * size);
        }
        return new RgbImage(size, size, out);
    }

    /**
     * Writes the transformed image as planar float32 {@code [3, size, size]} at {@code out[offset ..]}: each value
     * {@code (v / 255f - mean) / std} (or the affine map), exactly as {@code ToTensor} + {@code Normalize} in float32.
     */
    public void toPlanar(RgbImage cropped, float[] out, int offset) {
        if (cropped.width() != size || cropped.height() != size) {
            throw new IllegalArgumentException("expected a " + size + "x" + size + " image, got " + cropped);
        }
        float[] table = table();
        byte[] px = cropped.pixels();
        int plane = size * size;
        for (int i = 0; i < plane; i++) {
            out[offset + i] = table[px[3 * i] & 0xFF];
            out[offset + plane + i] = table[256 + (px[3 * i + 1] & 0xFF)];
            out[offset + 2 * plane + i] = table[512 + (px[3 * i + 2] & 0xFF)];
        }
    }

    private float[] table() {
        float[] t = new float[3 * 256];
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) {
                float x = v / 255f;
                t[c * 256 + v] = switch (normalization) {
                    case ImageNormalization.MeanStd m -> (x - m.mean()[c]) / m.std()[c];
                    case ImageNormalization.Affine f -> f.a() * x + f.b();
                };
            }
        }
        return t;
    }
}
