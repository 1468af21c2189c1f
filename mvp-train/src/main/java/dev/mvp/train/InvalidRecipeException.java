package dev.mvp.train;

/**
 * A recipe that cannot be assembled as asked: an unknown preset or part, parts that do not fit together (a loss that
 * cannot consume the tokenizer's targets, a masked-patches loss without masking), or teacher weights that are
 * missing. A usage error: the message is one line naming the flag or part.
 */
public final class InvalidRecipeException extends IllegalArgumentException {
    public InvalidRecipeException(String message) {
        super(message);
    }
}
