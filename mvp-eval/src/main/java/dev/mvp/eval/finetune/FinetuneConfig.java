package dev.mvp.eval.finetune;

/**
 * Fine-tuning settings, named after BEiT's {@code run_class_finetuning.py} flags; {@link #paper()} is the MVP/BEiT
 * ViT-B recipe: AdamW (0.9, 0.999), lr 4e-3 (absolute: BEiT does not rescale it by batch size) at batch 1024,
 * 100 epochs with 20 of linear warm-up from 0 then cosine to 1e-6 (stepped per iteration), weight decay 0.05,
 * layer decay 0.65, drop path 0.1, label smoothing 0.1, Mixup 0.8 / CutMix 1.0 always with switch probability 0.5,
 * RandAugment (timm's rand-m9-mstd0.5-inc1, {@link RandAugment}) and random erasing 0.25, mean pooling with fc_norm,
 * no EMA.
 *
 * @param epochs       training epochs
 * @param warmupEpochs linear warm-up epochs (whole epochs of steps)
 * @param batchSize    images per step (drop last); must be even when mixing
 * @param lr           peak learning rate
 * @param minLr        final learning rate of the cosine
 * @param weightDecay  AdamW weight decay (not for biases, norms, pos_embed, cls_token)
 * @param layerDecay   layer-wise lr decay ({@link LayerDecay}); 1 = none
 * @param dropPath     stochastic depth of the last block (linear in depth)
 * @param smoothing    label smoothing
 * @param mixup        Mixup alpha (0: off)
 * @param cutmix       CutMix alpha (0: off)
 * @param mixProb      probability of mixing a batch
 * @param switchProb   probability of CutMix rather than Mixup
 * @param randAugment  RandAugment ({@code rand-m9-mstd0.5-inc1}) on/off
 * @param eraseProb    random-erasing probability
 * @param meanPooling  mean of patch tokens + fc_norm (BEiT default) instead of the CLS token
 * @param emaDecay     EMA of the weights with this decay (timm ModelEma; BEiT's --model_ema_decay 0.9999); 0 = off
 * @param imageSize    input side (0: the backbone's own)
 * @param seed         seed of the head init, drop path, data order, augmentation and mixing
 */
public record FinetuneConfig(int epochs, int warmupEpochs, int batchSize, double lr, double minLr, double weightDecay,
                             double layerDecay, double dropPath, double smoothing, double mixup, double cutmix,
                             double mixProb, double switchProb, boolean randAugment, double eraseProb,
                             boolean meanPooling, double emaDecay, int imageSize, long seed) {

    public FinetuneConfig {
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        if (warmupEpochs < 0 || warmupEpochs > epochs) throw new IllegalArgumentException("warm-up epochs must be in [0, epochs]");
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1");
        if (!(lr > 0 && Double.isFinite(lr))) throw new IllegalArgumentException("lr must be a finite number > 0, got " + lr);
        if (!(minLr >= 0 && minLr <= lr)) throw new IllegalArgumentException("min lr must be in [0, lr " + lr + "], got " + minLr);
        if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) throw new IllegalArgumentException("weight decay must be a finite number >= 0, got " + weightDecay);
        if (!(layerDecay > 0 && layerDecay <= 1)) throw new IllegalArgumentException("layer decay must be in (0, 1], got " + layerDecay);
        if (!(dropPath >= 0 && dropPath < 1)) throw new IllegalArgumentException("drop path must be in [0, 1), got " + dropPath);
        if (!(smoothing >= 0 && smoothing < 1)) throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + smoothing);
        if (!(mixup >= 0 && Double.isFinite(mixup)) || !(cutmix >= 0 && Double.isFinite(cutmix))) {
            throw new IllegalArgumentException("Mixup and CutMix alphas must be finite numbers >= 0, got " + mixup + " and " + cutmix);
        }
        if (!(mixProb >= 0 && mixProb <= 1) || !(switchProb >= 0 && switchProb <= 1) || !(eraseProb >= 0 && eraseProb <= 1)) {
            throw new IllegalArgumentException("mix, switch and erase probabilities must be in [0, 1], got " + mixProb + ", "
                    + switchProb + ", " + eraseProb);
        }
        if (!(emaDecay >= 0 && emaDecay < 1)) throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + emaDecay);
        if (imageSize < 0) throw new IllegalArgumentException("image size must be >= 0");
        if ((mixup > 0 || cutmix > 0) && mixProb > 0 && batchSize % 2 != 0) {
            throw new IllegalArgumentException("Mixup/CutMix pair image i with image B-1-i: the batch size must be even, got " + batchSize);
        }
    }

    /** The paper's (BEiT's) ViT-B fine-tuning recipe; see the class comment. */
    public static FinetuneConfig paper() {
        return new FinetuneConfig(100, 20, 1024, 4e-3, 1e-6, 0.05, 0.65, 0.1, 0.1, 0.8, 1.0, 1.0, 0.5, true, 0.25,
                true, 0, 0, 0);
    }

    /** The mixing this configuration asks for. */
    public Mixup mixing(int numClasses) {
        return new Mixup(mixup, cutmix, mixProb, switchProb, smoothing, numClasses);
    }

    /**
     * BEiT's {@code cosine_scheduler} value at a 0-based step: linear from 0 to lr over the warm-up steps
     * ({@code np.linspace(0, lr, warmup_steps)}), then {@code minLr + (lr - minLr) (1 + cos(pi i / n)) / 2} over the
     * remaining {@code n} steps.
     */
    public double lrAt(long step, int stepsPerEpoch) {
        long warmup = (long) warmupEpochs * stepsPerEpoch, total = (long) epochs * stepsPerEpoch;
        if (step < warmup) return warmup == 1 ? lr : lr * step / (double) (warmup - 1);
        long n = total - warmup;
        long i = Math.min(step - warmup, n - 1);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * i / n));
    }
}
