package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** One view of one sample against torchvision: resized_crop, hflip, ToTensor, Normalize (fixtures/data/pipeline). */
class PipelineTest {
    private static final Map<String, ImageNormalization> NORMALIZATIONS = Map.of(
            "imagenet", ImageNormalization.IMAGENET, "clip", ImageNormalization.CLIP, "dalle", ImageNormalization.DALLE);

    @Test
    void cropResizeFlipAndNormaliseEqualTorchvisionFloatForFloat() {
        RgbImage source = Fixtures.rgb("resize/source.rgb", 64, 48);
        for (String[] c : Fixtures.table("pipeline/cases.tsv")) {
            Interpolation filter = Interpolation.valueOf(c[1].toUpperCase());
            CropBox box = new CropBox(Integer.parseInt(c[4]), Integer.parseInt(c[3]), Integer.parseInt(c[6]),
                    Integer.parseInt(c[5]), c[8].equals("1"));
            int size = Integer.parseInt(c[7]);
            byte[] rgb = new byte[3 * size * size];
            new Resampler().resizeInto(source, box, size, size, filter, rgb);
            float[] actual = new float[3 * size * size];
            new PixelNormalizer(NORMALIZATIONS.get(c[2])).toPlanar(rgb, size, size, box.flip(), actual);
            float[] expected = Fixtures.floats("pipeline/" + c[0] + ".f32");
            assertThat(actual).as(c[0]).containsExactly(expected);
        }
    }

    /** The loader's path, resampling, mirroring and normalising in one go, gives torchvision's floats too. */
    @Test
    void fusedResampleAndNormaliseEqualsTorchvisionFloatForFloat() {
        RgbImage source = Fixtures.rgb("resize/source.rgb", 64, 48);
        for (String[] c : Fixtures.table("pipeline/cases.tsv")) {
            Interpolation filter = Interpolation.valueOf(c[1].toUpperCase());
            CropBox box = new CropBox(Integer.parseInt(c[4]), Integer.parseInt(c[3]), Integer.parseInt(c[6]),
                    Integer.parseInt(c[5]), c[8].equals("1"));
            int size = Integer.parseInt(c[7]);
            float[][] actual = {new float[3 * size * size]};
            new Resampler().resizeToPlanar(source, box, size, size, filter,
                    new PixelNormalizer[] {new PixelNormalizer(NORMALIZATIONS.get(c[2]))}, actual);
            assertThat(actual[0]).as(c[0]).containsExactly(Fixtures.floats("pipeline/" + c[0] + ".f32"));
        }
    }

    /** The arithmetic path for planar rows gives the table's floats, bit for bit, for every byte and channel. */
    @Test
    void planarRowArithmeticEqualsTheTable() {
        int[] planes = new int[3 * 256];
        for (int c = 0; c < 3; c++) for (int v = 0; v < 256; v++) planes[c * 256 + v] = v;
        for (ImageNormalization n : new ImageNormalization[] {ImageNormalization.IMAGENET, ImageNormalization.CLIP,
                ImageNormalization.DALLE, ImageNormalization.UNIT}) {
            float[] out = new float[3 * 256 * 2];
            new PixelNormalizer(n).planarRowToPlanar(planes, 256, 2, 1, out, 0);
            for (int c = 0; c < 3; c++) {
                for (int v = 0; v < 256; v++) {
                    assertThat(Float.floatToRawIntBits(out[c * 512 + 256 + v])).as(n + " channel " + c + " value " + v)
                            .isEqualTo(Float.floatToRawIntBits(PixelNormalizer.value(n, c, v)));
                }
            }
        }
    }

    /** Hand-computed values of ToTensor + Normalize for a few bytes (float32 arithmetic, as torch). */
    @Test
    void normalisedValuesAreTorchsFloat32() {
        assertThat(PixelNormalizer.value(ImageNormalization.IMAGENET, 0, 0)).isEqualTo((0f - 0.485f) / 0.229f);
        assertThat(PixelNormalizer.value(ImageNormalization.IMAGENET, 2, 255)).isEqualTo((1f - 0.406f) / 0.225f);
        assertThat(PixelNormalizer.value(ImageNormalization.DALLE, 1, 51)).isEqualTo(0.8f * 0.2f + 0.1f);
        assertThat(PixelNormalizer.value(ImageNormalization.UNIT, 1, 128)).isEqualTo(128 / 255f);
    }
}
