package dev.mvp.data;

import java.util.List;
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

    /** The names {@link #named} accepts, in the order a command line lists them. */
    public static final List<String> NAMES = List.of("auto", "turbojpeg", "imageio");

    /**
     * A decoder by name: {@code auto} ({@link #fastest()}), {@code turbojpeg} ({@link TurboJpegDecoder}) or
     * {@code imageio} ({@link ImageIoDecoder}: the JDK's ImageIO with TwelveMonkeys' readers and PIL's colour
     * conversion).
     *
     * @throws IllegalArgumentException for another name, or {@code turbojpeg} when libturbojpeg is missing
     */
    public static ImageDecoder named(String name) {
        checkName(name);
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "auto" -> fastest();
            case "imageio" -> new ImageIoDecoder();
            case "turbojpeg" -> {
                if (!TurboJpegDecoder.available()) {
                    throw new IllegalArgumentException("decoder turbojpeg: " + TurboJpegDecoder.unavailableReason().orElseThrow());
                }
                yield new TurboJpegDecoder();
            }
            default -> throw new IllegalStateException("unreachable: " + name);
        };
    }

    /**
     * Checks that {@code name} is one of {@link #NAMES} (any case), without loading anything.
     *
     * @throws IllegalArgumentException naming the choices otherwise
     */
    public static String checkName(String name) {
        if (name == null || !NAMES.contains(name.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("unknown decoder '" + name + "' (use auto, turbojpeg or imageio)");
        }
        return name.toLowerCase(Locale.ROOT);
    }

    /**
     * The decoder {@code name} stands for on this machine, without making one: {@code auto} becomes
     * {@code turbojpeg} when libturbojpeg can be loaded, else {@code imageio}; the others stay as they are.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public static String resolve(String name) {
        String n = checkName(name);
        return n.equals("auto") ? (TurboJpegDecoder.available() ? "turbojpeg" : "imageio") : n;
    }

    /**
     * The name {@link #named} gives {@code decoder}: {@code turbojpeg} or {@code imageio}, whatever its options;
     * for another implementation, its class's simple name. For logs, run records and cache keys.
     */
    public static String nameOf(ImageDecoder decoder) {
        return switch (decoder) {
            case TurboJpegDecoder t -> "turbojpeg";
            case ImageIoDecoder i -> "imageio";
            default -> decoder.getClass().getSimpleName();
        };
    }
}
