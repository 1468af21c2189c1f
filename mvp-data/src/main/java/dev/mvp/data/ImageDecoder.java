package dev.mvp.data;

import java.nio.file.Path;

/**
 * Turns an image file into 8-bit RGB pixels, as torchvision's {@code pil_loader} does
 * ({@code Image.open(f).convert('RGB')}). Implementations are thread-safe and keep no per-file state.
 */
public interface ImageDecoder {

    /**
     * Decodes {@code file}.
     *
     * @return a new image owned by the caller
     * @throws DecodeException if the file is unreadable, empty, truncated, corrupt or not an image; its message is
     *                         {@code "<path>: <reason>"}
     */
    RgbImage decode(Path file) throws DecodeException;
}
