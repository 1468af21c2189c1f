package dev.mvp.eval.segment;

/**
 * Training settings of a segmentation head (and, optionally, the backbone) and of mmseg's crop pipeline.
 *
 * @param iterations       optimisation steps
 * @param batchSize        crops per step
 * @param lr               peak learning rate (AdamW 0.9/0.999)
 * @param warmupIters      linear warm-up from 0
 * @param weightDecay      AdamW weight decay (not on biases and norms)
 * @param trainBackbone    fine-tune the backbone too, with layer-wise decay; otherwise it stays frozen
 * @param layerDecay       layer-wise lr decay of the backbone when trained
 * @param minScale         smallest random rescale ratio (mmseg ADE20K: 0.5)
 * @param maxScale         largest random rescale ratio (2.0)
 * @param seed             seed of data order, crops, flips, distortions and the head's init
 * @param catMaxRatio      mmseg's RandomCrop cat_max_ratio (ADE20K: 0.75): redraw a crop (up to 10 times) whose
 *                         largest class covers this share of its labelled pixels or more, or that holds one class;
 *                         1 turns the retry off
 * @param photometric      apply mmseg's PhotoMetricDistortion to every crop (its ADE20K pipeline does)
 */
public record SegConfig(int iterations, int batchSize, double lr, int warmupIters, double weightDecay, boolean trainBackbone,
                        double layerDecay, double minScale, double maxScale, long seed, double catMaxRatio,
                        boolean photometric) {
    /** mmseg's ADE20K pipeline pieces on: cat_max_ratio 0.75 and PhotoMetricDistortion. */
    public SegConfig(int iterations, int batchSize, double lr, int warmupIters, double weightDecay, boolean trainBackbone,
                     double layerDecay, double minScale, double maxScale, long seed) {
        this(iterations, batchSize, lr, warmupIters, weightDecay, trainBackbone, layerDecay, minScale, maxScale, seed,
                RandomCrop.ADE_CAT_MAX_RATIO, true);
    }

    public SegConfig {
        if (!(catMaxRatio > 0 && catMaxRatio <= 1)) throw new IllegalArgumentException("cat_max_ratio must be in (0, 1] (1: no retry), got " + catMaxRatio);
        if (iterations < 1 || batchSize < 1) throw new IllegalArgumentException("iterations and batch size must be >= 1");
        if (!(lr > 0 && Double.isFinite(lr))) throw new IllegalArgumentException("lr must be a finite number > 0, got " + lr);
        if (warmupIters < 0) throw new IllegalArgumentException("warm-up iterations must be >= 0, got " + warmupIters);
        if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        if (!(layerDecay > 0 && layerDecay <= 1)) throw new IllegalArgumentException("layer decay must be in (0, 1]");
        if (!(minScale > 0 && minScale <= maxScale)) throw new IllegalArgumentException("scale range must satisfy 0 < min <= max");
    }

    /** Linear warm-up, then mmseg's poly schedule with power 1 down to 0: {@code lr (1 - i / n)}. */
    public double lrAt(int iter) {
        if (iter < warmupIters) return lr * (iter + 1) / warmupIters;
        return lr * (1 - (double) iter / iterations);
    }
}
