package dev.mvp.eval.segment;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Label PNGs are read as raw values (grey levels or palette indices) and ADE20K's zero label is reduced as mmseg does. */
class LabelMapTest {

    @Test
    void greyAndPaletteLabelsAreReadAsValuesNotColours(@TempDir Path tmp) throws Exception {
        BufferedImage grey = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        int[] values = {0, 1, 150, 255, 7, 42};
        grey.getRaster().setSamples(0, 0, 3, 2, 0, values);
        ImageIO.write(grey, "png", tmp.resolve("g.png").toFile());
        assertThat(LabelMap.read(tmp.resolve("g.png")).labels()).containsExactly(values);

        byte[] r = new byte[256], g = new byte[256], b = new byte[256];
        for (int i = 0; i < 256; i++) {
            r[i] = (byte) (255 - i);
            g[i] = (byte) (i * 7);
            b[i] = (byte) 200;
        }
        BufferedImage indexed = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
        indexed.getRaster().setSamples(0, 0, 3, 2, 0, values);
        ImageIO.write(indexed, "png", tmp.resolve("p.png").toFile());
        assertThat(LabelMap.read(tmp.resolve("p.png")).labels()).containsExactly(values);
    }

    @Test
    void reduceZeroLabelIsMmsegs() {
        LabelMap m = new LabelMap(5, 1, new int[] {0, 1, 150, 255, 254});
        // 0 -> 255 (ignored); 1..150 -> 0..149; 255 -> 254 -> 255 (ignored); 254 -> 253
        assertThat(m.reduceZeroLabel(255).labels()).containsExactly(255, 0, 149, 255, 253);
    }

    @Test
    void nearestResizeKeepsLabelValues() {
        LabelMap m = new LabelMap(2, 2, new int[] {1, 2, 3, 4});
        assertThat(m.resizeNearest(4, 4).labels()).containsExactly(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
    }
}
