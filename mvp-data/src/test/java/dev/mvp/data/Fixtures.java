package dev.mvp.data;

import dev.mvp.testing.TestPaths;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads the committed reference files of fixtures/data (written by tools/fixtures/make_data_fixtures.py). */
final class Fixtures {
    private Fixtures() {}

    static Path data(String relative) {
        return TestPaths.fixture("data/" + relative);
    }

    /** The rows of a tab-separated table, without its '#' comment lines. */
    static List<String[]> table(String relative) {
        try {
            return Files.readAllLines(data(relative)).stream()
                    .filter(line -> !line.isBlank() && !line.startsWith("#"))
                    .map(line -> line.split("\t", -1)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A raw interleaved RGB file of the given size. */
    static RgbImage rgb(String relative, int width, int height) {
        return new RgbImage(width, height, bytes(relative));
    }

    /** A raw little-endian float32 file. */
    static float[] floats(String relative) {
        byte[] b = bytes(relative);
        float[] out = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    static byte[] bytes(String relative) {
        try {
            return Files.readAllBytes(data(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest per-sample difference of two images of the same size. */
    static int maxDifference(RgbImage a, RgbImage b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new AssertionError("sizes differ: " + a + " vs " + b);
        }
        int worst = 0;
        for (int i = 0; i < a.pixels().length; i++) {
            worst = Math.max(worst, Math.abs((a.pixels()[i] & 0xFF) - (b.pixels()[i] & 0xFF)));
        }
        return worst;
    }

    /** The {@code width x height} window at (left, top) of {@code image}. */
    static RgbImage window(RgbImage image, int left, int top, int width, int height) {
        byte[] out = new byte[3 * width * height];
        for (int y = 0; y < height; y++) {
            System.arraycopy(image.pixels(), 3 * ((top + y) * image.width() + left), out, 3 * y * width, 3 * width);
        }
        return new RgbImage(width, height, out);
    }
}
