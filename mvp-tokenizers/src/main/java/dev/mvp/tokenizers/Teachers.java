package dev.mvp.tokenizers;

import dev.mvp.api.Tokenizer;
import dev.mvp.models.clip.ClipCheckpoint;
import dev.mvp.models.clip.ClipLayout;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Opens a teacher tokenizer from what a user names on a command line: its kind, a weight file, the file's layout and
 * the target choice ({@code mvp targets --tokenizer clip --weights ViT-B-16.pt --layout auto --target features}).
 *
 * <p>Each kind is one case of the switches in {@link #open(Spec)} and {@link #detect(Weights)}; a kind without its case
 * is refused with {@link InvalidChoiceException} ("not available yet"), as is a layout or target the kind does not have.
 */
public final class Teachers {
    private Teachers() {}

    /** The teachers the library knows. */
    public enum Kind {
        /** CLIP's vision tower (MVP): {@link ClipTokenizer}. */
        CLIP,
        /** DINO ViT (self-supervised features). */
        DINO,
        /** DALL-E's d-VAE encoder (BEiT's token ids). */
        DALLE;

        /** {@code clip}, {@code dino} or {@code dalle}, case-insensitive. */
        public static Kind parse(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "clip" -> CLIP;
                case "dino" -> DINO;
                case "dalle", "dall-e", "dall_e" -> DALLE;
                default -> throw new InvalidChoiceException("unknown tokenizer '" + name + "' (expected clip, dino or dalle)");
            };
        }

        @Override public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** How a weight file names its tensors; {@link #AUTO} detects it. */
    public enum Layout {
        AUTO, OPENAI, HF, OPEN_CLIP, TIMM, DINO;

        /** {@code auto}, {@code openai}, {@code hf}, {@code open_clip}, {@code timm} or {@code dino}, case-insensitive. */
        public static Layout parse(String name) {
            String n = name.toLowerCase(Locale.ROOT).replace('-', '_');
            for (Layout l : values()) if (l.toString().equals(n)) return l;
            throw new InvalidChoiceException("unknown layout '" + name + "' (expected auto, openai, hf, open_clip, timm or dino)");
        }

        @Override public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A teacher as named by a user.
     *
     * @param kind      which teacher
     * @param weights   its weight file
     * @param layout    the file's layout, or {@link Layout#AUTO}
     * @param target    which output the targets are
     * @param imageSize the teacher's input side; 0 for the checkpoint's own (or the kind's fixed view)
     * @param keyPath   where the state dict is inside a {@code torch.save} checkpoint; empty to search
     */
    public record Spec(Kind kind, Path weights, Layout layout, TargetChoice target, int imageSize, String keyPath) {
        public Spec {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(weights, "weights");
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(keyPath, "keyPath");
            if (imageSize < 0) throw new InvalidChoiceException("image size must be positive (or 0 for the teacher's own), got " + imageSize);
        }

        /** The paper's targets at the checkpoint's size, layout detected. */
        public static Spec of(Kind kind, Path weights) {
            return new Spec(kind, weights, Layout.AUTO, TargetChoice.FEATURES, 0, "");
        }

        public Spec withLayout(Layout layout) {
            return new Spec(kind, weights, layout, target, imageSize, keyPath);
        }

        public Spec withTarget(TargetChoice target) {
            return new Spec(kind, weights, layout, target, imageSize, keyPath);
        }

        public Spec withImageSize(int imageSize) {
            return new Spec(kind, weights, layout, target, imageSize, keyPath);
        }

        public Spec withKeyPath(String keyPath) {
            return new Spec(kind, weights, layout, target, imageSize, keyPath);
        }
    }

    /** {@link #open(Spec)} of {@code new Spec(kind, weights, layout, target, 0, "")}. */
    public static Tokenizer open(Kind kind, Path weights, Layout layout, TargetChoice target) {
        return open(new Spec(kind, weights, layout, target, 0, ""));
    }

    /**
     * Loads the teacher a spec names. Build it outside any {@link org.bytedeco.javacpp.PointerScope}; the caller owns
     * it and closes it.
     *
     * @throws InvalidChoiceException a kind not available yet, or a layout or target the kind does not have
     * @throws WeightFormatException  one line naming the file (and tensor) when the weights are unusable
     */
    public static Tokenizer open(Spec spec) {
        return switch (spec.kind()) {
            case CLIP -> ClipTokenizer.load(spec.weights(), new ClipTokenizer.Options(clipLayout(spec.layout()),
                    spec.target(), spec.imageSize(), spec.keyPath()));
            case DINO -> {
                if (spec.layout() != Layout.AUTO && spec.layout() != Layout.DINO && spec.layout() != Layout.TIMM) {
                    throw new InvalidChoiceException("layout " + spec.layout() + " is not a DINO layout (auto, dino or timm: "
                            + "the same names)");
                }
                if (spec.target() != TargetChoice.FEATURES) {
                    throw new InvalidChoiceException("the dino tokenizer gives its final-normed tokens only (target features)");
                }
                yield DinoTokenizer.load(spec.weights(), DinoTokenizer.Options.DEFAULT.withKeyPath(spec.keyPath())
                        .withImageSize(spec.imageSize()));
            }
            case DALLE -> {
                if (spec.layout() != Layout.AUTO) {
                    throw new InvalidChoiceException("layout " + spec.layout() + " is not a d-VAE layout (auto: DALL-E's "
                            + "encoder.pkl or its state dict)");
                }
                if (spec.target() != TargetChoice.FEATURES) {
                    throw new InvalidChoiceException("the dalle tokenizer gives token ids only (target features)");
                }
                yield DalleTokenizer.load(spec.weights(), spec.imageSize() == 0 ? DalleTokenizer.BEIT_VIEW_SIZE
                        : spec.imageSize(), spec.keyPath());
            }
        };
    }

    /**
     * What a weight file holds, if it is a teacher this library knows: its kind, layout and a one-line description
     * (the configuration, or why it cannot be loaded). Reads names, shapes and side files only.
     */
    public static Optional<Detected> detect(Weights weights) {
        for (Kind kind : Kind.values()) {
            Optional<Detected> found = switch (kind) {
                case CLIP -> ClipCheckpoint.detect(weights).map(layout -> {
                    String description;
                    try {
                        // not closed: that would close the caller's weights
                        description = ClipCheckpoint.of(weights, layout).describe();
                    } catch (WeightFormatException e) {
                        description = "CLIP (" + layout + " layout), not loadable: " + e.getMessage();
                    }
                    return new Detected(Kind.CLIP, Layout.parse(layout.id()), description);
                });
                case DINO -> detectDino(weights);
                case DALLE -> detectDalle(weights);
            };
            if (found.isPresent()) return found;
        }
        return Optional.empty();
    }

    private static Optional<Detected> detectDino(Weights weights) {
        String prefix;
        try {
            prefix = DinoTokenizer.keyPrefix(weights);
            if (!weights.contains(prefix + "patch_embed.proj.weight") || !weights.contains(prefix + "pos_embed")) return Optional.empty();
            dev.mvp.models.VitConfig c = DinoTokenizer.inferConfig(weights, prefix, DinoTokenizer.Options.DEFAULT);
            return Optional.of(new Detected(Kind.DINO, Layout.DINO, "DINO / timm ViT layout ("
                    + (prefix.isEmpty() ? "no prefix" : "'" + prefix + "*'") + "): width " + c.width() + ", depth "
                    + c.depth() + ", heads " + c.heads() + " (width / 64), patch " + c.patchSize() + ", image " + c.imageSize()));
        } catch (WeightFormatException e) {
            return Optional.empty();
        }
    }

    private static Optional<Detected> detectDalle(Weights weights) {
        try {
            String prefix = dev.mvp.models.dalle.DalleEncoder.keyPrefix(weights);
            return Optional.of(new Detected(Kind.DALLE, Layout.AUTO, "DALL-E d-VAE encoder"
                    + (prefix.isEmpty() ? "" : " ('" + prefix + "*')") + ": "
                    + dev.mvp.models.dalle.DalleEncoderConfig.inferFrom(weights, prefix)));
        } catch (WeightFormatException e) {
            return Optional.empty();
        }
    }

    /** A detected teacher checkpoint. */
    public record Detected(Kind kind, Layout layout, String description) {}

    private static ClipLayout clipLayout(Layout layout) {
        return switch (layout) {
            case AUTO -> null;
            case OPENAI -> ClipLayout.OPENAI;
            case HF -> ClipLayout.HF;
            case OPEN_CLIP -> ClipLayout.OPEN_CLIP;
            case TIMM, DINO -> throw new InvalidChoiceException("layout " + layout + " is not a CLIP layout (auto, openai, "
                    + "hf or open_clip)");
        };
    }
}
