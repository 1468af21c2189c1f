package dev.mvp.losses;

import dev.mvp.api.Loss;
import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.Locale;
import java.util.Objects;

/**
 * Regression of the teacher's patch features, as in MaskDistill, MaskAlign and MILAN.
 *
 * <ul>
 *   <li>{@link Distance#SMOOTH_L1}: {@code F.smooth_l1_loss(pred, target, beta)}, mean over selected patches and
 *       channels. {@link #maskDistill()} uses beta 2.0, the value of the MaskDistill family's code
 *       ({@code nn.SmoothL1Loss(beta=2.0)} after a LayerNorm without affine parameters, as in Feature
 *       Distillation and the MaskDistill reproductions); MaskAlign's {@code 2 * F.smooth_l1_loss(y, x)} is beta
 *       1.0 with a factor 2, available through {@link Config}.</li>
 *   <li>{@link Distance#MSE}: mean squared error.</li>
 *   <li>{@link Distance#COSINE}: MILAN's {@code 2 - 2 cos}, i.e. {@code 2 - 2 (normalize(pred) . normalize(target))}
 *       with {@code F.normalize}'s eps 1e-12, averaged over the selected patches.</li>
 * </ul>
 *
 * <p>With {@code normalizeTargets} the targets pass through a LayerNorm without affine parameters
 * ({@code F.layer_norm(t, (D,), eps=1e-6)}, biased variance) before the comparison. Only patch tokens are
 * compared: a CLS row in the targets [B, 1 + N, D] is dropped (targets [B, N, D] are used as they are); the
 * predictions' CLS row is never used. Metric {@code cosine}: the mean cosine between predicted and (normalised)
 * target features on the compared patches.
 */
public final class FeatureRegressionLoss implements Loss {
    private static final String NAME = "FeatureRegressionLoss";
    private static final double LAYER_NORM_EPS = 1e-6;
    private static final double NORMALIZE_EPS = 1e-12;

    /** How predicted and target features are compared. */
    public enum Distance { SMOOTH_L1, MSE, COSINE }

    /**
     * @param distance         the comparison
     * @param beta             smooth-L1's change point from quadratic to linear (used by {@code SMOOTH_L1} only)
     * @param scale            a constant factor on the loss (MaskAlign: 2 with beta 1)
     * @param normalizeTargets LayerNorm without affine parameters (eps 1e-6) on the targets
     * @param patches          which patches are compared
     */
    public record Config(Distance distance, double beta, double scale, boolean normalizeTargets, PatchSelection patches) {
        public Config {
            Objects.requireNonNull(distance, "distance");
            Objects.requireNonNull(patches, "patches");
            if (!(beta > 0) || Double.isInfinite(beta)) throw new IllegalArgumentException("beta must be positive, got " + beta);
            if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be positive, got " + scale);
        }
    }

    private final Config config;

    public FeatureRegressionLoss(Config config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /** MaskDistill: smooth-L1 (beta 2) to LayerNorm-normalised targets on the masked patches. */
    public static FeatureRegressionLoss maskDistill() {
        return new FeatureRegressionLoss(new Config(Distance.SMOOTH_L1, 2.0, 1, true, PatchSelection.MASKED));
    }

    /** Mean squared error to LayerNorm-normalised targets on the masked patches. */
    public static FeatureRegressionLoss mse() {
        return new FeatureRegressionLoss(new Config(Distance.MSE, 1.0, 1, true, PatchSelection.MASKED));
    }

    /** MILAN: {@code 2 - 2 cos} to the raw targets on the masked patches. */
    public static FeatureRegressionLoss milan() {
        return new FeatureRegressionLoss(new Config(Distance.COSINE, 1.0, 1, false, PatchSelection.MASKED));
    }

    public Config config() {
        return config;
    }

    @Override public String name() {
        String distance = switch (config.distance()) {
            case SMOOTH_L1 -> String.format(Locale.ROOT, "smooth-l1 beta %s", config.beta());
            case MSE -> "mse";
            case COSINE -> "2 - 2 cos";
        };
        return "feature-regression(" + (config.scale() != 1 ? config.scale() + " x " : "") + distance
                + (config.normalizeTargets() ? ", layer-norm targets" : "") + ", "
                + config.patches().name().toLowerCase(Locale.ROOT) + " patches)";
    }

    @Override public boolean accepts(TargetSpec targets) {
        return targets instanceof TargetSpec.Features;
    }

    @Override public LossOutput compute(Tensor predictions, Tensor targets, Tensor mask) {
        long[] bnd = LossInputs.predictionsAndMask(NAME, predictions, mask);
        boolean targetsHaveCls = LossInputs.featureTargets(NAME, predictions, targets, true);
        return LossInputs.scoped(() -> {
            Tensor p = LossInputs.computeType(predictions), t = targets.to(p.scalar_type());
            PatchRows rows = PatchRows.of(config.patches(), mask, NAME);
            Tensor predicted = rows.from(p.narrow(1, 1, bnd[1]));
            Tensor wanted = rows.from(LossInputs.patches(t, targetsHaveCls));
            if (config.normalizeTargets()) {
                wanted = torch.layer_norm(wanted, new long[] {bnd[2]}, new TensorOptional(), new TensorOptional(), LAYER_NORM_EPS, false);
            }
            Tensor loss = switch (config.distance()) {
                case SMOOTH_L1 -> torch.smooth_l1_loss(predicted, wanted, torch.Reduction.Mean.value, config.beta());
                case MSE -> torch.mse_loss(predicted, wanted, torch.Reduction.Mean.value);
                case COSINE -> normalize(predicted).mul(normalize(wanted)).sum(new long[] {-1}, false, new ScalarTypeOptional())
                        .mean().mul(Tensors.scalar(-2)).add(Tensors.scalar(2));
            };
            if (config.scale() != 1) loss = loss.mul(Tensors.scalar(config.scale()));
            Tensor cosine = torch.cosine_similarity(predicted.detach(), wanted, 1, 1e-8).mean();
            return new LossOutput(loss, LossInputs.metric(cosine), "cosine");
        });
    }

    /** {@code F.normalize(x, dim=-1)}: x / max(||x||, 1e-12). */
    private static Tensor normalize(Tensor x) {
        Tensor norm = torch.linalg_vector_norm(x, Tensors.scalar(2), new long[] {-1}, true, new ScalarTypeOptional());
        return x.div(norm.clamp_min(Tensors.scalar(NORMALIZE_EPS)));
    }
}
