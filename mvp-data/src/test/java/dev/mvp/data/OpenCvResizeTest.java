package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link OpenCvResize} against cv2.resize 4.6 (fixtures/data/cvresize, tools/fixtures/make_cv_resize_fixtures.py,
 * whose numpy transcription equals cv2 on every fixture case and on 3000 random cases more).
 */
class OpenCvResizeTest {

    static Stream<Arguments> syntheticCases() {
        return Fixtures.table("cvresize/cases.tsv").stream().map(row -> Arguments.of(row[0], row));
    }

    /**
     * Synthetic images: shrinking, enlarging, mixed, odd sizes, exactly half (OpenCV's area path) and half in one
     * direction only, integer factors, 1-pixel widths and heights, to and from 1 x 1: INTER_LINEAR on RGB and
     * INTER_NEAREST on a single-channel map equal cv2's bytes.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("syntheticCases")
    void syntheticEqualsCv2(String name, String[] c) {
        int sw = Integer.parseInt(c[1]), sh = Integer.parseInt(c[2]), dw = Integer.parseInt(c[3]), dh = Integer.parseInt(c[4]);
        RgbImage src = Fixtures.rgb("cvresize/syn_" + name + ".rgb", sw, sh);
        assertThat(crc(OpenCvResize.linear(src, dw, dh).pixels())).as("INTER_LINEAR").isEqualTo(c[5]);
        byte[] gray = Fixtures.bytes("cvresize/syn_" + name + ".gray");
        assertThat(crc(bytes(OpenCvResize.nearest(ints(gray), sw, sh, dw, dh)))).as("INTER_NEAREST").isEqualTo(c[6]);
    }

    /**
     * Real photos: a random crop of every tenth imagenet-sample JPEG to mmseg's training rescale (random ratio), its
     * test rescale and a random size; INTER_LINEAR on the RGB crop and INTER_NEAREST on its green channel equal
     * cv2's bytes (CRC32). Decoded with libjpeg-turbo, which equals PIL's decode on all of them (TurboJpegDecoderTest).
     */
    @Test
    void realPhotosEqualCv2() throws Exception {
        assumeTrue(TurboJpegDecoder.available(), () -> "libturbojpeg not installed: " + TurboJpegDecoder.unavailableReason().orElse(""));
        TurboJpegDecoder decoder = new TurboJpegDecoder();
        Path folder = TestPaths.sharedData().resolve("imagenet-sample");
        List<String[]> rows = Fixtures.table("cvresize/shared.tsv");
        assertThat(rows).hasSize(300);
        String decodedName = null;
        RgbImage image = null;
        for (String[] row : rows) {
            if (!row[0].equals(decodedName)) {
                image = decoder.decode(folder.resolve(row[0]));
                decodedName = row[0];
            }
            int top = Integer.parseInt(row[1]), left = Integer.parseInt(row[2]);
            int ch = Integer.parseInt(row[3]), cw = Integer.parseInt(row[4]);
            int dw = Integer.parseInt(row[7]), dh = Integer.parseInt(row[8]);
            RgbImage crop = crop(image, left, top, cw, ch);
            String what = row[0] + " crop " + cw + "x" + ch + "+" + left + "+" + top + " to " + dw + "x" + dh + " (" + row[5] + ")";
            assertThat(crc(OpenCvResize.linear(crop, dw, dh).pixels())).as(what + " INTER_LINEAR").isEqualTo(row[9]);
            int[] green = new int[cw * ch];
            for (int i = 0; i < green.length; i++) green[i] = crop.pixels()[3 * i + 1] & 0xFF;
            assertThat(crc(bytes(OpenCvResize.nearest(green, cw, ch, dw, dh)))).as(what + " INTER_NEAREST").isEqualTo(row[10]);
        }
    }

    /** The RGB nearest resize picks the same source pixel for all three channels as the map version. */
    @Test
    void rgbNearestMatchesTheMapVersion() {
        RgbImage src = Fixtures.rgb("cvresize/syn_odd_down.rgb", 101, 77);
        RgbImage out = OpenCvResize.nearest(src, 40, 130);
        for (int c = 0; c < 3; c++) {
            int[] channel = new int[101 * 77];
            for (int i = 0; i < channel.length; i++) channel[i] = src.pixels()[3 * i + c] & 0xFF;
            int[] expected = OpenCvResize.nearest(channel, 101, 77, 40, 130);
            for (int i = 0; i < expected.length; i++) assertThat(out.pixels()[3 * i + c] & 0xFF).isEqualTo(expected[i]);
        }
        assertThat(OpenCvResize.nearestIndices(4, 8)).containsExactly(0, 0, 1, 1, 2, 2, 3, 3);
        assertThat(OpenCvResize.nearestIndices(5, 2)).containsExactly(0, 2);   // floor(d * 2.5), no half-pixel offset
    }

    @Test
    void sameSizeIsACopyAndBadArgumentsFail() {
        RgbImage src = Fixtures.rgb("cvresize/syn_down.rgb", 50, 40);
        assertThat(OpenCvResize.linear(src, 50, 40)).isSameAs(src);
        byte[] dst = new byte[50 * 40 * 3];
        OpenCvResize.linear(src.pixels(), 50, 40, 3, dst, 50, 40);
        assertThat(dst).isEqualTo(src.pixels());
        assertThatThrownBy(() -> OpenCvResize.linear(src, 0, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OpenCvResize.linear(new byte[8], 2, 2, 2, new byte[2], 1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("channels");
        assertThatThrownBy(() -> OpenCvResize.nearest(new int[3], 2, 2, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    private static RgbImage crop(RgbImage image, int left, int top, int w, int h) {
        byte[] out = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            System.arraycopy(image.pixels(), 3 * ((top + y) * image.width() + left), out, 3 * y * w, 3 * w);
        }
        return new RgbImage(w, h, out);
    }

    private static int[] ints(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] & 0xFF;
        return out;
    }

    private static byte[] bytes(int[] v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    private static String crc(byte[] b) {
        CRC32 crc = new CRC32();
        crc.update(b);
        return String.format("%08x", crc.getValue());
    }
}
