package dev.mvp.eval.finetune;

import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.SplittableRandom;

/**
 * timm's {@code Mixup} in its {@code mode='batch'} (what BEiT, MAE and MVP fine-tune with), with label smoothing:
 * <pre>
 * with probability prob:   cutmix with probability switchProb (lam ~ Beta(cutmixAlpha, cutmixAlpha)),
 *                          else mixup (lam ~ Beta(mixupAlpha, mixupAlpha)); otherwise lam = 1 (no mixing)
 * mixup:   x = lam * x + (1 - lam) * x.flip(0)                  image i is mixed with image B-1-i
 * cutmix:  a box of side sqrt(1 - lam) * (H, W) centred at a uniform point, clipped to the image, is pasted from
 *          x.flip(0); lam is then corrected to 1 - box area / image area (correct_lam=True)
 * target:  lam * smooth(y) + (1 - lam) * smooth(y.flip(0)),   smooth = one-hot with off = eps / C, on = 1 - eps + off
 * </pre>
 * So the label weight of the pasted image equals the pasted area exactly. Draws come from the generator given.
 *
 * @param mixupAlpha   Beta parameter of mixup (BEiT/MVP: 0.8; 0 disables mixup)
 * @param cutmixAlpha  Beta parameter of cutmix (1.0; 0 disables cutmix)
 * @param prob         probability that a batch is mixed at all (1.0)
 * @param switchProb   probability of cutmix rather than mixup when both are enabled (0.5)
 * @param smoothing    label smoothing (0.1)
 * @param numClasses   classes of the targets
 */
public record Mixup(double mixupAlpha, double cutmixAlpha, double prob, double switchProb, double smoothing, int numClasses) {

    public Mixup {
        if (mixupAlpha < 0 || cutmixAlpha < 0) throw new IllegalArgumentException("mixup and cutmix alphas must be >= 0");
        if (prob < 0 || prob > 1 || switchProb < 0 || switchProb > 1) throw new IllegalArgumentException("probabilities must be in [0, 1]");
        if (smoothing < 0 || smoothing >= 1) throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + smoothing);
        if (numClasses < 1) throw new IllegalArgumentException("numClasses must be >= 1");
    }

    /** BEiT's and MVP's fine-tuning setting: mixup 0.8, cutmix 1.0, always, switch 0.5, smoothing 0.1. */
    public static Mixup beit(int numClasses) {
        return new Mixup(0.8, 1.0, 1.0, 0.5, 0.1, numClasses);
    }

    /** Whether any mixing is enabled. */
    public boolean enabled() {
        return prob > 0 && (mixupAlpha > 0 || cutmixAlpha > 0);
    }

    /**
     * What was done to a batch.
     *
     * @param lam    weight of each image's own label (1: untouched)
     * @param cutmix whether a box was pasted
     * @param box    the pasted box {@code {top, bottom, left, right}} (exclusive ends), or null
     */
    public record Mix(double lam, boolean cutmix, int[] box) {}

    /** Draws this batch's parameters (timm's {@code _params_per_batch}) for images of {@code h x w}. */
    public Mix draw(int h, int w, SplittableRandom rng) {
        if (!enabled() || !(rng.nextDouble() < prob)) return new Mix(1, false, null);
        boolean cut;
        double lam;
        if (mixupAlpha > 0 && cutmixAlpha > 0) {
            cut = rng.nextDouble() < switchProb;
            lam = Beta.sample(cut ? cutmixAlpha : mixupAlpha, rng);
        } else if (mixupAlpha > 0) {
            cut = false;
            lam = Beta.sample(mixupAlpha, rng);
        } else {
            cut = true;
            lam = Beta.sample(cutmixAlpha, rng);
        }
        if (!cut) return new Mix(lam, false, null);
        // timm rand_bbox (margin 0) + cutmix_bbox_and_lam(correct_lam=True)
        double ratio = Math.sqrt(1 - lam);
        int cutH = (int) (h * ratio), cutW = (int) (w * ratio);
        int cy = rng.nextInt(h), cx = rng.nextInt(w);
        int top = clamp(cy - cutH / 2, h), bottom = clamp(cy + cutH / 2, h);
        int left = clamp(cx - cutW / 2, w), right = clamp(cx + cutW / 2, w);
        double corrected = 1.0 - (double) (bottom - top) * (right - left) / ((double) h * w);
        return new Mix(corrected, true, new int[] {top, bottom, left, right});
    }

    private static int clamp(int v, int max) {
        return Math.max(0, Math.min(max, v));
    }

    /** Mixes {@code images} [B, 3, H, W] in place (timm's {@code _mix_batch}); B must be even as in timm. */
    public void mixImages(Tensor images, Mix mix) {
        if (mix.lam() == 1) return;
        if (images.size(0) % 2 != 0) throw new IllegalArgumentException("mixup needs an even batch size, got " + images.size(0));
        Tensor flipped = images.flip(new long[] {0});
        if (mix.cutmix()) {
            int[] b = mix.box();
            if (b[1] > b[0] && b[3] > b[2]) {
                images.narrow(2, b[0], b[1] - b[0]).narrow(3, b[2], b[3] - b[2])
                        .copy_(flipped.narrow(2, b[0], b[1] - b[0]).narrow(3, b[2], b[3] - b[2]));
            }
        } else {
            images.mul_(new Scalar(mix.lam())).add_(flipped.mul_(new Scalar(1 - mix.lam())));
        }
    }

    /** Soft targets [B, numClasses] float32 for {@code labels} (timm's {@code mixup_target}). */
    public Tensor targets(int[] labels, Mix mix) {
        int b = labels.length;
        double off = smoothing / numClasses, on = 1 - smoothing + off;
        float[] y = new float[b * numClasses];
        for (int i = 0; i < b; i++) {
            int own = labels[i], other = labels[b - 1 - i];
            for (int c = 0; c < numClasses; c++) {
                double y1 = c == own ? on : off, y2 = c == other ? on : off;
                y[i * numClasses + c] = (float) (y1 * mix.lam() + y2 * (1 - mix.lam()));
            }
        }
        return Tensors.ofFloats(y, b, numClasses);
    }

    /** timm's {@code SoftTargetCrossEntropy}: {@code mean over the batch of sum(-target * log_softmax(logits))}. */
    public static Tensor softTargetCrossEntropy(Tensor logits, Tensor targets) {
        return targets.neg().mul(torch.log_softmax(logits, -1)).sum(new long[] {-1}, false, new org.bytedeco.pytorch.ScalarTypeOptional())
                .mean();
    }
}
