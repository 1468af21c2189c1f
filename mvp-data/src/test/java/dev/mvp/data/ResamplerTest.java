package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ResamplerTest {
    private static final RgbImage SOURCE = Fixtures.rgb("resize/source.rgb", 64, 48);

    static Stream<Arguments> torchvisionCases() {
        return Fixtures.table("resize/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /**
     * Every case equals torchvision's {@code resized_crop} on the PIL image bit for bit: bilinear and bicubic,
     * shrinking (antialiased), enlarging, mixed, same-size passes, a one-pixel crop and crops at the border.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("torchvisionCases")
    void equalsTorchvisionResizedCrop(String name, String[] c) {
        Interpolation filter = Interpolation.valueOf(c[1].toUpperCase());
        int top = Integer.parseInt(c[2]), left = Integer.parseInt(c[3]);
        int height = Integer.parseInt(c[4]), width = Integer.parseInt(c[5]);
        int outWidth = Integer.parseInt(c[6]), outHeight = Integer.parseInt(c[7]);
        RgbImage actual = new Resampler().resize(SOURCE, new CropBox(left, top, width, height, false), outWidth, outHeight, filter);
        RgbImage expected = Fixtures.rgb("resize/" + name + ".rgb", outWidth, outHeight);
        assertThat(Fixtures.maxDifference(actual, expected)).as("max difference from PIL, levels").isZero();
    }

    /** The imagenet-sample images whose 112x112 Lanczos view is stored raw (make_lanczos_fixtures.py). */
    private static final List<String> RAW_LANCZOS = List.of("n01440764_tench.JPEG", "n02096051_Airedale.JPEG",
            "n03461385_grocery_store.JPEG");

    static Stream<Arguments> lanczosCases() {
        return Fixtures.table("lanczos/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /**
     * Lanczos (BEiT's d-VAE view filter) equals PIL's {@code resize(size, Image.LANCZOS)} of the crop bit for bit:
     * shrinking, enlarging, mixed, one pass skipped, at the border, from and to one pixel (fixtures/data/lanczos).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("lanczosCases")
    void lanczosEqualsPil(String name, String[] c) {
        int top = Integer.parseInt(c[1]), left = Integer.parseInt(c[2]);
        int height = Integer.parseInt(c[3]), width = Integer.parseInt(c[4]);
        int outWidth = Integer.parseInt(c[5]), outHeight = Integer.parseInt(c[6]);
        RgbImage actual = new Resampler().resize(SOURCE, new CropBox(left, top, width, height, false), outWidth, outHeight,
                Interpolation.LANCZOS);
        RgbImage expected = Fixtures.rgb("lanczos/" + name + ".rgb", outWidth, outHeight);
        assertThat(Fixtures.maxDifference(actual, expected)).as("max difference from PIL, levels").isZero();
    }

    /**
     * BEiT's d-VAE view on real photos: a RandomResizedCrop box of each of the 1000 imagenet-sample JPEGs to 112x112
     * (and of every tenth to 224x224) with Lanczos equals PIL's bytes (CRC32), three of them compared level by level.
     * Decoded with libjpeg-turbo, which equals PIL's decode on all of them (TurboJpegDecoderTest).
     */
    @Test
    void lanczosOnRealPhotosEqualsPil() throws Exception {
        assumeTrue(TurboJpegDecoder.available(), () -> "libturbojpeg not installed: " + TurboJpegDecoder.unavailableReason().orElse(""));
        TurboJpegDecoder decoder = new TurboJpegDecoder();
        Resampler resampler = new Resampler();
        Path folder = TestPaths.sharedData().resolve("imagenet-sample");
        List<String[]> rows = Fixtures.table("lanczos/shared.tsv");
        assertThat(rows).hasSize(1100);
        String decodedName = null;
        RgbImage image = null;
        int rawCompared = 0;
        for (String[] row : rows) {
            if (!row[0].equals(decodedName)) {
                image = decoder.decode(folder.resolve(row[0]));
                decodedName = row[0];
            }
            CropBox box = new CropBox(Integer.parseInt(row[2]), Integer.parseInt(row[1]), Integer.parseInt(row[4]),
                    Integer.parseInt(row[3]), false);
            int size = Integer.parseInt(row[5]);
            RgbImage view = resampler.resize(image, box, size, size, Interpolation.LANCZOS);
            if (size == 112 && RAW_LANCZOS.contains(row[0])) {
                RgbImage expected = Fixtures.rgb("lanczos/" + row[0].replace(".JPEG", "_112.rgb"), size, size);
                assertThat(Fixtures.maxDifference(view, expected)).as(row[0] + ", levels").isZero();
                rawCompared++;
            }
            CRC32 crc = new CRC32();
            crc.update(view.pixels());
            assertThat(String.format("%08x", crc.getValue())).as(row[0] + " " + box + " to " + size).isEqualTo(row[6]);
        }
        assertThat(rawCompared).isEqualTo(3);
    }

    /**
     * Both outputs equal a plain transcription of PIL's loops ({@link PilResampleReference}) on random images and
     * boxes: shrinking, enlarging, one side unchanged, both unchanged, one-pixel boxes and outputs, every filter,
     * mirrored or not; a 3000-pixel-wide image makes the horizontal pass work in several strips. One resampler
     * serves every call, as in a worker.
     */
    @Test
    void equalsAPlainTranscriptionOfPilsLoops() {
        SplittableRandom rng = new SplittableRandom(11);
        Resampler resampler = new Resampler();
        PixelNormalizer[] normalizers = {new PixelNormalizer(ImageNormalization.IMAGENET),
                new PixelNormalizer(ImageNormalization.DALLE)};
        int[][] imageSizes = {{64, 48}, {3000, 40}, {23, 700}, {1, 1}, {300, 9}};
        int cases = 0;
        for (int[] size : imageSizes) {
            byte[] pixels = new byte[3 * size[0] * size[1]];
            rng.nextBytes(pixels); // noise: the sharpest input, so negative lobes push sums out of [0, 255]
            RgbImage image = new RgbImage(size[0], size[1], pixels);
            for (int i = 0; i < 40; i++) {
                int left = rng.nextInt(size[0]), top = rng.nextInt(size[1]);
                CropBox box = new CropBox(left, top, 1 + rng.nextInt(size[0] - left), 1 + rng.nextInt(size[1] - top),
                        rng.nextBoolean());
                int outWidth = rng.nextInt(4) == 0 ? box.width() : 1 + rng.nextInt(Math.min(3 * box.width() + 5, 260));
                int outHeight = rng.nextInt(4) == 0 ? box.height() : 1 + rng.nextInt(Math.min(3 * box.height() + 5, 260));
                Interpolation filter = Interpolation.values()[rng.nextInt(3)];
                String what = image + " " + box + " to " + outWidth + "x" + outHeight + " " + filter;
                byte[] expected = PilResampleReference.resize(image, box, outWidth, outHeight, filter);
                // Arrays.mismatch: the first differing index, -1 if none (AssertJ's array comparisons are slow here)
                byte[] actual = resampler.resize(image, box, outWidth, outHeight, filter).pixels();
                assertThat(java.util.Arrays.mismatch(actual, expected)).as(what).isEqualTo(-1);
                float[][] outs = {new float[3 * outWidth * outHeight], new float[3 * outWidth * outHeight]};
                resampler.resizeToPlanar(image, box, outWidth, outHeight, filter, normalizers, outs);
                for (int n = 0; n < normalizers.length; n++) {
                    float[] planar = new float[outs[n].length];
                    normalizers[n].toPlanar(expected, outWidth, outHeight, box.flip(), planar);
                    assertThat(java.util.Arrays.mismatch(outs[n], planar)).as(what + ", planar " + n).isEqualTo(-1);
                }
                cases++;
            }
        }
        assertThat(cases).isEqualTo(200);
    }

    @Test
    void reusingOneResamplerForDifferentSizesGivesTheSameResults() {
        Resampler shared = new Resampler();
        for (String[] c : Fixtures.table("resize/cases.tsv")) {
            CropBox box = new CropBox(Integer.parseInt(c[3]), Integer.parseInt(c[2]), Integer.parseInt(c[5]), Integer.parseInt(c[4]), false);
            Interpolation filter = Interpolation.valueOf(c[1].toUpperCase());
            int ow = Integer.parseInt(c[6]), oh = Integer.parseInt(c[7]);
            assertThat(shared.resize(SOURCE, box, ow, oh, filter)).as(c[0])
                    .isEqualTo(new Resampler().resize(SOURCE, box, ow, oh, filter));
        }
    }

    /** Hand-computed: shrinking 4 pixels to 2 with the triangle filter averages pairs (weights 1/2, 1/2). */
    @Test
    void bilinearHalvingAveragesPairs() {
        byte[] px = new byte[4 * 3];
        int[] values = {10, 20, 101, 200};
        for (int i = 0; i < 4; i++) px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = (byte) values[i];
        RgbImage row = new RgbImage(4, 1, px);
        RgbImage half = new Resampler().resize(row, CropBox.whole(4, 1), 2, 1, Interpolation.BILINEAR);
        // centre 1.0, support 2: weights on pixels 0,1,2 = 0.75, 0.75, 0.25 normalised -> 3/7, 3/7, 1/7? No: PIL's
        // support is 1 * scale 2 = 2, taps at distance 0.5 and 1.5 from the centre have weights 1 - 0.25 and 1 - 0.75.
        // Pixel 0: xmin = 0, taps (0, 1, 2) at distances 0.5, 0.5, 1.5 -> 0.75, 0.75, 0.25 -> /1.75.
        int expected0 = (int) Math.round((0.75 * 10 + 0.75 * 20 + 0.25 * 101) / 1.75);
        int expected1 = (int) Math.round((0.25 * 20 + 0.75 * 101 + 0.75 * 200) / 1.75);
        assertThat(half.get(0, 0, 0)).isEqualTo(expected0);
        assertThat(half.get(1, 0, 0)).isEqualTo(expected1);
    }

    @Test
    void rejectsBoxesOutsideTheImage() {
        assertThatThrownBy(() -> new Resampler().resize(SOURCE, new CropBox(60, 0, 10, 10, false), 8, 8, Interpolation.BICUBIC))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not fit in a 64x48 image");
    }
}
