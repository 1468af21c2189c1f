package dev.mvp.tokenizers;

import java.util.Locale;

/** Which of a feature teacher's outputs are the targets. */
public enum TargetChoice {
    /**
     * The teacher's final per-token features, the ones its paper uses: CLIP's {@code ln_post(x) @ proj} for every
     * token (MVP; {@code ln_post(x)} alone for a tower without projection), DINO's final-normed tokens, the d-VAE's
     * token ids.
     */
    FEATURES("features"),
    /** The last transformer block's output, before the final LayerNorm ({@code ln_post} in CLIP, {@code norm} in DINO). */
    LAST_BLOCK("last_block");

    private final String id;

    TargetChoice(String id) {
        this.id = id;
    }

    /** {@code features} or {@code last_block}: the command line's name. */
    public String id() {
        return id;
    }

    /** {@code features} or {@code last_block} ({@code last-block} too), case-insensitive. */
    public static TargetChoice parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT).replace('-', '_')) {
            case "features" -> FEATURES;
            case "last_block" -> LAST_BLOCK;
            default -> throw new IllegalArgumentException("unknown target '" + name + "' (expected features or last_block)");
        };
    }

    @Override public String toString() {
        return id;
    }
}
