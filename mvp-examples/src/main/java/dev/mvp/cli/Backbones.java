package dev.mvp.cli;

import dev.mvp.eval.BackboneFiles;
import dev.mvp.eval.Extractors;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One name per backbone, however {@code --backbone} named it: a pretrain run folder, one of its checkpoint folders
 * or the checkpoint's {@code model.safetensors} all resolve ({@link BackboneFiles#weightFile}) to the same weight
 * file, whose absolute, normalised path is the identity. The evaluation commands record it in results.json as
 * {@code backbone_file}, and {@code mvp tables} groups results by it.
 */
public final class Backbones {
    private Backbones() {}

    /** The identity of {@code --backbone}'s value: {@code raw-pixels}, or the absolute path of the weight file. */
    public static String identity(String backbone) {
        if (backbone.equals(Extractors.RAW_PIXELS)) return Extractors.RAW_PIXELS;
        return identity(Path.of(backbone));
    }

    /** The absolute, normalised path of the weight file {@code source} names (itself if it does not exist). */
    public static String identity(Path source) {
        Path p = source;
        if (Files.exists(source)) {
            try {
                p = BackboneFiles.weightFile(source);
            } catch (RuntimeException e) {
                p = source; // a folder that is no run or checkpoint: keep its own name
            }
        }
        return p.toAbsolutePath().normalize().toString();
    }
}
