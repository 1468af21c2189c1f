package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.clip.ClipVisionConfig;
import dev.mvp.models.clip.ClipVisionTransformer;
import dev.mvp.models.io.WeightFormatException;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;

/**
 * MVP's teacher: the frozen vision tower of OpenAI CLIP, whose per-token features in the joint image-text space
 * ({@code ln_post(x) @ proj} for the class token and every patch token) are the targets.
 *
 * <ul>
 *   <li>{@link #inputSpec()}: the checkpoint's own input, {@code grid * patch} pixels (224 for ViT-B/16), bicubic,
 *       CLIP's mean and std.</li>
 *   <li>{@link #targetSpec()}: {@code Features(outputDim, includesCls = true)}; {@link #targets} returns float32
 *       [B, 1 + N, outputDim] (512 for ViT-B/16).</li>
 * </ul>
 * Weights are float32 in memory whatever the file stored. Build it outside any
 * {@link org.bytedeco.javacpp.PointerScope}; {@link #close()} frees the weights.
 */
public final class ClipTokenizer implements Tokenizer {
    private final ClipVisionTransformer model;
    private final String source;
    private boolean closed;

    private ClipTokenizer(ClipVisionTransformer model, String source) {
        this.model = model;
        this.source = source;
    }

    /**
     * Loads a safetensors checkpoint in OpenAI's state-dict layout ({@code visual.conv1.weight}, ...; keys without
     * the {@code visual.} prefix are accepted too), fp32 or fp16; the architecture is read from the shapes.
     *
     * @throws WeightFormatException one line naming the file (and the tensor): not a safetensors file, a missing
     *                               tensor, a shape inconsistent with the inferred configuration
     */
    public static ClipTokenizer load(Path safetensors) {
        return new ClipTokenizer(ClipVisionTransformer.load(safetensors), safetensors.toString());
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
        return new ClipTokenizer(ClipVisionTransformer.random(config, seed), "random (wiring check, no semantics), seed " + seed);
    }

    /** e.g. {@code clip-vit(width 768, layers 12, heads 12, patch 16, image 224, output 512) from ViT-B-16.safetensors}. */
    @Override public String name() {
        return "clip-vit(" + model.config() + ") " + (source.startsWith("random") ? source : "from " + source);
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(model.config().imageSize(), Interpolation.BICUBIC, ImageNormalization.CLIP);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.Features(model.config().outputDim(), true);
    }

    @Override public int gridSize() {
        return model.config().gridSize();
    }

    /**
     * The per-token features of a batch, without autograd.
     *
     * @param images float32 [B, 3, S, S] prepared as {@link #inputSpec()} says
     * @return float32 [B, 1 + N, outputDim], a new tensor in the caller's scope
     */
    @Override public Tensor targets(Tensor images) {
        if (closed) throw new IllegalStateException(name() + " is closed");
        Tensor features;
        try (NoGradGuard noGrad = new NoGradGuard(); InferenceMode inference = new InferenceMode()) {
            features = model.forward(images);
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
