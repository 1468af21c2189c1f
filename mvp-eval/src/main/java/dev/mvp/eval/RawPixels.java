package dev.mvp.eval;

import dev.mvp.data.EvalTransform;
import org.bytedeco.pytorch.Tensor;

/**
 * The baseline with no network: an image's feature is its transformed pixels, flattened ({@code 3 * S * S} values,
 * channel-major). k-NN on raw CIFAR-10 pixels is the classic sanity floor (about 35-40% top-1).
 */
public final class RawPixels implements FeatureExtractor {
    private final EvalTransform transform;

    public RawPixels(EvalTransform transform) {
        this.transform = java.util.Objects.requireNonNull(transform, "transform");
    }

    @Override public int dim() {
        return 3 * transform.size() * transform.size();
    }

    @Override public EvalTransform transform() {
        return transform;
    }

    @Override public Tensor extract(Tensor images) {
        return images.reshape(new long[] {images.size(0), -1}).clone();
    }

    @Override public String describe() {
        return "raw pixels";
    }
}
