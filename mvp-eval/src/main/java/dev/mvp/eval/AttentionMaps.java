package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.io.AtomicFiles;
import dev.mvp.data.RgbImage;
import dev.mvp.models.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The attention maps of the MVP paper's Figure 3 (and DINO's {@code visualize_attention.py}): the attention of the
 * CLS token, as query, to every patch in the last block, averaged over the heads, upsampled to the image and
 * overlaid on it.
 * <pre>
 * A = softmax(q k^T / sqrt(d) + bias) of block depth-1        [B, heads, 1 + N, 1 + N]
 * map = mean over heads of A[:, :, 0, 1:]                     [B, N] -> [B, g, g] (row-major patch grid)
 * upsampled: nearest (each patch a p x p block, DINO's scale_factor=patch_size) or bilinear (align_corners=False)
 * </pre>
 * The CLS token's attention to itself is left out, so a map's values sum to at most 1.
 */
public final class AttentionMaps {
    private AttentionMaps() {}

    /** How a patch-grid map is enlarged to pixels. */
    public enum Upsampling {
        NEAREST, BILINEAR;

        public static Upsampling parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "nearest" -> NEAREST;
                case "bilinear" -> BILINEAR;
                default -> throw new IllegalArgumentException("unknown upsampling '" + s + "' (expected nearest or bilinear)");
            };
        }
    }

    /**
     * The CLS-query attention maps of the model's last block, averaged over heads, in eval mode without gradients.
     *
     * @param images float32 [B, 3, S, S] as the model expects them
     * @return per image a row-major {@code g x g} array ({@code maps[b][row * g + col]})
     */
    public static float[][] clsAttention(VisionTransformer vit, Tensor images) {
        vit.eval();
        int g = vit.config().gridSize(), n = g * g;
        long b = images.size(0);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor a = vit.attentionWeights(images, null, vit.config().depth() - 1);        // [B, H, T, T]
            Tensor cls = a.select(2, 0).narrow(2, 1, n);                                     // [B, H, N]
            Tensor mean = cls.mean(new long[] {1}, false, new ScalarTypeOptional());         // [B, N]
            float[] all = Tensors.toFloats(mean);
            float[][] out = new float[(int) b][n];
            for (int i = 0; i < b; i++) System.arraycopy(all, i * n, out[i], 0, n);
            return out;
        }
    }

    /**
     * A {@code g x g} map enlarged to {@code size x size} pixels: nearest repeats each cell over its block (size must
     * then be a multiple of g to be exact), bilinear interpolates between cell centres as
     * {@code F.interpolate(mode='bilinear', align_corners=False)}.
     */
    public static float[] upsample(float[] map, int g, int size, Upsampling mode) {
        float[] out = new float[size * size];
        double scale = (double) g / size;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                float v;
                if (mode == Upsampling.NEAREST) {
                    int r = Math.min(g - 1, (int) Math.floor(y * scale)), c = Math.min(g - 1, (int) Math.floor(x * scale));
                    v = map[r * g + c];
                } else {
                    double sy = Math.max(0, (y + 0.5) * scale - 0.5), sx = Math.max(0, (x + 0.5) * scale - 0.5);
                    int y0 = Math.min(g - 1, (int) sy), x0 = Math.min(g - 1, (int) sx);
                    int y1 = Math.min(g - 1, y0 + 1), x1 = Math.min(g - 1, x0 + 1);
                    double fy = sy - y0, fx = sx - x0;
                    v = (float) ((1 - fy) * ((1 - fx) * map[y0 * g + x0] + fx * map[y0 * g + x1])
                            + fy * ((1 - fx) * map[y1 * g + x0] + fx * map[y1 * g + x1]));
                }
                out[y * size + x] = v;
            }
        }
        return out;
    }

    /** The index of the largest value (the first one on ties). */
    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Colour of {@code t} in [0, 1] on the "jet" scale (blue - cyan - yellow - red), as packed RGB. */
    static int jet(double t) {
        t = Math.max(0, Math.min(1, t));
        int r = channel(1.5 - Math.abs(4 * t - 3)), gr = channel(1.5 - Math.abs(4 * t - 2)), b = channel(1.5 - Math.abs(4 * t - 1));
        return (r << 16) | (gr << 8) | b;
    }

    private static int channel(double v) {
        return (int) Math.round(255 * Math.max(0, Math.min(1, v)));
    }

    /** One image of a sheet: the picture the model saw, its map (upsampled, {@code size * size}), and a caption. */
    public record Entry(RgbImage image, float[] map, String caption) {}

    /**
     * Writes a PNG sheet: one row per entry with the image, the map in colour (min-max normalised per image), and the
     * map blended over the image (alpha 0.5), each panel enlarged by {@code zoom} (nearest), with the caption above.
     */
    public static void writeSheet(List<Entry> entries, int zoom, Path file) {
        if (entries.isEmpty()) throw new IllegalArgumentException("no images for the sheet " + file);
        int s = entries.get(0).image().width(), panel = s * zoom, pad = 6, caption = 16;
        int width = 3 * panel + 4 * pad, height = entries.size() * (panel + caption + pad) + pad;
        BufferedImage sheet = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D gfx = sheet.createGraphics();
        gfx.setColor(Color.WHITE);
        gfx.fillRect(0, 0, width, height);
        gfx.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        gfx.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (e.image().width() != s || e.image().height() != s || e.map().length != s * s) {
                throw new IllegalArgumentException("sheet entries must all be " + s + "x" + s + " with a map of the same size");
            }
            int top = pad + i * (panel + caption + pad);
            gfx.setColor(Color.BLACK);
            gfx.drawString(e.caption(), pad, top + 12);
            int y0 = top + caption;
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (float v : e.map()) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            float range = max > min ? max - min : 1;
            for (int y = 0; y < panel; y++) {
                for (int x = 0; x < panel; x++) {
                    int sx = x / zoom, sy = y / zoom;
                    int rgb = (e.image().get(sx, sy, 0) << 16) | (e.image().get(sx, sy, 1) << 8) | e.image().get(sx, sy, 2);
                    int heat = jet((e.map()[sy * s + sx] - min) / range);
                    sheet.setRGB(pad + x, y0 + y, rgb);
                    sheet.setRGB(2 * pad + panel + x, y0 + y, heat);
                    sheet.setRGB(3 * pad + 2 * panel + x, y0 + y, blend(rgb, heat));
                }
            }
        }
        gfx.dispose();
        // atomically; on failure (a full disk) the temporary file is removed
        AtomicFiles.writePng(file, sheet);
    }

    private static int blend(int a, int b) {
        int r = (((a >> 16) & 0xFF) + ((b >> 16) & 0xFF)) / 2;
        int g = (((a >> 8) & 0xFF) + ((b >> 8) & 0xFF)) / 2;
        int bl = ((a & 0xFF) + (b & 0xFF)) / 2;
        return (r << 16) | (g << 8) | bl;
    }
}
