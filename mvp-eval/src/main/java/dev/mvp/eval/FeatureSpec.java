package dev.mvp.eval;

import java.util.Locale;

/**
 * Which features a frozen ViT gives for an image.
 *
 * @param pooling what summarises the tokens
 * @param block   the block whose output is read, 0-based; negative counts from the end (-1 = the last block). The
 *                model's final {@code norm} (when it has one: CLS-pooled models) is applied to that block's output,
 *                as DINO and BEiT normalise intermediate layers
 */
public record FeatureSpec(Pooling pooling, int block) {

    /** How an image's tokens become one vector. */
    public enum Pooling {
        /** The CLS token ({@code [C]}). */
        CLS,
        /**
         * The mean of the patch tokens ({@code [C]}), followed by the model's {@code fc_norm} when it has one (mean-pooled
         * timm/BEiT models).
         */
        MEAN,
        /** CLS and mean, concatenated ({@code [2C]}). */
        BOTH;

        /** {@code cls}, {@code mean} or {@code both}, any case. */
        public static Pooling parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "cls" -> CLS;
                case "mean", "avg" -> MEAN;
                case "both", "cls+mean" -> BOTH;
                default -> throw new IllegalArgumentException("unknown pooling '" + s + "' (expected cls, mean or both)");
            };
        }
    }

    public FeatureSpec {
        java.util.Objects.requireNonNull(pooling, "pooling");
    }

    /** The CLS token of the last block. */
    public static FeatureSpec cls() {
        return new FeatureSpec(Pooling.CLS, -1);
    }

    /** The block index resolved against a model of {@code depth} blocks (0-based). */
    public int resolve(int depth) {
        int b = block < 0 ? depth + block : block;
        if (b < 0 || b >= depth) {
            throw new IllegalArgumentException("block " + block + " does not exist in a model of " + depth + " blocks (use 0.."
                    + (depth - 1) + " or -1.." + (-depth) + ")");
        }
        return b;
    }

    @Override public String toString() {
        return pooling.name().toLowerCase(Locale.ROOT) + " of block " + block;
    }
}
