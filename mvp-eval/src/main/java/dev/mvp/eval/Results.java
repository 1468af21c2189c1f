package dev.mvp.eval;

import dev.mvp.api.io.AtomicFiles;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The JSON result files every evaluation command writes next to its human-readable output, so that the examples
 * can build the paper's tables from them. Numbers that are NaN (an mIoU class absent from the data, say) are
 * written as JSON {@code null}.
 */
public final class Results {
    /** Shared mapper, pretty-printing. */
    public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Results() {}

    /** A new empty JSON object. */
    public static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /** Puts {@code value}, or null when it is NaN or infinite. */
    public static void putNumber(ObjectNode node, String key, double value) {
        if (Double.isFinite(value)) node.put(key, value);
        else node.putNull(key);
    }

    /**
     * Writes {@code node} to {@code file} atomically (temporary file + rename, {@link AtomicFiles}), creating the
     * folder; on failure (a full disk, say) the temporary file is removed.
     */
    public static void write(Path file, ObjectNode node) {
        String text;
        try {
            text = JSON.writeValueAsString(node) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot write", file, e), e);
        }
        AtomicFiles.writeString(file, text);
    }
}
