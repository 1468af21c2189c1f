package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.dalle.DalleEncoder;
import dev.mvp.models.dalle.DalleEncoderConfig;
import dev.mvp.models.io.WeightFormatException;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;

/**
 * BEiT's tokenizer: the encoder of DALL-E's discrete VAE ({@link DalleEncoder}), frozen; the targets are the ids of
 * the most likely visual token at every position ({@code get_codebook_indices(x).flatten(1)} in BEiT).
 *
 * <ul>
 *   <li>{@link #inputSpec()}: a {@code viewSize} x {@code viewSize} view of the crop (112 for BEiT's 224 / 16
 *       student: 8 times the student's grid), mapped by {@code 0.8 x + 0.1} ({@link ImageNormalization#DALLE},
 *       BEiT's {@code map_pixels}), resampled with Lanczos ({@link Interpolation#LANCZOS}) as BEiT does
 *       ({@code --second_interpolation lanczos}, PIL's filter; the data pipeline's is bit-exact with it).</li>
 *   <li>{@link #targetSpec()}: {@code TokenIds(vocabSize)} (8192 for the released encoder); {@link #targets} returns
 *       int64 [B, (viewSize / 8)^2].</li>
 * </ul>
 * Load DALL-E's own {@code encoder.pkl} directly, or a state dict converted from it (docs/TEACHERS.md).
 * Build it outside any {@link org.bytedeco.javacpp.PointerScope}; {@link #close()} frees the weights.
 */
public final class DalleTokenizer implements Tokenizer {
    /** BEiT's d-VAE input side for a 224-pixel, patch-16 student. */
    public static final int BEIT_VIEW_SIZE = 112;

    private final DalleEncoder encoder;
    private final int viewSize;
    private final String source;
    private boolean closed;

    private DalleTokenizer(DalleEncoder encoder, int viewSize, String source) {
        if (viewSize < DalleEncoderConfig.DOWNSAMPLING || viewSize % DalleEncoderConfig.DOWNSAMPLING != 0) {
            encoder.close();
            throw new IllegalArgumentException("d-VAE view size must be a positive multiple of "
                    + DalleEncoderConfig.DOWNSAMPLING + ", got " + viewSize);
        }
        this.encoder = encoder;
        this.viewSize = viewSize;
        this.source = source;
    }

    /** {@link #load(Path, int)} with BEiT's 112-pixel view (a 14 x 14 grid). */
    public static DalleTokenizer load(Path file) {
        return load(file, BEIT_VIEW_SIZE);
    }

    /**
     * Loads the encoder ({@link DalleEncoder#load(Path)}: DALL-E's {@code encoder.pkl}, a {@code torch.save} state
     * dict or a safetensors file) for views of {@code viewSize} pixels (8 times the student's grid).
     *
     * @throws WeightFormatException one line naming the file (and the tensor) when it is not such an encoder
     */
    public static DalleTokenizer load(Path file, int viewSize) {
        return load(file, viewSize, "");
    }

    /** As {@link #load(Path, int)}, the encoder's state dict at {@code keyPath} in a {@code torch.save} checkpoint. */
    public static DalleTokenizer load(Path file, int viewSize, String keyPath) {
        return new DalleTokenizer(DalleEncoder.load(file, keyPath), viewSize, file.toString());
    }

    /** e.g. {@code dalle-dvae(n_hid 256, blocks/group 2, vocab 8192, view 112) from encoder.pkl}. */
    @Override public String name() {
        return "dalle-dvae(" + encoder.config() + ", view " + viewSize + ") from " + source;
    }

    @Override public ViewSpec inputSpec() {
        return new ViewSpec(viewSize, Interpolation.LANCZOS, ImageNormalization.DALLE);
    }

    @Override public TargetSpec targetSpec() {
        return new TargetSpec.TokenIds(encoder.config().vocabSize());
    }

    @Override public int gridSize() {
        return viewSize / DalleEncoderConfig.DOWNSAMPLING;
    }

    /**
     * The token ids of a batch, without autograd.
     *
     * @param images float32 [B, 3, S, S], S = {@code inputSpec().size()}, mapped by {@code 0.8 x + 0.1}
     * @return int64 [B, (S / 8)^2], row-major, a new tensor in the caller's scope
     */
    @Override public Tensor targets(Tensor images) {
        if (closed) throw new IllegalStateException(name() + " is closed");
        if (images.dim() != 4 || images.size(2) != viewSize || images.size(3) != viewSize) {
            throw new IllegalArgumentException(name() + " expects [B, 3, " + viewSize + ", " + viewSize + "] views, got "
                    + dev.mvp.api.Tensors.shapeString(images));
        }
        Tensor ids;
        try (NoGradGuard noGrad = new NoGradGuard(); InferenceMode inference = new InferenceMode()) {
            ids = encoder.tokenIds(images);
        }
        return ids.clone(); // an ordinary tensor, usable as a loss target outside inference mode
    }

    /** The encoder (its logits, its configuration). */
    public DalleEncoder encoder() {
        return encoder;
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        encoder.close();
    }
}
