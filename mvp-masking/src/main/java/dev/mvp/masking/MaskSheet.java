package dev.mvp.masking;

import dev.mvp.api.io.AtomicFiles;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A contact sheet of example masks as an image: one tile per mask, masked patches dark, visible patches light,
 * a thin grid between patches and a gap between tiles.
 */
public final class MaskSheet {
    static final int MASKED = 0x2B2B2B;
    static final int VISIBLE = 0xF2F2F2;
    private static final int GRID = 0xC8C8C8;
    private static final int BACKGROUND = 0xFFFFFF;
    private static final int GAP = 6;

    private MaskSheet() {}

    /** The {width, height} in pixels of the sheet {@link #render} draws for {@code count} masks. */
    public static long[] size(int count, int rows, int cols, int cellPixels, int perRow) {
        long across = Math.min(perRow, count), down = ((long) count + perRow - 1) / perRow;
        return new long[] {GAP + across * ((long) cols * cellPixels + GAP), GAP + down * ((long) rows * cellPixels + GAP)};
    }

    /**
     * Draws the masks (each row-major, {@code rows * cols} entries) in a grid of {@code perRow} tiles per row, each
     * patch {@code cellPixels} square (the last pixel row and column of a cell are grid lines when cells are at
     * least 4 pixels).
     */
    public static BufferedImage render(List<boolean[]> masks, int rows, int cols, int cellPixels, int perRow) {
        int n = Masks.patches(rows, cols);
        if (masks.isEmpty()) throw new IllegalArgumentException("no masks to draw");
        if (cellPixels < 1 || perRow < 1) throw new IllegalArgumentException("cellPixels and perRow must be >= 1");
        int tileW = cols * cellPixels, tileH = rows * cellPixels;
        long[] size = size(masks.size(), rows, cols, cellPixels, perRow);
        BufferedImage image = new BufferedImage(Math.toIntExact(size[0]), Math.toIntExact(size[1]), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < image.getHeight(); y++) for (int x = 0; x < image.getWidth(); x++) image.setRGB(x, y, BACKGROUND);
        for (int k = 0; k < masks.size(); k++) {
            boolean[] mask = masks.get(k);
            if (mask.length != n) throw new IllegalArgumentException("mask " + k + " has " + mask.length + " entries, grid " + rows + "x" + cols + " has " + n);
            int x0 = GAP + (k % perRow) * (tileW + GAP), y0 = GAP + (k / perRow) * (tileH + GAP);
            for (int y = 0; y < tileH; y++) {
                for (int x = 0; x < tileW; x++) {
                    boolean line = cellPixels >= 4 && (x % cellPixels == cellPixels - 1 || y % cellPixels == cellPixels - 1);
                    int rgb = line ? GRID : mask[(y / cellPixels) * cols + x / cellPixels] ? MASKED : VISIBLE;
                    image.setRGB(x0 + x, y0 + y, rgb);
                }
            }
        }
        return image;
    }

    /** Writes {@link #render} as a PNG, atomically (a temporary file in the same folder, then a rename). */
    public static void writePng(Path file, List<boolean[]> masks, int rows, int cols, int cellPixels, int perRow) throws IOException {
        BufferedImage image = render(masks, rows, cols, cellPixels, perRow);
        try {
            AtomicFiles.writePng(file, image);
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
