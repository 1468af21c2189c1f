package dev.mvp.eval;

import dev.mvp.data.EvalTransform;
import org.bytedeco.pytorch.Tensor;

/**
 * Maps a batch of evaluation images to one feature vector per image, without gradients. Implementations hold their
 * weights (long-lived) and return new tensors in the caller's {@link org.bytedeco.javacpp.PointerScope}.
 */
public interface FeatureExtractor extends AutoCloseable {

    /** The feature dimension D. */
    int dim();

    /** The image transform the extractor expects its inputs to have gone through. */
    EvalTransform transform();

    /**
     * Features of a batch.
     *
     * @param images float32 {@code [B, 3, S, S]}, S = {@code transform().size()}, transformed by {@link #transform()}
     * @return float32 {@code [B, D]}, not part of any autograd graph
     */
    Tensor extract(Tensor images);

    /** One line naming what is extracted, for logs and the cache key (must change whenever the features would). */
    String describe();

    @Override default void close() {}
}
