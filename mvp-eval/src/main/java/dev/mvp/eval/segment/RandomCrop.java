package dev.mvp.eval.segment;

import java.util.SplittableRandom;

/**
 * mmsegmentation's {@code RandomCrop(crop_size, cat_max_ratio)} bounding-box choice (mmseg 0.x
 * {@code datasets/pipelines/transforms.py}; BEiT's ADE20K pipeline uses {@code cat_max_ratio=0.75}): draw an offset
 * uniformly in {@code 0..max(H - cropH, 0)} x {@code 0..max(W - cropW, 0)}; when {@code catMaxRatio < 1}, up to 10
 * times: count the crop's labels other than the ignore label, keep the box if there are at least two classes and the
 * largest count is below {@code catMaxRatio} of their sum (strictly), else draw again. After ten rejections the
 * eleventh draw is kept unchecked, as mmseg does. A crop near the border may extend past the map: only the part
 * inside counts, and that part is what the crop holds (the rest is padding).
 *
 * <p>Equal to a transcription of mmseg's code on fixed draws ({@code RandomCropTest},
 * {@code tools/fixtures/make_seg_fixtures.py}).
 */
public final class RandomCrop {
    /** mmseg's retry count. */
    public static final int TRIES = 10;
    /** BEiT's and mmseg's ADE20K setting. */
    public static final double ADE_CAT_MAX_RATIO = 0.75;

    private RandomCrop() {}

    /** Where crop offsets come from: {@code {top, left}} with {@code 0 <= top <= marginH}, {@code 0 <= left <= marginW}. */
    public interface Offsets {
        int[] next(int marginH, int marginW);
    }

    /** Uniform offsets, top drawn before left (numpy's randint(0, margin + 1) twice). */
    public static Offsets uniform(SplittableRandom rng) {
        return (mh, mw) -> new int[] {rng.nextInt(mh + 1), rng.nextInt(mw + 1)};
    }

    /**
     * The crop box for a label map {@code labels[y * width + x]}.
     *
     * @param catMaxRatio 1 (or more) for a plain random crop
     * @return {@code {top, left, draws}}: the kept offset and how many offsets were drawn (1..11)
     */
    public static int[] choose(int[] labels, int width, int height, int cropH, int cropW, double catMaxRatio, int ignore,
                               Offsets offsets) {
        if (width < 1 || height < 1 || labels.length != width * height || cropH < 1 || cropW < 1) {
            throw new IllegalArgumentException("label map " + width + "x" + height + " with " + labels.length
                    + " values, crop " + cropW + "x" + cropH);
        }
        int mh = Math.max(height - cropH, 0), mw = Math.max(width - cropW, 0);
        int[] box = draw(offsets, mh, mw);
        int draws = 1;
        if (catMaxRatio < 1) {
            int max = 0;
            for (int v : labels) max = Math.max(max, v);
            int[] counts = new int[max + 1];
            for (int t = 0; t < TRIES; t++) {
                if (accepted(labels, width, height, box[0], box[1], cropH, cropW, catMaxRatio, ignore, counts)) break;
                box = draw(offsets, mh, mw);
                draws++;
            }
        }
        return new int[] {box[0], box[1], draws};
    }

    private static int[] draw(Offsets offsets, int mh, int mw) {
        int[] o = offsets.next(mh, mw);
        if (o.length != 2 || o[0] < 0 || o[0] > mh || o[1] < 0 || o[1] > mw) {
            throw new IllegalStateException("offset " + java.util.Arrays.toString(o) + " outside 0.." + mh + " x 0.." + mw);
        }
        return o;
    }

    private static boolean accepted(int[] labels, int width, int height, int top, int left, int cropH, int cropW,
                                    double ratio, int ignore, int[] counts) {
        java.util.Arrays.fill(counts, 0);
        int y1 = Math.min(height, top + cropH), x1 = Math.min(width, left + cropW);
        for (int y = top; y < y1; y++) {
            for (int x = left; x < x1; x++) counts[labels[y * width + x]]++;
        }
        long sum = 0;
        int classes = 0, largest = 0;
        for (int c = 0; c < counts.length; c++) {
            if (c == ignore || counts[c] == 0) continue;
            classes++;
            sum += counts[c];
            largest = Math.max(largest, counts[c]);
        }
        return classes > 1 && (double) largest / sum < ratio;
    }
}
