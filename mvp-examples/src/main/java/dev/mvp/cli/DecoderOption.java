package dev.mvp.cli;

import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import picocli.CommandLine.Option;

/**
 * {@code --decoder auto|turbojpeg|imageio}, the same flag on every command that reads images (pretrain, knn,
 * linprobe, finetune, segment, attention), parsed by {@link ImageDecoders#checkName} and {@link ImageDecoders#named}:
 * an unknown name is a usage error (exit 2), {@code turbojpeg} without libturbojpeg a runtime error (exit 1) naming
 * the loader's reason.
 */
final class DecoderOption {

    @Option(names = "--decoder", paramLabel = "auto|turbojpeg|imageio", defaultValue = "auto",
            description = "Image decoder: auto (libjpeg-turbo when installed, else imageio), turbojpeg (libjpeg-turbo, "
                    + "PIL's pixels) or imageio (JDK ImageIO + TwelveMonkeys, no native library). See docs/DATA.md.")
    String name;

    /** The flag's value, lower-cased; a usage error naming the choices when it is none of them. */
    String checkedName() {
        try {
            return ImageDecoders.checkName(name);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--decoder: " + e.getMessage());
        }
    }

    /** The decoder the flag names (see {@link #open(String)}). */
    ImageDecoder open() {
        return open(checkedName());
    }

    /**
     * The decoder {@code name} names; {@code turbojpeg} without libturbojpeg is the machine's problem, not the flag's:
     * an {@link IllegalStateException} {@code "--decoder turbojpeg: <why it cannot load>"} (exit 1).
     */
    static ImageDecoder open(String name) {
        try {
            return ImageDecoders.named(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("--" + e.getMessage(), e);
        }
    }
}
