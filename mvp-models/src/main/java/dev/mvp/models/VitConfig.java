package dev.mvp.models;

/**
 * The shape of a Vision Transformer (timm's naming: width = embed_dim, depth, heads = num_heads).
 *
 * <p>Presets follow timm / the ViT and DeiT papers at 224x224:
 * <pre>
 * preset   width depth heads  parameters (patch 16, no classifier head, timm layout)
 * tiny       192    12     3    5,524,416
 * small      384    12     6   21,665,664
 * base       768    12    12   85,798,656
 * large     1024    24    16  303,301,632
 * </pre>
 * (The student additionally owns a mask token of {@code width} parameters, not in timm's count.)
 *
 * @param imageSize      input side in pixels (224 in the paper)
 * @param patchSize      patch side in pixels (16)
 * @param width          token dimension
 * @param depth          number of transformer blocks
 * @param heads          attention heads (width must be divisible by heads)
 * @param mlpRatio       hidden width of the MLP relative to {@code width} (4)
 * @param qkvBias        whether the fused qkv projection has a bias (timm style)
 * @param layerNormEps   LayerNorm epsilon (1e-6 in timm and BEiT)
 */
public record VitConfig(int imageSize, int patchSize, int width, int depth, int heads, double mlpRatio,
                        boolean qkvBias, double layerNormEps) {

    public VitConfig {
        if (imageSize < 1 || patchSize < 1) throw new IllegalArgumentException("image and patch size must be positive");
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of patch size " + patchSize);
        }
        if (width < 1 || depth < 1 || heads < 1) throw new IllegalArgumentException("width, depth and heads must be positive");
        if (width % heads != 0) throw new IllegalArgumentException("width " + width + " is not divisible by " + heads + " heads");
        if (!(mlpRatio > 0)) throw new IllegalArgumentException("mlp ratio must be positive");
    }

    /** ViT-Ti: width 192, depth 12, 3 heads. */
    public static VitConfig tiny(int patchSize) {
        return of(192, 12, 3, patchSize);
    }

    /** ViT-S: width 384, depth 12, 6 heads. */
    public static VitConfig small(int patchSize) {
        return of(384, 12, 6, patchSize);
    }

    /** ViT-B: width 768, depth 12, 12 heads. */
    public static VitConfig base(int patchSize) {
        return of(768, 12, 12, patchSize);
    }

    /** ViT-L: width 1024, depth 24, 16 heads. */
    public static VitConfig large(int patchSize) {
        return of(1024, 24, 16, patchSize);
    }

    /** A preset by name: tiny, small, base or large. */
    public static VitConfig preset(String name, int patchSize) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "tiny", "ti" -> tiny(patchSize);
            case "small", "s" -> small(patchSize);
            case "base", "b" -> base(patchSize);
            case "large", "l" -> large(patchSize);
            default -> throw new IllegalArgumentException("unknown model '" + name + "' (expected tiny, small, base or large)");
        };
    }

    private static VitConfig of(int width, int depth, int heads, int patchSize) {
        return new VitConfig(224, patchSize, width, depth, heads, 4.0, true, 1e-6);
    }

    public VitConfig withImageSize(int size) {
        return new VitConfig(size, patchSize, width, depth, heads, mlpRatio, qkvBias, layerNormEps);
    }

    public int gridSize() {
        return imageSize / patchSize;
    }

    public int numPatches() {
        return gridSize() * gridSize();
    }

    public int mlpHidden() {
        return (int) (width * mlpRatio);
    }
}
