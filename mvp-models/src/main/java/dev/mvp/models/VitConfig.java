package dev.mvp.models;

import java.util.Locale;

/**
 * The shape and options of a {@link VisionTransformer}, named after timm ({@code embed_dim} = width, {@code depth},
 * {@code num_heads} = heads) and BEiT ({@code init_values} = layer scale, {@code use_rel_pos_bias},
 * {@code use_shared_rel_pos_bias}, {@code use_abs_pos_emb}, {@code use_mean_pooling}).
 *
 * <p>The size presets are timm's plain ViT ({@code vit_tiny_patch16_224}, ...): fused qkv bias, learned absolute
 * position embedding, no layer scale, no relative position bias, no stochastic depth, CLS pooling with the final
 * norm, no classifier. Parameter counts in timm's layout at 224x224, without classifier head (the student's mask
 * token, {@code width} more parameters, is not in timm's model and not counted):
 * <pre>
 * preset   width depth heads   patch 16      patch 14
 * tiny       192    12     3    5,524,416     5,501,376
 * small      384    12     6   21,665,664    21,619,584
 * base       768    12    12   85,798,656    85,706,496
 * large     1024    24    16  303,301,632   303,178,752
 * </pre>
 * The /16 counts are timm's published ones; the /14 counts are those of the same timm model class built with
 * {@code patch_size=14} (a 16x16 grid: a smaller patch projection, a longer position embedding).
 *
 * <p>{@link #beitPretraining()} and {@link #beitFinetuning()} switch a preset to BEiT's recipes (the defaults of
 * {@code run_beit_pretraining.py} and {@code run_class_finetuning.py}, and the BEiT paper's Table 11-12).
 *
 * @param imageSize        input side in pixels (224)
 * @param patchSize        patch side in pixels (16 or 14)
 * @param width            token dimension
 * @param depth            number of transformer blocks
 * @param heads            attention heads (width must be divisible by heads)
 * @param mlpRatio         hidden width of the MLP relative to {@code width} (4)
 * @param qkvBias          which attention projections carry a bias: timm's fused q, k, v bias or BEiT's q and v
 * @param layerNormEps     LayerNorm epsilon (1e-6 in timm and BEiT)
 * @param layerScale       initial value of the per-channel layer scale on both residual branches; 0 = none.
 *                         BEiT: 0.1 for base-size models, 1e-5 for large
 * @param relativePosition learned relative position bias: none, one table shared by all blocks (BEiT pre-training),
 *                         or one per block (BEiT fine-tuning)
 * @param absolutePosition whether learned absolute position embeddings are added ({@code pos_embed})
 * @param dropPath         stochastic depth rate of the last block; block {@code i} drops its residual branches with
 *                         probability {@code dropPath * i / (depth - 1)} (the linear rule), in training mode only
 * @param pooling          how {@link VisionTransformer#pool} summarises the tokens for classification
 * @param numClasses       classifier outputs ({@code head}); 0 = no classifier (a backbone)
 * @param attention        how attention is computed; the same values either way (to float rounding)
 */
public record VitConfig(int imageSize, int patchSize, int width, int depth, int heads, double mlpRatio,
                        QkvBias qkvBias, double layerNormEps, double layerScale, RelativePosition relativePosition,
                        boolean absolutePosition, double dropPath, Pooling pooling, int numClasses,
                        AttentionKernel attention) {

    /** Which of the q, k, v projections have a bias. */
    public enum QkvBias {
        /** No attention input bias. */
        NONE,
        /** timm: one fused bias for q, k and v ({@code attn.qkv.bias}, 3 * width). */
        QKV,
        /**
         * BEiT: biases for q and v only ({@code attn.q_bias}, {@code attn.v_bias}); k has none. A k bias could not
         * change anything: it adds the same {@code q . b_k} to every logit of a query's row, which softmax ignores.
         */
        QV
    }

    /** BEiT's learned relative position bias (a table of {@code (2g-1)^2 + 3} entries per head, g = grid side). */
    public enum RelativePosition {
        NONE,
        /** One table for all blocks ({@code rel_pos_bias.relative_position_bias_table}), BEiT pre-training. */
        SHARED,
        /** One table per block ({@code blocks.N.attn.relative_position_bias_table}), BEiT fine-tuning. */
        PER_BLOCK
    }

    /** The image-level summary used for classification. */
    public enum Pooling {
        /** The CLS token after the final norm (timm {@code global_pool='token'}, BEiT {@code --use_cls}). */
        CLS,
        /**
         * The mean of the patch tokens, normalised by {@code fc_norm}; the final {@code norm} is then absent
         * (timm {@code global_pool='avg'}, BEiT {@code use_mean_pooling}, the default of BEiT's fine-tuning).
         */
        MEAN
    }

    /**
     * The attention kernel. {@link #SDPA} is the default: on the 2-core AVX-512 CPU this project is measured on, it
     * was faster for forward+backward than the explicit path at batch 8, 224x224 (ViT-Ti/16 0.539 vs 0.654 s, ViT-B/16
     * 5.10 vs 5.42 s; with BEiT's relative position bias as the mask, ViT-B/16 5.15 vs 5.30 s, ViT-Ti/16 even) and it
     * keeps less memory; docs/BENCHMARKS.md, section Backbone, has the figures. Both give the same values to 1e-5.
     */
    public enum AttentionKernel {
        /** {@code softmax(q k^T * scale + bias) v} with explicit matmuls, as timm's non-fused path and BEiT. */
        MATMUL,
        /** libtorch's {@code scaled_dot_product_attention}, the bias passed as an additive mask. */
        SDPA
    }

    public VitConfig {
        require(imageSize >= 1 && patchSize >= 1, "image and patch size must be positive, got " + imageSize + " and " + patchSize);
        require(imageSize % patchSize == 0, "image size " + imageSize + " is not a multiple of patch size " + patchSize);
        require(width >= 1 && depth >= 1 && heads >= 1, "width, depth and heads must be positive");
        require(width % heads == 0, "width " + width + " is not divisible by " + heads + " heads");
        require(mlpRatio > 0 && (int) (width * mlpRatio) >= 1, "mlp ratio must be positive, got " + mlpRatio);
        require(qkvBias != null && relativePosition != null && pooling != null && attention != null,
                "qkvBias, relativePosition, pooling and attention must not be null");
        require(layerNormEps > 0, "layer norm epsilon must be positive, got " + layerNormEps);
        require(layerScale >= 0 && Double.isFinite(layerScale), "layer scale must be >= 0 (0 = none), got " + layerScale);
        require(dropPath >= 0 && dropPath < 1, "drop path rate must be in [0, 1), got " + dropPath);
        require(numClasses >= 0, "numClasses must be >= 0 (0 = no classifier), got " + numClasses);
    }

    /** ViT-Ti: width 192, depth 12, 3 heads. */
    public static VitConfig tiny(int patchSize) {
        return timm(192, 12, 3, patchSize);
    }

    /** ViT-S: width 384, depth 12, 6 heads. */
    public static VitConfig small(int patchSize) {
        return timm(384, 12, 6, patchSize);
    }

    /** ViT-B: width 768, depth 12, 12 heads. */
    public static VitConfig base(int patchSize) {
        return timm(768, 12, 12, patchSize);
    }

    /** ViT-L: width 1024, depth 24, 16 heads. */
    public static VitConfig large(int patchSize) {
        return timm(1024, 24, 16, patchSize);
    }

    /** A preset by name: tiny (ti), small (s), base (b) or large (l), case-insensitive. */
    public static VitConfig preset(String name, int patchSize) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "tiny", "ti" -> tiny(patchSize);
            case "small", "s" -> small(patchSize);
            case "base", "b" -> base(patchSize);
            case "large", "l" -> large(patchSize);
            default -> throw new IllegalArgumentException("unknown model '" + name + "' (expected tiny, small, base or large)");
        };
    }

    /** timm's plain ViT of the given size at 224x224. */
    public static VitConfig timm(int width, int depth, int heads, int patchSize) {
        return new VitConfig(224, patchSize, width, depth, heads, 4.0, QkvBias.QKV, 1e-6, 0, RelativePosition.NONE,
                true, 0, Pooling.CLS, 0, AttentionKernel.SDPA);
    }

    /**
     * BEiT's pre-training model ({@code run_beit_pretraining.py} defaults, paper Table 11): q/v biases, layer scale
     * 0.1 (1e-5 from width 1024 on: "0.1 for base, 1e-5 for large"), one relative position bias shared by all blocks,
     * no absolute position embedding, stochastic depth 0.1, CLS pooling.
     */
    public VitConfig beitPretraining() {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, QkvBias.QV, layerNormEps,
                beitLayerScale(), RelativePosition.SHARED, false, 0.1, Pooling.CLS, numClasses, attention);
    }

    /**
     * BEiT's fine-tuning model ({@code run_class_finetuning.py} defaults): as {@link #beitPretraining()} but with a
     * relative position bias per block (loading a pre-trained shared table copies it into every block) and mean
     * pooling with {@code fc_norm}.
     */
    public VitConfig beitFinetuning() {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, QkvBias.QV, layerNormEps,
                beitLayerScale(), RelativePosition.PER_BLOCK, false, 0.1, Pooling.MEAN, numClasses, attention);
    }

    private double beitLayerScale() {
        return width >= 1024 ? 1e-5 : 0.1;
    }

    public VitConfig withImageSize(int size) {
        return new VitConfig(size, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, pooling, numClasses, attention);
    }

    public VitConfig withDepth(int blocks) {
        return new VitConfig(imageSize, patchSize, width, blocks, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, pooling, numClasses, attention);
    }

    public VitConfig withQkvBias(QkvBias bias) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, bias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, pooling, numClasses, attention);
    }

    /** Layer scale with this initial value (0 = none). */
    public VitConfig withLayerScale(double init) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, init,
                relativePosition, absolutePosition, dropPath, pooling, numClasses, attention);
    }

    public VitConfig withRelativePosition(RelativePosition relative) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relative, absolutePosition, dropPath, pooling, numClasses, attention);
    }

    public VitConfig withAbsolutePosition(boolean absolute) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolute, dropPath, pooling, numClasses, attention);
    }

    /** Stochastic depth with this rate at the last block (linear in depth from 0 at the first). */
    public VitConfig withDropPath(double rate) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, rate, pooling, numClasses, attention);
    }

    public VitConfig withPooling(Pooling p) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, p, numClasses, attention);
    }

    /** A classifier head with this many outputs (0 = none). */
    public VitConfig withNumClasses(int classes) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, pooling, classes, attention);
    }

    public VitConfig withAttention(AttentionKernel kernel) {
        return new VitConfig(imageSize, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps, layerScale,
                relativePosition, absolutePosition, dropPath, pooling, numClasses, kernel);
    }

    /** Patches per side. */
    public int gridSize() {
        return imageSize / patchSize;
    }

    public int numPatches() {
        return gridSize() * gridSize();
    }

    /** Tokens per image: the CLS token and the patches. */
    public int numTokens() {
        return 1 + numPatches();
    }

    public int mlpHidden() {
        return (int) (width * mlpRatio);
    }

    /** The stochastic depth rate of block {@code block} (0-based): {@code torch.linspace(0, dropPath, depth)[block]}. */
    public double dropPathOf(int block) {
        if (block < 0 || block >= depth) throw new IndexOutOfBoundsException("block " + block + " of " + depth);
        return depth == 1 ? 0 : dropPath * block / (depth - 1);
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
