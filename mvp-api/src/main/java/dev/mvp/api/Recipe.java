package dev.mvp.api;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.Objects;

/**
 * One masked-image-modeling method assembled from its parts. MVP and BEiT differ only in the parts passed in:
 *
 * <pre>{@code
 * var teacher = ClipTokenizer.load(path);
 * var student = VisionTransformer.create(VitConfig.base(16));
 * Recipe mvp  = Recipe.of("mvp", teacher, BlockwiseMasking.beit(75), student, LinearHead.of(student, teacher),
 *                         CosineAlignmentLoss.paper());
 * Recipe beit = Recipe.of("beit", dalle, BlockwiseMasking.beit(75), student, LinearHead.of(student, dalle),
 *                         new CodebookCrossEntropy());
 * }</pre>
 *
 * The parts are checked against each other when the recipe is made (head sizes, target kind, patch grids).
 */
public record Recipe(String name, Tokenizer tokenizer, MaskingStrategy masking, Backbone backbone, Head head, Loss loss) {

    public Recipe {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(masking, "masking");
        Objects.requireNonNull(backbone, "backbone");
        Objects.requireNonNull(head, "head");
        Objects.requireNonNull(loss, "loss");
        if (head.inputDim() != backbone.width()) {
            throw new IllegalArgumentException("head input " + head.inputDim() + " != backbone width " + backbone.width());
        }
        if (head.outputDim() != tokenizer.targetSpec().headOutputs()) {
            throw new IllegalArgumentException("head output " + head.outputDim() + " != targets' " + tokenizer.targetSpec());
        }
        if (!loss.accepts(tokenizer.targetSpec())) {
            throw new IllegalArgumentException("loss " + loss.name() + " cannot consume " + tokenizer.targetSpec());
        }
        if (tokenizer.gridSize() != backbone.gridSize()) {
            throw new IllegalArgumentException("teacher grid " + tokenizer.gridSize() + "x" + tokenizer.gridSize()
                    + " != student grid " + backbone.gridSize() + "x" + backbone.gridSize()
                    + ": choose image and patch sizes so the token grids match");
        }
    }

    public static Recipe of(String name, Tokenizer tokenizer, MaskingStrategy masking, Backbone backbone, Head head,
                            Loss loss) {
        return new Recipe(name, tokenizer, masking, backbone, head, loss);
    }

    /**
     * The loss of one batch: the teacher's targets on its (unmasked) view, without autograd, then the student's
     * prediction from its masked view.
     *
     * @param studentView float32 [B, 3, S, S], normalised for the student
     * @param teacherView float32 [B, 3, T, T], normalised as {@code tokenizer().inputSpec()} says
     * @param mask        bool [B, N], {@code true} = masked
     */
    public LossOutput forward(Tensor studentView, Tensor teacherView, Tensor mask) {
        Tensor targets;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            targets = tokenizer.targets(teacherView);
        }
        return forwardWithTargets(studentView, targets, mask);
    }

    /** As {@link #forward} with targets computed earlier (for a target cache). */
    public LossOutput forwardWithTargets(Tensor studentView, Tensor targets, Tensor mask) {
        Tensor tokens = backbone.forward(studentView, mask);
        Tensor predictions = head.forward(tokens);
        return loss.compute(predictions, targets, mask);
    }

    /** One line per part, for logs and {@code config.json}. */
    public String describe() {
        return "recipe " + name + "\n"
                + "  tokenizer: " + tokenizer.name() + " -> " + tokenizer.targetSpec() + ", input " + tokenizer.inputSpec() + "\n"
                + "  masking:   " + masking.name() + "\n"
                + "  backbone:  " + backbone.description() + "\n"
                + "  head:      linear " + head.inputDim() + " -> " + head.outputDim() + "\n"
                + "  loss:      " + loss.name();
    }
}
