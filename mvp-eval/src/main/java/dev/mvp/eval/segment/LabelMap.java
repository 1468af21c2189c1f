package dev.mvp.eval.segment;

import dev.mvp.data.DataException;
import dev.mvp.data.OpenCvResize;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A per-pixel class map: {@code labels[y * width + x]}. Read from a PNG's raw sample values (channel 0 of the raster:
 * the grey level of an 8-bit greyscale PNG as ADE20K ships them, or the palette index of an indexed PNG), never
 * through an RGB conversion, which would turn palette indices into colours.
 */
public record LabelMap(int width, int height, int[] labels) {

    public LabelMap {
        if (width < 1 || height < 1 || labels.length != width * height) {
            throw new IllegalArgumentException("label map " + width + "x" + height + " with " + labels.length + " values");
        }
    }

    /** Reads a label PNG. */
    public static LabelMap read(Path file) {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new DataException(dev.mvp.api.io.AtomicFiles.failure("cannot read label map", file, e), e);
        }
        if (img == null) throw new DataException("cannot read label map " + file + ": not an image ImageIO can decode");
        Raster r = img.getRaster();
        int w = img.getWidth(), h = img.getHeight();
        int[] out = new int[w * h];
        r.getSamples(0, 0, w, h, 0, out);
        return new LabelMap(w, h, out);
    }

    /**
     * mmseg's {@code reduce_zero_label}: 0 ("other" in ADE20K) becomes {@code ignore}, every other label drops by one
     * (ADE20K's 1..150 become 0..149), and a value that would land on 255 - 1 stays ignored.
     */
    public LabelMap reduceZeroLabel(int ignore) {
        int[] out = new int[labels.length];
        for (int i = 0; i < labels.length; i++) {
            int v = labels[i];
            out[i] = v == 0 ? ignore : v - 1 == 254 ? ignore : v - 1;
        }
        return new LabelMap(width, height, out);
    }

    /**
     * Nearest-neighbour resize as mmseg resizes segmentation maps: mmcv's {@code imresize(..., 'nearest')}, i.e.
     * cv2's {@code INTER_NEAREST}, source index {@code floor(d * src / dst)} without a half-pixel offset
     * ({@link OpenCvResize#nearest}); a copy when the size does not change.
     */
    public LabelMap resizeNearest(int w, int h) {
        return new LabelMap(w, h, OpenCvResize.nearest(labels, width, height, w, h));
    }
}
