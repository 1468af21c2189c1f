package dev.mvp.eval;

import dev.mvp.data.EvalTransform;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.Objects;

/**
 * Features of a frozen {@link VisionTransformer} (see {@link FeatureSpec}). The model given must already end at the
 * requested block ({@link BackboneFiles.Options#blocks()} truncates it while loading, which also saves the compute
 * of the later blocks): features are read from its last block, after its final {@code norm} if it has one. The
 * model is switched to {@code eval()} mode and runs without gradients. This object owns the model.
 */
public final class VitFeatures implements FeatureExtractor {
    private final VisionTransformer vit;
    private final FeatureSpec.Pooling pooling;
    private final EvalTransform transform;
    private final String source;

    /**
     * @param source names the weights (file path, size and time), for {@link #describe()} and so the cache key
     */
    public VitFeatures(VisionTransformer vit, FeatureSpec.Pooling pooling, EvalTransform transform, String source) {
        this.vit = Objects.requireNonNull(vit, "vit");
        this.pooling = Objects.requireNonNull(pooling, "pooling");
        this.transform = Objects.requireNonNull(transform, "transform");
        this.source = Objects.requireNonNull(source, "source");
        if (transform.size() != vit.imageSize()) {
            throw new IllegalArgumentException("transform size " + transform.size() + " != model image size " + vit.imageSize());
        }
        vit.eval();
    }

    public VisionTransformer model() {
        return vit;
    }

    @Override public int dim() {
        return pooling == FeatureSpec.Pooling.BOTH ? 2 * vit.width() : vit.width();
    }

    @Override public EvalTransform transform() {
        return transform;
    }

    @Override public Tensor extract(Tensor images) {
        try (NoGradGuard noGrad = new NoGradGuard()) {
            return pool(vit, vit.forward(images, null), pooling);
        }
    }

    /** CLS, mean (with fc_norm if the model has it) or both, of tokens {@code [B, 1 + N, C]}. */
    static Tensor pool(VisionTransformer vit, Tensor tokens, FeatureSpec.Pooling pooling) {
        Tensor cls = tokens.select(1, 0);
        if (pooling == FeatureSpec.Pooling.CLS) return cls.contiguous();
        Tensor mean = vit.config().pooling() == VitConfig.Pooling.MEAN ? vit.pool(tokens)
                : tokens.narrow(1, 1, tokens.size(1) - 1).mean(new long[] {1}, false, new ScalarTypeOptional());
        if (pooling == FeatureSpec.Pooling.MEAN) return mean;
        return torch.cat(new TensorVector(cls, mean), 1);
    }

    @Override public String describe() {
        return pooling.name().toLowerCase(java.util.Locale.ROOT) + " features of block " + (vit.config().depth() - 1)
                + " (0-based) of " + vit.description() + " from " + source;
    }

    @Override public void close() {
        vit.close();
    }
}
