package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The libjpeg-turbo decoder against PIL; skipped (with the reason) where libturbojpeg0 is not installed. */
class TurboJpegDecoderTest {
    private static TurboJpegDecoder decoder;

    @BeforeAll
    static void load() {
        assumeTrue(TurboJpegDecoder.available(), () -> "libturbojpeg not installed: " + TurboJpegDecoder.unavailableReason().orElse(""));
        decoder = new TurboJpegDecoder();
    }

    static Stream<Arguments> oddFiles() {
        return Fixtures.table("decode/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /** Each odd file decodes to PIL's pixels (JPEGs exactly: same library), or fails with the expected reason. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("oddFiles")
    void oddFilesDecodeLikePilOrFailWithTheRightReason(String name, String[] c) throws Exception {
        Path file = Fixtures.data("decode/" + c[0]);
        if (c[1].equals("ok")) {
            int width = Integer.parseInt(c[2]), height = Integer.parseInt(c[3]);
            RgbImage image = decoder.decode(file);
            assertThat(image.width() + "x" + image.height()).isEqualTo(width + "x" + height);
            assertThat(Fixtures.maxDifference(image, Fixtures.rgb("decode/" + c[4], width, height)))
                    .as("max difference from PIL, levels").isZero();
        } else {
            assertThatThrownBy(() -> decoder.decode(file)).isInstanceOf(DecodeException.class)
                    .hasMessageStartingWith(file + ": ").hasMessageContaining(c[4])
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
    }

    /** All 1000 imagenet-sample JPEGs equal PIL's decode bit for bit, the 4:4:0 one included. */
    @Test
    void everyImagenetSampleImageEqualsPilExactly() throws Exception {
        List<String[]> rows = Fixtures.table("decode/shared/imagenet_sample_pil.tsv");
        assertThat(rows).hasSize(1000);
        for (String[] row : rows) {
            RgbImage image = decoder.decode(TestPaths.sharedData().resolve("imagenet-sample").resolve(row[0]));
            assertThat(image.width() + "x" + image.height()).as(row[0]).isEqualTo(row[1] + "x" + row[2]);
            CRC32 crc = new CRC32();
            crc.update(image.pixels());
            assertThat(String.format("%08x", crc.getValue())).as("CRC of the RGB bytes of " + row[0]).isEqualTo(row[3]);
        }
    }

    @Test
    void corruptDataAndOversizedImagesFailWithOneLine(@TempDir Path dir) throws Exception {
        byte[] jpeg = Files.readAllBytes(Fixtures.data("decode/baseline.jpg"));
        byte[] garbage = jpeg.clone();
        for (int i = 3; i < garbage.length; i++) garbage[i] = (byte) (i * 31);
        Path bad = Files.write(dir.resolve("garbage.jpg"), garbage);
        assertThatThrownBy(() -> decoder.decode(bad)).isInstanceOf(DecodeException.class)
                .hasMessageStartingWith(bad + ": corrupt JPEG (").satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        Path file = Fixtures.data("decode/baseline.jpg");
        assertThatThrownBy(() -> new TurboJpegDecoder(1000, true).decode(file)).isInstanceOf(DecodeException.class)
                .hasMessage(file + ": image too large: 40x30 = 1200 pixels, more than the limit of 1000");
        assertThat(ImageDecoders.fastest()).isInstanceOf(TurboJpegDecoder.class);
        assertThat(ImageDecoders.named("imageio")).isInstanceOf(ImageIoDecoder.class);
        assertThatThrownBy(() -> ImageDecoders.named("pil")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown decoder 'pil' (use auto, turbojpeg or imageio)");
    }
}
