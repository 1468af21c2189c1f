package dev.mvp.eval.segment;

import dev.mvp.eval.optim.Param;
import dev.mvp.models.VisionTransformer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * A segmentation model over a ViT backbone: {@link LinearSegmenter} (light) or {@link UperNetSegmenter} (BEiT/MVP's
 * head). Owns its backbone; built outside any PointerScope.
 */
public interface Segmenter extends AutoCloseable {

    /** Per-pixel class logits {@code [B, classes, S, S]} of images {@code [B, 3, S, S]}, S = the backbone's size. */
    Tensor forward(Tensor images);

    /**
     * The training loss of images {@code [B, 3, S, S]} against labels int64 {@code [B, S, S]} (classes or
     * {@link SegmentationData#IGNORE}): by default {@link SegLoss#crossEntropy} of {@link #forward}; a model with
     * auxiliary heads adds theirs ({@link UperNetSegmenter}). A scalar in the caller's scope.
     */
    default Tensor loss(Tensor images, Tensor labels) {
        return SegLoss.crossEntropy(forward(images), labels);
    }

    VisionTransformer backbone();

    int classes();

    /** The head's trainable parameters (the module's own tensors), with weight decay on convolution/linear weights. */
    List<Param> headParams(double weightDecay);

    /** The module holding backbone and head (for train()/eval() and state dicts). */
    Module module();

    /** A short description for logs. */
    String describe();

    @Override void close();
}
