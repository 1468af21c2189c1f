package dev.mvp.losses;

import dev.mvp.api.Loss;
import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * MAE's pixel loss ({@code forward_loss} in {@code models_mae.py}): mean squared error between predicted and
 * target patch pixels on the masked patches, averaged over the masked patches of the batch.
 *
 * <p>With {@code normPixLoss} (MAE's {@code --norm_pix_loss}, on in {@link #mae()}) each target patch is first
 * normalised by its own mean and unbiased variance: {@code (t - mean) / (var + 1e-6) ** .5}.
 *
 * <p>Predictions [B, 1 + N, P] (the CLS row is not used), targets float [B, N, P] patchified pixels (P = p * p * 3),
 * as a pixel tokenizer with {@code TargetSpec.Features(P, false)} produces. Metric {@code cosine}: the mean cosine
 * between predicted and target patches (normalised when {@code normPixLoss}) on the masked patches, eps 1e-8, so that
 * every loss logs the cosine or accuracy it implies (the loss itself is the MSE).
 */
public final class NormalizedPixelLoss implements Loss {
    private static final String NAME = "NormalizedPixelLoss";
    private static final double EPS = 1e-6;

    private final boolean normPixLoss;

    public NormalizedPixelLoss(boolean normPixLoss) {
        this.normPixLoss = normPixLoss;
    }

    /** MAE's recommended setting: per-patch normalised pixel targets. */
    public static NormalizedPixelLoss mae() {
        return new NormalizedPixelLoss(true);
    }

    public boolean normPixLoss() {
        return normPixLoss;
    }

    @Override public String name() {
        return "pixel-mse(" + (normPixLoss ? "per-patch normalised" : "raw") + " targets, masked patches)";
    }

    @Override public boolean accepts(TargetSpec targets) {
        return targets instanceof TargetSpec.Features f && !f.includesCls() && (!normPixLoss || f.dim() > 1);
    }

    @Override public LossOutput compute(Tensor predictions, Tensor targets, Tensor mask) {
        long[] bnd = LossInputs.predictionsAndMask(NAME, predictions, mask);
        LossInputs.featureTargets(NAME, predictions, targets, false);
        if (normPixLoss && bnd[2] < 2) {
            throw new IllegalArgumentException(NAME + ": per-patch normalisation needs at least 2 values per patch, targets "
                    + LossInputs.describe(targets) + " have " + bnd[2]);
        }
        return LossInputs.scoped(() -> {
            Tensor p = LossInputs.computeType(predictions), t = targets.to(p.scalar_type());
            PatchRows masked = PatchRows.of(PatchSelection.MASKED, mask, NAME);
            Tensor predicted = masked.from(p.narrow(1, 1, bnd[1]));
            Tensor wanted = masked.from(t);
            if (normPixLoss) {
                Tensor mean = wanted.mean(new long[] {-1}, true, new ScalarTypeOptional());
                Tensor var = wanted.var(new long[] {-1}, true, true);
                wanted = wanted.sub(mean).div(var.add(Tensors.scalar(EPS)).sqrt());
            }
            Tensor loss = torch.mse_loss(predicted, wanted, torch.Reduction.Mean.value);
            Tensor cosine = torch.cosine_similarity(predicted.detach(), wanted, 1, 1e-8).mean();
            return new LossOutput(loss, LossInputs.metric(cosine), "cosine");
        });
    }
}
