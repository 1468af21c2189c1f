package dev.mvp.losses;

import dev.mvp.api.Loss;
import dev.mvp.api.LossOutput;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * BEiT's loss: cross-entropy between the head's logits and the tokenizer's visual token ids at the masked
 * positions only, averaged over all masked positions of the batch ({@code nn.CrossEntropyLoss()(logits[mask],
 * ids[mask])} in BEiT's {@code engine_for_pretraining.py}).
 *
 * <p>Predictions: logits [B, 1 + N, V] with V the vocabulary size (the CLS row is not used); targets: int64
 * [B, N] ids in [0, V). Metric {@code accuracy}: top-1 accuracy on the masked positions, as BEiT's
 * {@code mlm_acc}.
 */
public final class CodebookCrossEntropy implements Loss {
    /** The DALL-E d-VAE's codebook size, BEiT's default. */
    public static final int DALLE_VOCABULARY = 8192;

    private static final String NAME = "CodebookCrossEntropy";

    private final int vocabularySize;

    /** Over DALL-E's 8192 visual tokens. */
    public CodebookCrossEntropy() {
        this(DALLE_VOCABULARY);
    }

    public CodebookCrossEntropy(int vocabularySize) {
        if (vocabularySize < 2) throw new IllegalArgumentException("vocabulary needs at least 2 entries, got " + vocabularySize);
        this.vocabularySize = vocabularySize;
    }

    public int vocabularySize() {
        return vocabularySize;
    }

    @Override public String name() {
        return "codebook-cross-entropy(" + vocabularySize + " tokens, masked patches)";
    }

    @Override public boolean accepts(TargetSpec targets) {
        return targets instanceof TargetSpec.TokenIds ids && ids.vocabularySize() == vocabularySize;
    }

    @Override public LossOutput compute(Tensor predictions, Tensor targets, Tensor mask) {
        long[] bnd = LossInputs.predictionsAndMask(NAME, predictions, mask);
        if (bnd[2] != vocabularySize) {
            throw new IllegalArgumentException(NAME + ": predictions " + LossInputs.describe(predictions)
                    + " have " + bnd[2] + " logits per token, the vocabulary has " + vocabularySize);
        }
        long[] t = Tensors.shape(targets);
        if (!LossInputs.is(targets, ScalarType.Long) || t.length != 2 || t[0] != bnd[0] || t[1] != bnd[1]) {
            throw new IllegalArgumentException(NAME + ": targets must be Long token ids [" + bnd[0] + ", " + bnd[1]
                    + "] for predictions " + LossInputs.describe(predictions) + ", got " + LossInputs.describe(targets));
        }
        LossInputs.sameDevice(NAME, predictions, targets, "targets");
        return LossInputs.scoped(() -> {
            PatchRows masked = PatchRows.of(PatchSelection.MASKED, mask, NAME);
            Tensor logits = masked.from(LossInputs.computeType(predictions).narrow(1, 1, bnd[1]));
            Tensor ids = masked.from(targets);
            checkRange(ids);
            Tensor loss = torch.cross_entropy(logits, ids);
            Tensor accuracy = logits.detach().argmax(new LongOptional(-1), false).eq(ids).to(ScalarType.Float).mean();
            return new LossOutput(loss, LossInputs.metric(accuracy), "accuracy");
        });
    }

    /** Out-of-range ids would fail deep in libtorch (or assert on a GPU): say which id is wrong instead. */
    private void checkRange(Tensor ids) {
        T_TensorTensor_T minMax = torch.aminmax(ids);
        long min = minMax.get0().item_long(), max = minMax.get1().item_long();
        if (min < 0 || max >= vocabularySize) {
            throw new IllegalArgumentException(NAME + ": token id " + (min < 0 ? min : max) + " is outside [0, "
                    + vocabularySize + ")");
        }
    }
}
