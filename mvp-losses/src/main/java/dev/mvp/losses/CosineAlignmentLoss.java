package dev.mvp.losses;

import dev.mvp.api.Loss;
import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.Objects;

/**
 * MVP's loss (equation 9): the negative cosine similarity between the head's tokens and the teacher's features,
 *
 * <pre>L = -(cos(F_cls, G_cls) + sum_{m=1..M} cos(F_m, G_m)) / (M + 1)</pre>
 *
 * averaged over the batch. {@link #paper()} compares the CLS token and all N patch tokens (M = N), as the paper
 * does; {@link #maskedPatches()} compares the masked patches only, as EVA does; either may add or drop the CLS
 * term. In every variant the value is minus the mean cosine over all selected tokens of the batch, which is
 * equation 9 averaged over images when every image contributes the same number of tokens, and EVA's
 * {@code -cos(pred[mask], target[mask]).mean()} when only masked patches are selected.
 *
 * <p>Targets: float [B, 1 + N, D] (CLS first) or [B, N, D] when the teacher has no CLS token, in which case only
 * patches are compared. Cosines use {@code torch.nn.functional.cosine_similarity} with eps 1e-8, in float32 (or
 * float64 for float64 inputs), on the predictions' device. Metric {@code cosine}: the mean cosine, so -1 x loss.
 */
public final class CosineAlignmentLoss implements Loss {
    private static final String NAME = "CosineAlignmentLoss";
    private static final double EPS = 1e-8;

    private final PatchSelection patches;
    private final boolean clsTerm;

    /**
     * @param patches which patch tokens to compare
     * @param clsTerm whether to add the CLS token's cosine (ignored when the targets have no CLS row)
     */
    public CosineAlignmentLoss(PatchSelection patches, boolean clsTerm) {
        this.patches = Objects.requireNonNull(patches, "patches");
        this.clsTerm = clsTerm;
    }

    /** As in MVP: the CLS token and all patch tokens. */
    public static CosineAlignmentLoss paper() {
        return new CosineAlignmentLoss(PatchSelection.ALL, true);
    }

    /** As in EVA: the masked patch tokens only, no CLS term. */
    public static CosineAlignmentLoss maskedPatches() {
        return new CosineAlignmentLoss(PatchSelection.MASKED, false);
    }

    @Override public String name() {
        return "cosine-alignment(" + (clsTerm ? "cls + " : "") + (patches == PatchSelection.ALL ? "all" : "masked") + " patches)";
    }

    @Override public boolean accepts(TargetSpec targets) {
        return targets instanceof TargetSpec.Features;
    }

    @Override public LossOutput compute(Tensor predictions, Tensor targets, Tensor mask) {
        long n = LossInputs.predictionsAndMask(NAME, predictions, mask)[1];
        boolean targetsHaveCls = LossInputs.featureTargets(NAME, predictions, targets, true);
        return LossInputs.scoped(() -> {
            Tensor p = LossInputs.computeType(predictions), t = targets.to(p.scalar_type());
            PatchRows rows = PatchRows.of(patches, mask, NAME);
            Tensor predicted = rows.from(p.narrow(1, 1, n));
            Tensor wanted = rows.from(LossInputs.patches(t, targetsHaveCls));
            if (clsTerm && targetsHaveCls) {
                predicted = torch.cat(new TensorVector(p.select(1, 0), predicted), 0);
                wanted = torch.cat(new TensorVector(t.select(1, 0), wanted), 0);
            }
            Tensor meanCosine = torch.cosine_similarity(predicted, wanted, 1, EPS).mean();
            return new LossOutput(meanCosine.neg(), LossInputs.metric(meanCosine), "cosine");
        });
    }
}
