package dev.mvp.data;

import java.util.Locale;

/**
 * Chooses an {@link ImageDecoder}. Both decoders give PIL's pixels (see docs/DATA.md for the measurements):
 * {@link TurboJpegDecoder} is faster but needs the system's libjpeg-turbo; {@link ImageIoDecoder} needs nothing
 * beyond the JDK and TwelveMonkeys.
 */
public final class ImageDecoders {
    private ImageDecoders() {}

    /** {@link TurboJpegDecoder} when libturbojpeg is installed, else {@link ImageIoDecoder}. */
    public static ImageDecoder fastest() {
        return TurboJpegDecoder.available() ? new TurboJpegDecoder() : new ImageIoDecoder();
    }

    /**
     * A decoder by name: {@code auto} ({@link #fastest()}), {@code turbojpeg} or {@code imageio}.
     *
     * @throws IllegalArgumentException for another name, or {@code turbojpeg} when libturbojpeg is missing
     */
    public static ImageDecoder named(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "auto" -> fastest();
            case "imageio" -> new ImageIoDecoder();
            case "turbojpeg" -> {
                if (!TurboJpegDecoder.available()) {
                    throw new IllegalArgumentException("decoder turbojpeg: " + TurboJpegDecoder.unavailableReason().orElseThrow());
                }
                yield new TurboJpegDecoder();
            }
            default -> throw new IllegalArgumentException("unknown decoder '" + name + "' (use auto, turbojpeg or imageio)");
        };
    }
}
