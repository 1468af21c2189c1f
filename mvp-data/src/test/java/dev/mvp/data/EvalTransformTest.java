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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
        EvalTransform t = EvalTransform.resizeThenCrop(Integer.parseInt(c[1]), crop, Interpolation.valueOf(c[3].toUpperCase()),
                ImageNormalization.IMAGENET);
        assertThat(t.resizeTo()).isEqualTo(Integer.parseInt(c[1]));
        RgbImage expected = Fixtures.rgb("eval/" + name + ".rgb", crop, crop);
        assertThat(Fixtures.maxDifference(t.crop(SOURCE), expected)).as("max difference from torchvision").isZero();
    }

    /** BEiT's 256 -> 224 evaluation transform on real photos (landscape and portrait), by CRC of torchvision's. */
    @Test
    void beitsTransformOnRealImagesEqualsTorchvision() throws Exception {
        ImageIoDecoder decoder = new ImageIoDecoder();
        for (String[] c : Fixtures.table("eval/shared.tsv")) {
            RgbImage image = decoder.decode(TestPaths.sharedData().resolve(c[0]));
            EvalTransform t = EvalTransform.resizeThenCrop(Integer.parseInt(c[1]), Integer.parseInt(c[2]),
                    Interpolation.valueOf(c[3].toUpperCase()), ImageNormalization.IMAGENET);
            CRC32 crc = new CRC32();
            crc.update(t.crop(image).pixels());
            assertThat(String.format("%08x", crc.getValue())).as(c[0] + " " + c[3]).isEqualTo(c[4]);
        }
        assertThat(EvalTransform.beit(224)).isEqualTo(
                EvalTransform.resizeThenCrop(256, 224, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
    }

    /** The presets' resize lengths: timm's floor(size / crop_pct); BEiT keeps the whole short side from 384 on. */
    @Test
    void presetsResizeAsTheirPapersDo() {
        assertThat(EvalTransform.standard(224).resizeTo()).isEqualTo(256);
        assertThat(EvalTransform.standard(112).resizeTo()).isEqualTo(128);
        assertThat(EvalTransform.standard(32).resizeTo()).isEqualTo(36);           // floor(36.57)
        assertThat(EvalTransform.beit(224).resizeTo()).isEqualTo(256);
        assertThat(EvalTransform.beit(256).resizeTo()).isEqualTo(292);             // int(256 / 0.875) = 292
        assertThat(EvalTransform.beit(384).resizeTo()).isEqualTo(384);
        assertThat(EvalTransform.beit(384).cropPct()).isEqualTo(1.0);
        assertThat(new EvalTransform(224, 0.9, Interpolation.BICUBIC, ImageNormalization.IMAGENET).resizeTo()).isEqualTo(248);
    }

    /** Bad sizes and fractions fail in the constructor, naming the flag, instead of in a data worker. */
    @Test
    void unusableSizesAndFractionsAreRefusedNamingTheFlag() {
        for (double bad : new double[] {Double.NaN, 0, -0.5, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            assertThatThrownBy(() -> new EvalTransform(224, bad, Interpolation.BICUBIC, ImageNormalization.IMAGENET))
                    .as("crop %s", bad).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--crop-pct");
        }
        // 1e-9 used to pass and overflow in the resize: "integer overflow" from a data worker
        assertThatThrownBy(() -> new EvalTransform(224, 1e-9, Interpolation.BICUBIC, ImageNormalization.IMAGENET))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--crop-pct 1.0E-9 is too small")
                .hasMessageContaining("224000000000 pixels").hasMessageContaining("at most " + EvalTransform.MAX_RESIZE);
        assertThatThrownBy(() -> new EvalTransform(224, 224.0 / 16385, Interpolation.BICUBIC, ImageNormalization.IMAGENET))
                .hasMessageContaining("16385 pixels");
        assertThat(new EvalTransform(224, 224.0 / 16384, Interpolation.BICUBIC, ImageNormalization.IMAGENET).resizeTo())
                .as("the largest resize allowed").isEqualTo(EvalTransform.MAX_RESIZE);
        assertThatThrownBy(() -> new EvalTransform(224, 300, Interpolation.BICUBIC, ImageNormalization.IMAGENET))
                .hasMessageContaining("--crop-pct 300.0 is too large");
        for (int size : new int[] {0, -1, Integer.MIN_VALUE}) {
            assertThatThrownBy(() -> new EvalTransform(size, 0.875, Interpolation.BICUBIC, ImageNormalization.IMAGENET))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--img-size must be >= 1");
        }
        assertThat(new EvalTransform(1, 1.0, Interpolation.BICUBIC, ImageNormalization.IMAGENET).resizeTo()).isEqualTo(1);
    }

    @Test
    void resizedSizeTruncatesTheLongSideLikeTorchvision() {
        EvalTransform t = EvalTransform.standard(224);
        assertThat(t.resizedSize(500, 375)).containsExactly(341, 256);   // 256 * 500 / 375 = 341.33
        assertThat(t.resizedSize(375, 500)).containsExactly(256, 341);
        assertThat(t.resizedSize(333, 500)).containsExactly(256, 384);   // 384.38
        assertThat(t.resizedSize(300, 300)).containsExactly(256, 256);
    }

    @Test
    void normalisedOutputIsThePlanarMapOfTheCrop() {
        EvalTransform t = EvalTransform.resizeThenCrop(40, 32, Interpolation.BICUBIC, ImageNormalization.CLIP);
        RgbImage crop = t.crop(SOURCE);
        float[] out = new float[3 * 32 * 32];
        t.apply(SOURCE, out);
        float[] shifted = new float[5 + 3 * 32 * 32];
        t.toPlanar(crop, shifted, 5);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 32; y += 7) {
                for (int x = 0; x < 32; x += 5) {
                    float expected = PixelNormalizer.value(ImageNormalization.CLIP, c, crop.get(x, y, c));
                    assertThat(out[(c * 32 + y) * 32 + x]).isEqualTo(expected);
                    assertThat(shifted[5 + (c * 32 + y) * 32 + x]).isEqualTo(expected);
                }
            }
        }
    }
}
