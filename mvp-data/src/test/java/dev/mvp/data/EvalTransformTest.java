package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;

class EvalTransformTest {
    private static final RgbImage SOURCE = Fixtures.rgb("resize/source.rgb", 64, 48);

    static Stream<Arguments> torchvisionCases() {
        return Fixtures.table("eval/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /** Resize(short side) + CenterCrop equal torchvision's on the PIL image bit for bit, padding included. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("torchvisionCases")
    void equalsTorchvisionResizeAndCenterCrop(String name, String[] c) {
        int crop = Integer.parseInt(c[2]);
        EvalTransform t = new EvalTransform(Integer.parseInt(c[1]), crop, Interpolation.valueOf(c[3].toUpperCase()));
        RgbImage expected = Fixtures.rgb("eval/" + name + ".rgb", crop, crop);
        assertThat(Fixtures.maxDifference(t.apply(SOURCE), expected)).as("max difference from torchvision").isZero();
    }

    /** BEiT's 256 -> 224 evaluation transform on real photos (landscape and portrait), by CRC of torchvision's. */
    @Test
    void beitsTransformOnRealImagesEqualsTorchvision() throws Exception {
        ImageIoDecoder decoder = new ImageIoDecoder();
        for (String[] c : Fixtures.table("eval/shared.tsv")) {
            RgbImage image = decoder.decode(TestPaths.sharedData().resolve(c[0]));
            EvalTransform t = new EvalTransform(Integer.parseInt(c[1]), Integer.parseInt(c[2]),
                    Interpolation.valueOf(c[3].toUpperCase()));
            CRC32 crc = new CRC32();
            crc.update(t.apply(image).pixels());
            assertThat(String.format("%08x", crc.getValue())).as(c[0] + " " + c[3]).isEqualTo(c[4]);
        }
        assertThat(EvalTransform.beit(224)).isEqualTo(new EvalTransform(256, 224, Interpolation.BICUBIC));
    }

    @Test
    void resizedSizeTruncatesTheLongSideLikeTorchvision() {
        EvalTransform t = new EvalTransform(256, 224, Interpolation.BICUBIC);
        assertThat(t.resizedSize(500, 375)).containsExactly(341, 256);   // 256 * 500 / 375 = 341.33
        assertThat(t.resizedSize(375, 500)).containsExactly(256, 341);
        assertThat(t.resizedSize(333, 500)).containsExactly(256, 384);   // 384.38
        assertThat(t.resizedSize(300, 300)).containsExactly(256, 256);
    }

    @Test
    void normalisedOutputIsThePlanarMapOfTheCrop() {
        EvalTransform t = new EvalTransform(40, 32, Interpolation.BICUBIC);
        RgbImage crop = t.apply(SOURCE);
        float[] out = new float[3 * 32 * 32];
        t.apply(SOURCE, ImageNormalization.CLIP, out);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 32; y += 7) {
                for (int x = 0; x < 32; x += 5) {
                    assertThat(out[(c * 32 + y) * 32 + x]).isEqualTo(PixelNormalizer.value(ImageNormalization.CLIP, c, crop.get(x, y, c)));
                }
            }
        }
    }
}
