package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.clip.ClipCheckpoint;
import dev.mvp.models.clip.ClipLayout;
import dev.mvp.models.clip.ClipVisionConfig;
import dev.mvp.models.clip.ClipVisionTransformer;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * MVP's teacher: the frozen vision tower of CLIP, whose per-token features in the joint image-text space
 * ({@code ln_post(x) @ proj} for the class token and every patch token) are the targets.
 *
 * <ul>
 *   <li>Weights in OpenAI's, Hugging Face's or open_clip's layout, detected or named ({@link ClipCheckpoint}).</li>
 *   <li>{@link #inputSpec()}: the checkpoint's own input, {@code grid * patch} pixels (224 for ViT-B/16), or the size
 *       {@link Options#imageSize()} asks for (position embeddings interpolated); bicubic; CLIP's mean and std (or
 *       what the checkpoint's preprocessing file declares).</li>
 *   <li>{@link #targetSpec()}: {@code Features(dim, includesCls = true)}; {@link #targets} returns float32
 *       [B, 1 + N, dim] with dim = the output dimension (512 for ViT-B/16) for {@link TargetChoice#FEATURES}
 *       (the width for a tower without projection), the width for {@link TargetChoice#LAST_BLOCK}.</li>
 * </ul>
 * Weights are float32 in memory whatever the file stored. Build it outside any
 * {@link org.bytedeco.javacpp.PointerScope}; {@link #close()} frees the weights.
 */
public final class ClipTokenizer implements Tokenizer {
    private final ClipVisionTransformer model;
    private final String source;
    private final String layout;
    private final TargetChoice target;
    private final int imageSize;
    private final ImageNormalization normalization;
    private boolean closed;

    /**
     * How to read a checkpoint and what to compute.
     *
     * @param layout    the checkpoint's layout; null to detect it
     * @param target    which output the targets are ({@link TargetChoice#FEATURES}: the paper's)
     * @param imageSize the teacher's input side; 0 for the checkpoint's own
     * @param keyPath   where the state dict is inside a {@code torch.save} checkpoint ({@link Weights#open(Path, String)});
     *                  empty to search the usual places
     */
    public record Options(ClipLayout layout, TargetChoice target, int imageSize, String keyPath) {
        /** The paper's targets at the checkpoint's size, layout detected. */
        public static final Options DEFAULT = new Options(null, TargetChoice.FEATURES, 0, "");

        public Options {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(keyPath, "keyPath");
            if (imageSize < 0) throw new IllegalArgumentException("image size must be positive (or 0 for the checkpoint's), got " + imageSize);
        }

        public Options withLayout(ClipLayout layout) {
            return new Options(layout, target, imageSize, keyPath);
        }

        public Options withTarget(TargetChoice target) {
            return new Options(layout, target, imageSize, keyPath);
        }

        public Options withImageSize(int imageSize) {
            return new Options(layout, target, imageSize, keyPath);
        }

        public Options withKeyPath(String keyPath) {
            return new Options(layout, target, imageSize, keyPath);
        }
    }

    private ClipTokenizer(ClipVisionTransformer model, String source, String layout, TargetChoice target, int imageSize,
                          ImageNormalization normalization) {
        this.model = model;
        this.source = source;
        this.layout = layout;
        this.target = target;
        this.imageSize = imageSize;
        this.normalization = normalization;
    }

    /** {@link #load(Path, Options)} with {@link Options#DEFAULT}: the paper's targets, layout detected. */
    public static ClipTokenizer load(Path weights) {
        return load(weights, Options.DEFAULT);
    }

    /**
     * Loads a CLIP vision tower from any weight file {@link Weights#open(Path, String)} reads (safetensors,
     * {@code torch.save}, TorchScript), in any layout {@link ClipCheckpoint} knows; the architecture is read from the
     * shapes and the files next to the weights.
     *
     * @throws WeightFormatException    one line naming the file (and the tensor): not a weight file, a missing tensor,
     *                                  a shape inconsistent with the inferred configuration
     * @throws InvalidChoiceException  if {@code options.imageSize()} is not a multiple of the checkpoint's patch size
     */
    public static ClipTokenizer load(Path weights, Options options) {
        Weights file = Weights.open(weights, options.keyPath());
        ClipCheckpoint checkpoint;
        try {
            checkpoint = ClipCheckpoint.of(file, options.layout());
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        try (checkpoint) {
            ClipVisionConfig config = checkpoint.config();
            int size = options.imageSize() == 0 ? config.imageSize() : options.imageSize();
            if (size % config.patchSize() != 0) {
                throw new InvalidChoiceException("teacher input size " + size + " is not a multiple of the CLIP "
                        + "checkpoint's patch size " + config.patchSize());
            }
            return new ClipTokenizer(ClipVisionTransformer.load(checkpoint), weights.toString(),
                    checkpoint.layout().id(), options.target(), size, checkpoint.normalization());
        }
    }

    /**
     * A small randomly initialised teacher in CLIP's layout for wiring checks: width 128, 2 blocks, 2 heads, output
     * dim 64, 224 pixels, patch 16. Its targets mean nothing.
     */
    public static ClipTokenizer random(long seed) {
        return random(seed, 224, 16);
    }

    /** As {@link #random(long)} for another input size and patch (the grid must match the student's). */
    public static ClipTokenizer random(long seed, int imageSize, int patchSize) {
        ClipVisionConfig config = new ClipVisionConfig(imageSize, patchSize, 128, 2, 2, 64);
        return new ClipTokenizer(ClipVisionTransformer.random(config, seed),
                "random (wiring check, no semantics), seed " + seed, "", TargetChoice.FEATURES, imageSize,
                ImageNormalization.CLIP);
    }

    /**
     * e.g. {@code clip-vit(width 768, layers 12, heads 12, patch 16, image 224, output 512, quick_gelu) from
     * ViT-B-16.pt (openai layout)}, with the target and input size when they are not the paper's and the checkpoint's.
     */
    @Override public String name() {
        StringBuilder s = new StringBuilder("clip-vit(").append(model.config()).append(") ");
        if (source.startsWith("random")) return s.append(source).toString();
        s.append("from ").append(source).append(" (").append(layout).append(" layout");
        if (target != TargetChoice.FEATURES) s.append(", ").append(target).append(" targets");
        if (imageSize != model.config().imageSize()) s.append(", input ").append(imageSize).append(" px");
        return s.append(')').toString();
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(imageSize, Interpolation.BICUBIC, normalization);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.Features(target == TargetChoice.FEATURES ? model.config().featureDim() : model.config().width(), true);
    }

    @Override public int gridSize() {
        return imageSize / model.config().patchSize();
    }

    /** Which output the targets are. */
    public TargetChoice target() {
        return target;
    }

    /**
     * The per-token targets of a batch, without autograd.
     *
     * @param images float32 [B, 3, S, S] prepared as {@link #inputSpec()} says
     * @return float32 [B, 1 + N, dim] as {@link #targetSpec()} says, a new tensor in the caller's scope
     */
    @Override public Tensor targets(Tensor images) {
        if (closed) throw new IllegalStateException(name() + " is closed");
        long[] s = Tensors.shape(images);
        if (s.length != 4 || s[2] != imageSize || s[3] != imageSize) {
            throw new IllegalArgumentException("the CLIP teacher takes [B, 3, " + imageSize + ", " + imageSize
                    + "] images, got " + Arrays.toString(s));
        }
        Tensor features;
        try (NoGradGuard noGrad = new NoGradGuard(); InferenceMode inference = new InferenceMode()) {
            features = target == TargetChoice.FEATURES ? model.forward(images) : model.lastBlockTokens(images);
        }
        // an inference tensor cannot take part in autograd later (a loss against a student's predictions would
        // fail in backward): the copy made outside inference mode is an ordinary tensor
        return features.clone();
    }

    /** The vision tower, for callers that need more than the targets (e.g. {@code lastBlockTokens}). */
    public ClipVisionTransformer model() {
        return model;
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        model.close();
    }
}
