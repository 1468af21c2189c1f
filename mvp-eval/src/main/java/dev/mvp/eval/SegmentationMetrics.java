package dev.mvp.eval;

import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;

/**
 * Semantic-segmentation metrics exactly as mmsegmentation computes them ({@code mmseg/core/evaluation/metrics.py}:
 * {@code intersect_and_union}, {@code total_intersect_and_union}, {@code total_area_to_metrics}), the numbers
 * BEiT and MVP report for ADE20K:
 * <pre>
 * per image:   pixels whose label is ignoreIndex are dropped
 *              area_pred[c]  = pixels predicted c          (only values in [0, C) counted, as torch.histc)
 *              area_label[c] = pixels labelled c
 *              intersect[c]  = pixels predicted c and labelled c
 * accumulated over the dataset (sums, not per-image means), then per class
 *              IoU[c] = intersect / (area_pred + area_label - intersect)     NaN when the union is 0
 *              Acc[c] = intersect / area_label                              NaN when the class is not in the labels
 * mIoU = nanmean(IoU), mAcc = nanmean(Acc), aAcc = sum(intersect) / sum(area_label)
 * </pre>
 * So a class absent from both predictions and labels of the whole dataset is excluded from the mean (NaN, skipped),
 * while a class predicted but never labelled counts with IoU 0. Counts are exact ({@code long}). Not thread-safe.
 */
public final class SegmentationMetrics {
    /** ADE20K's ignore value after mmseg's {@code reduce_zero_label} (label 0, "other", becomes 255). */
    public static final int ADE_IGNORE_INDEX = 255;

    private final int numClasses;
    private final int ignoreIndex;
    private final long[] intersect;
    private final long[] areaPred;
    private final long[] areaLabel;

    public SegmentationMetrics(int numClasses, int ignoreIndex) {
        if (numClasses < 1) throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
        this.numClasses = numClasses;
        this.ignoreIndex = ignoreIndex;
        this.intersect = new long[numClasses];
        this.areaPred = new long[numClasses];
        this.areaLabel = new long[numClasses];
    }

    private int skipped;

    /** Counts an image left out of the metric (undecodable; see {@code SegTrainer.evaluate}). */
    public void skip() {
        skipped++;
    }

    /** Images left out of the metric because they could not be decoded. */
    public int skipped() {
        return skipped;
    }

    public int numClasses() {
        return numClasses;
    }

    /** Adds one image: {@code prediction} and {@code label} hold one class index per pixel, same length. */
    public void add(int[] prediction, int[] label) {
        if (prediction.length != label.length) {
            throw new IllegalArgumentException("prediction has " + prediction.length + " pixels, label " + label.length);
        }
        for (int i = 0; i < label.length; i++) {
            int l = label[i];
            if (l == ignoreIndex) continue;
            int p = prediction[i];
            boolean pIn = p >= 0 && p < numClasses, lIn = l >= 0 && l < numClasses;
            if (pIn) areaPred[p]++;
            if (lIn) areaLabel[l]++;
            if (pIn && p == l) intersect[p]++;
        }
    }

    /** Adds one image or a batch given as integer tensors of equal shape (e.g. [H, W] or [B, H, W]). */
    public void add(Tensor prediction, Tensor label) {
        if (!Arrays.equals(Tensors.shape(prediction), Tensors.shape(label))) {
            throw new IllegalArgumentException("prediction " + Tensors.shapeString(prediction) + " and label "
                    + Tensors.shapeString(label) + " differ in shape");
        }
        long[] p = Tensors.toLongs(prediction), l = Tensors.toLongs(label);
        int[] pi = new int[p.length], li = new int[l.length];
        for (int i = 0; i < p.length; i++) {
            pi[i] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, p[i]));
            li[i] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, l[i]));
        }
        add(pi, li);
    }

    /** Per-class intersection counts, accumulated. */
    public long[] intersection() {
        return intersect.clone();
    }

    /** Per-class union counts: {@code area_pred + area_label - intersect}. */
    public long[] union() {
        long[] u = new long[numClasses];
        for (int c = 0; c < numClasses; c++) u[c] = areaPred[c] + areaLabel[c] - intersect[c];
        return u;
    }

    public long[] predictedArea() {
        return areaPred.clone();
    }

    public long[] labelArea() {
        return areaLabel.clone();
    }

    /** Per-class IoU; NaN for a class absent from both predictions and labels. */
    public double[] iou() {
        long[] u = union();
        double[] out = new double[numClasses];
        for (int c = 0; c < numClasses; c++) out[c] = u[c] == 0 ? Double.NaN : (double) intersect[c] / u[c];
        return out;
    }

    /** Per-class accuracy (recall); NaN for a class absent from the labels. */
    public double[] accuracy() {
        double[] out = new double[numClasses];
        for (int c = 0; c < numClasses; c++) out[c] = areaLabel[c] == 0 ? Double.NaN : (double) intersect[c] / areaLabel[c];
        return out;
    }

    /** Mean IoU over the classes whose IoU is not NaN (mmseg's {@code np.nanmean}); NaN if there are none. */
    public double meanIoU() {
        return nanMean(iou());
    }

    /** Mean per-class accuracy over classes present in the labels. */
    public double meanAccuracy() {
        return nanMean(accuracy());
    }

    /** Overall pixel accuracy: {@code sum(intersect) / sum(area_label)}. */
    public double allAccuracy() {
        long i = 0, l = 0;
        for (int c = 0; c < numClasses; c++) {
            i += intersect[c];
            l += areaLabel[c];
        }
        return l == 0 ? Double.NaN : (double) i / l;
    }

    static double nanMean(double[] v) {
        double sum = 0;
        int n = 0;
        for (double x : v) {
            if (!Double.isNaN(x)) {
                sum += x;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
