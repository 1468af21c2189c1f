package dev.mvp.tokenizers;

/**
 * A teacher kind, layout, target or input size that cannot be chosen (not available, or not with the other choices
 * made): a usage error, which a command line reports as such. The message is one line naming the choice.
 */
public final class InvalidChoiceException extends IllegalArgumentException {
    public InvalidChoiceException(String message) {
        super(message);
    }
}
