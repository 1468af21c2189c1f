package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageIoDecoderTest {
    private final ImageIoDecoder decoder = new ImageIoDecoder();

    static Stream<Arguments> oddFiles() {
        return Fixtures.table("decode/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /** Each odd file decodes to PIL's {@code convert('RGB')} pixels, or fails with the expected reason. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("oddFiles")
    void oddFilesDecodeLikePilOrFailWithTheRightReason(String name, String[] c) throws Exception {
        Path file = Fixtures.data("decode/" + c[0]);
        if (c[1].equals("ok")) {
            int width = Integer.parseInt(c[2]), height = Integer.parseInt(c[3]);
            RgbImage image = decoder.decode(file);
            assertThat(image.width()).isEqualTo(width);
            assertThat(image.height()).isEqualTo(height);
            assertThat(Fixtures.maxDifference(image, Fixtures.rgb("decode/" + c[4], width, height)))
                    .as("max difference from PIL, levels").isLessThanOrEqualTo(Integer.parseInt(c[5]));
        } else {
            assertThatThrownBy(() -> decoder.decode(file)).isInstanceOf(DecodeException.class)
                    .hasMessageStartingWith(file + ": ").hasMessageContaining(c[4])
                    .satisfies(e -> assertThat(((DecodeException) e).reason()).contains(c[4]))
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
    }

    @Test
    void realJpegsEqualPilsDecode() throws Exception {
        for (String[] c : Fixtures.table("decode/shared/cases.tsv")) {
            RgbImage image = decoder.decode(TestPaths.sharedData().resolve(c[0]));
            assertThat(image.width()).isEqualTo(Integer.parseInt(c[1]));
            assertThat(image.height()).isEqualTo(Integer.parseInt(c[2]));
            int left = Integer.parseInt(c[3]), top = Integer.parseInt(c[4]);
            int w = Integer.parseInt(c[5]), h = Integer.parseInt(c[6]);
            RgbImage expected = Fixtures.rgb("decode/shared/" + c[7], w, h);
            assertThat(Fixtures.maxDifference(Fixtures.window(image, left, top, w, h), expected)).as(c[0]).isLessThanOrEqualTo(2);
        }
    }

    /**
     * All 1000 imagenet-sample JPEGs decode, bit-identical to PIL (CRC of the RGB bytes of
     * {@code exif_transpose(img).convert('RGB')}: one of them is EXIF-rotated) except where libjpeg-turbo's
     * 4:4:0 upsampling differs (then the channel means agree within half a level); the 23 single-channel ones come
     * out as RGB with equal channels.
     */
    @Test
    void everyImagenetSampleImageDecodesAsPilDecodesIt() throws Exception {
        Set<String> grayscale = new HashSet<>();
        for (String[] row : Fixtures.table("decode/shared/grayscale.tsv")) grayscale.add(row[0]);
        assertThat(grayscale).hasSize(23);
        List<String[]> rows = Fixtures.table("decode/shared/imagenet_sample_pil.tsv");
        assertThat(rows).hasSize(1000);
        int exact = 0;
        for (String[] row : rows) {
            Path file = TestPaths.sharedData().resolve("imagenet-sample").resolve(row[0]);
            RgbImage image = decoder.decode(file);
            assertThat(image.width() + "x" + image.height()).as(row[0]).isEqualTo(row[1] + "x" + row[2]);
            CRC32 crc = new CRC32();
            crc.update(image.pixels());
            if (row[7].equals("-")) {
                assertThat(String.format("%08x", crc.getValue())).as("CRC of the RGB bytes of " + row[0]).isEqualTo(row[3]);
                exact++;
            } else {
                double[] mean = channelMeans(image);
                for (int c = 0; c < 3; c++) {
                    assertThat(mean[c]).as(row[0] + " channel " + c).isCloseTo(Double.parseDouble(row[4 + c]),
                            org.assertj.core.data.Offset.offset(0.5));
                }
            }
            assertThat(hasEqualChannels(image)).as(row[0] + " has equal channels").isEqualTo(grayscale.contains(row[0]));
        }
        assertThat(exact).isEqualTo(999);
    }

    @Test
    void decidesTheFormatByContentNotByName(@TempDir Path dir) throws Exception {
        Path png = Files.copy(Fixtures.data("decode/rgb8.png"), dir.resolve("picture.jpg"));
        Path jpeg = Files.copy(Fixtures.data("decode/baseline.jpg"), dir.resolve("picture.png"));
        assertThat(decoder.decode(png)).isEqualTo(decoder.decode(Fixtures.data("decode/rgb8.png")));
        assertThat(decoder.decode(jpeg)).isEqualTo(decoder.decode(Fixtures.data("decode/baseline.jpg")));
    }

    /** exif_o*.jpg hold baseline.jpg's image data with an orientation tag: without EXIF handling they decode alike. */
    @Test
    void exifOrientationCanBeTurnedOffToGetTorchvisionsLoaderPixels() throws Exception {
        ImageIoDecoder plain = new ImageIoDecoder(ImageIoDecoder.PIL_MAX_PIXELS, false);
        RgbImage baseline = decoder.decode(Fixtures.data("decode/baseline.jpg"));
        for (int o = 2; o <= 8; o++) {
            assertThat(plain.decode(Fixtures.data("decode/exif_o" + o + ".jpg"))).as("orientation %d ignored", o).isEqualTo(baseline);
            assertThat(decoder.decode(Fixtures.data("decode/exif_o" + o + ".jpg"))).as("orientation %d applied", o).isNotEqualTo(baseline);
        }
        assertThat(plain.exifOrientation()).isFalse();
        RgbImage canOpener = plain.decode(TestPaths.sharedData().resolve("imagenet-sample/n02951585_can_opener.JPEG"));
        assertThat(canOpener.width() + "x" + canOpener.height()).as("stored landscape, EXIF orientation 6").isEqualTo("392x294");
    }

    @Test
    void missingFilesAndOversizedImagesFailWithOneLine(@TempDir Path dir) {
        Path missing = dir.resolve("nope.jpg");
        assertThatThrownBy(() -> decoder.decode(missing)).isInstanceOf(DecodeException.class)
                .hasMessage(missing + ": no such file");
        Path file = Fixtures.data("decode/baseline.jpg");
        assertThatThrownBy(() -> new ImageIoDecoder(1000).decode(file)).isInstanceOf(DecodeException.class)
                .hasMessage(file + ": image too large: 40x30 = 1200 pixels, more than the limit of 1000");
    }

    private static double[] channelMeans(RgbImage image) {
        double[] sum = new double[3];
        byte[] p = image.pixels();
        for (int i = 0; i < p.length; i++) sum[i % 3] += p[i] & 0xFF;
        int n = image.width() * image.height();
        return new double[] {sum[0] / n, sum[1] / n, sum[2] / n};
    }

    private static boolean hasEqualChannels(RgbImage image) {
        byte[] p = image.pixels();
        for (int i = 0; i < p.length; i += 3) if (p[i] != p[i + 1] || p[i] != p[i + 2]) return false;
        return true;
    }
}
