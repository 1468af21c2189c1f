package dev.mvp.eval.segment;

import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;

/**
 * mmsegmentation's segmentation loss ({@code BaseDecodeHead.losses} with {@code CrossEntropyLoss}, mmseg 0.x as BEiT
 * used it): the logits are resized bilinearly ({@code align_corners=False}) to the label map's size, the per-pixel
 * cross-entropy is taken with {@link SegmentationData#IGNORE} ignored, and the mean is over <b>every</b> pixel of the
 * batch, ignored ones counting 0 (mmseg's {@code weight_reduce_loss} without {@code avg_factor}; its
 * {@code avg_non_ignore} option, added in 0.23, defaults to this too). PyTorch's own {@code ignore_index} mean would
 * divide by the valid pixels instead.
 */
public final class SegLoss {
    private SegLoss() {}

    /**
     * @param logits float32 {@code [B, K, h, w]}
     * @param labels int64 {@code [B, H, W]}: classes {@code 0..K-1} or {@link SegmentationData#IGNORE}
     * @return a scalar tensor in the caller's scope, part of the autograd graph
     */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        if (logits.dim() != 4 || labels.dim() != 3 || logits.size(0) != labels.size(0)) {
            throw new IllegalArgumentException("expected logits [B, K, h, w] and labels [B, H, W], got "
                    + Arrays.toString(Tensors.shape(logits)) + " and " + Arrays.toString(Tensors.shape(labels)));
        }
        Tensor resized = logits.size(2) == labels.size(1) && logits.size(3) == labels.size(2) ? logits
                : torch.upsample_bilinear2d(logits, new long[] {labels.size(1), labels.size(2)}, false);
        // reduction 0 = none: ignored pixels give 0
        return torch.cross_entropy_loss(resized, labels, new TensorOptional(), 0, SegmentationData.IGNORE, 0.0).mean();
    }
}
