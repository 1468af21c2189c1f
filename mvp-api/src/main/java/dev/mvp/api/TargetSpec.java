package dev.mvp.api;

/** What a {@link Tokenizer} produces per image, so that heads and losses can be sized and checked. */
public sealed interface TargetSpec {

    /** The number of outputs a prediction head needs for these targets (feature dim or vocabulary size). */
    int headOutputs();

    /**
     * Continuous per-token features, float32 of shape [B, T, dim] where T = 1 + N when {@code includesCls}
     * (the CLS token first, then the N patch tokens in row-major order) and T = N otherwise.
     */
    record Features(int dim, boolean includesCls) implements TargetSpec {
        public Features {
            if (dim < 1) throw new IllegalArgumentException("feature dim must be positive");
        }

        @Override public int headOutputs() {
            return dim;
        }
    }

    /** Discrete token ids in [0, vocabularySize), int64 of shape [B, N] (patch tokens only, row-major). */
    record TokenIds(int vocabularySize) implements TargetSpec {
        public TokenIds {
            if (vocabularySize < 2) throw new IllegalArgumentException("vocabulary needs at least 2 entries");
        }

        @Override public int headOutputs() {
            return vocabularySize;
        }
    }
}
