package dev.mvp.eval.finetune;

import dev.mvp.data.RgbImage;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * timm's RandAugment ({@code timm.data.auto_augment.rand_augment_transform}) with the "increasing" operation list,
 * as BEiT's and MVP's fine-tuning use it: {@code rand-m9-mstd0.5-inc1}, with timm's hparams {@code img_mean} (the fill
 * colour of the geometric ops, {@code round(255 * mean)} of the normalisation) and {@code interpolation} (BEiT passes
 * 'bicubic').
 *
 * <p>Per image, {@code layers} operations are chosen uniformly from the 15 of {@link Op}, with replacement (numpy's
 * {@code choice(ops, n, replace=True)}); each is then applied with probability {@code prob} (timm: skipped when
 * {@code random() > 0.5}), with a magnitude drawn from N(m, mstd) and clipped to [0, 10] (uniform in [0, m] when
 * mstd is "inf", i.e. above 100 in the string), which the op's level function turns into its argument, negated with
 * probability 1/2 for the ops timm negates (Rotate, the enhance ops, shears, translations). With interpolation
 * {@link Interpolation#RANDOM} (timm's default when no training interpolation is given), every geometric op picks
 * bilinear or bicubic at random.
 *
 * <p>The operations are PIL's, reproduced bit for bit by {@link PilOps}. Draws come from a {@link SplittableRandom},
 * not from Python's generators: the same distribution, not the same sequence.
 *
 * @param magnitude    m, the magnitude (0..10 in timm's scale)
 * @param magnitudeStd the standard deviation of the magnitude noise (0: none; infinity: uniform in [0, m])
 * @param layers       operations chosen per image (timm's num_layers)
 * @param prob         probability that a chosen operation is applied (0.5 in timm)
 * @param fill         fill colour (R, G, B in 0..255) of the area that geometric ops uncover
 * @param interpolation resampling of the geometric ops
 */
public record RandAugment(double magnitude, double magnitudeStd, int layers, double prob, int[] fill,
                          Interpolation interpolation) {

    /** timm's {@code _LEVEL_DENOM}: magnitudes are clipped to [0, 10]. */
    public static final double MAX_LEVEL = 10.0;

    /** Resampling of the geometric operations: timm's hparams['interpolation'], or a random one per operation. */
    public enum Interpolation { BILINEAR, BICUBIC, RANDOM }

    /** timm's {@code _RAND_INCREASING_TRANSFORMS}, in timm's order. */
    public enum Op {
        AUTO_CONTRAST("AutoContrast", false, false),
        EQUALIZE("Equalize", false, false),
        INVERT("Invert", false, false),
        ROTATE("Rotate", true, true),
        POSTERIZE_INCREASING("PosterizeIncreasing", false, false),
        SOLARIZE_INCREASING("SolarizeIncreasing", false, false),
        SOLARIZE_ADD("SolarizeAdd", false, false),
        COLOR_INCREASING("ColorIncreasing", true, false),
        CONTRAST_INCREASING("ContrastIncreasing", true, false),
        BRIGHTNESS_INCREASING("BrightnessIncreasing", true, false),
        SHARPNESS_INCREASING("SharpnessIncreasing", true, false),
        SHEAR_X("ShearX", true, true),
        SHEAR_Y("ShearY", true, true),
        TRANSLATE_X_REL("TranslateXRel", true, true),
        TRANSLATE_Y_REL("TranslateYRel", true, true);

        private final String timmName;
        private final boolean negates;
        private final boolean geometric;

        Op(String timmName, boolean negates, boolean geometric) {
            this.timmName = timmName;
            this.negates = negates;
            this.geometric = geometric;
        }

        /** The name in timm's list ({@code "ShearX"}, {@code "PosterizeIncreasing"}, ...). */
        public String timmName() {
            return timmName;
        }

        /** Whether timm's level function negates the argument at random ({@code _randomly_negate}). */
        public boolean negates() {
            return negates;
        }

        /** Whether the op resamples (and so uses the interpolation and the fill colour). */
        public boolean geometric() {
            return geometric;
        }

        /** The op of timm's name. */
        public static Op ofTimmName(String name) {
            for (Op op : values()) if (op.timmName.equals(name)) return op;
            throw new IllegalArgumentException("unknown RandAugment op '" + name + "'");
        }

        /**
         * The argument timm's level function gives for a magnitude (clipped to [0, 10] first, as AugmentOp does):
         * degrees (Rotate: 30 m/10), bits kept (PosterizeIncreasing: 4 - int(4 m/10)), threshold
         * (SolarizeIncreasing: 256 - int(256 m/10)), amount (SolarizeAdd: int(110 m/10)), blend factor (the enhance
         * ops: max(0.1, 1 +- 0.9 m/10)), shear (0.3 m/10), fraction of the side (translations: 0.45 m/10); negated
         * (or, for the factors, taken below 1) when {@code negate} and the op negates. NaN for the ops without one.
         */
        public double argument(double magnitude, boolean negate) {
            double m = Math.max(0.0, Math.min(magnitude, MAX_LEVEL));
            boolean neg = negate && negates;
            return switch (this) {
                case AUTO_CONTRAST, EQUALIZE, INVERT -> Double.NaN;
                case ROTATE -> sign((m / MAX_LEVEL) * 30.0, neg);
                case POSTERIZE_INCREASING -> 4 - (int) ((m / MAX_LEVEL) * 4);
                case SOLARIZE_INCREASING -> 256 - (int) ((m / MAX_LEVEL) * 256);
                case SOLARIZE_ADD -> (int) ((m / MAX_LEVEL) * 110);
                case COLOR_INCREASING, CONTRAST_INCREASING, BRIGHTNESS_INCREASING, SHARPNESS_INCREASING ->
                        Math.max(0.1, 1.0 + sign((m / MAX_LEVEL) * 0.9, neg));
                case SHEAR_X, SHEAR_Y -> sign((m / MAX_LEVEL) * 0.3, neg);
                case TRANSLATE_X_REL, TRANSLATE_Y_REL -> sign((m / MAX_LEVEL) * 0.45, neg);
            };
        }

        private static double sign(double v, boolean negate) {
            return negate ? -v : v;
        }

        /** Applies the op with {@code magnitude} (clipped) and the outcome of the random negation. */
        public RgbImage apply(RgbImage im, double magnitude, boolean negate, PilOps.Filter filter, int[] fill) {
            double a = argument(magnitude, negate);
            return switch (this) {
                case AUTO_CONTRAST -> PilOps.autoContrast(im);
                case EQUALIZE -> PilOps.equalize(im);
                case INVERT -> PilOps.invert(im);
                case ROTATE -> PilOps.rotate(im, a, filter, fill);
                case POSTERIZE_INCREASING -> PilOps.posterize(im, (int) a);
                case SOLARIZE_INCREASING -> PilOps.solarize(im, (int) a);
                case SOLARIZE_ADD -> PilOps.solarizeAdd(im, (int) a, 128);
                case COLOR_INCREASING -> PilOps.color(im, a);
                case CONTRAST_INCREASING -> PilOps.contrast(im, a);
                case BRIGHTNESS_INCREASING -> PilOps.brightness(im, a);
                case SHARPNESS_INCREASING -> PilOps.sharpness(im, a);
                case SHEAR_X -> PilOps.affine(im, new double[] {1, a, 0, 0, 1, 0}, filter, fill);
                case SHEAR_Y -> PilOps.affine(im, new double[] {1, 0, 0, a, 1, 0}, filter, fill);
                case TRANSLATE_X_REL -> PilOps.affine(im, new double[] {1, 0, a * im.width(), 0, 1, 0}, filter, fill);
                case TRANSLATE_Y_REL -> PilOps.affine(im, new double[] {1, 0, 0, 0, 1, a * im.height()}, filter, fill);
            };
        }
    }

    /**
     * One chosen operation of one image: whether it is applied, and if so the magnitude drawn (clipped), the outcome
     * of the random negation (false for ops that do not negate) and the filter (geometric ops; null otherwise).
     */
    public record Draw(Op op, boolean applied, double magnitude, boolean negate, PilOps.Filter filter) {
        /** The op's argument ({@link Op#argument}); NaN when not applied or when the op has none. */
        public double argument() {
            return applied ? op.argument(magnitude, negate) : Double.NaN;
        }
    }

    public RandAugment {
        if (!(magnitude >= 0)) throw new IllegalArgumentException("RandAugment magnitude must be >= 0, got " + magnitude);
        if (!(magnitudeStd >= 0)) throw new IllegalArgumentException("RandAugment magnitude std must be >= 0, got " + magnitudeStd);
        if (layers < 0) throw new IllegalArgumentException("RandAugment layers must be >= 0, got " + layers);
        if (!(prob >= 0 && prob <= 1)) throw new IllegalArgumentException("RandAugment probability must be in [0, 1], got " + prob);
        Objects.requireNonNull(interpolation, "interpolation");
        if (fill == null || fill.length != 3) throw new IllegalArgumentException("RandAugment fill needs 3 values (R, G, B)");
        for (int v : fill) {
            if (v < 0 || v > 255) throw new IllegalArgumentException("RandAugment fill values must be in [0, 255], got " + v);
        }
        fill = fill.clone();
    }

    @Override public int[] fill() {
        return fill.clone();
    }

    @Override public boolean equals(Object o) {
        return o instanceof RandAugment r && Double.compare(magnitude, r.magnitude) == 0
                && Double.compare(magnitudeStd, r.magnitudeStd) == 0 && layers == r.layers
                && Double.compare(prob, r.prob) == 0 && java.util.Arrays.equals(fill, r.fill)
                && interpolation == r.interpolation;
    }

    @Override public int hashCode() {
        return Objects.hash(magnitude, magnitudeStd, layers, prob, java.util.Arrays.hashCode(fill), interpolation);
    }

    /**
     * timm's {@code rand_augment_transform(config, hparams)} for config strings of the "increasing" list: sections
     * {@code m<int>} (magnitude, default 10), {@code n<int>} (layers, default 2), {@code mstd<float>} (above 100:
     * uniform magnitudes), and {@code inc1}, which is required (the non-increasing list is not implemented). Sections
     * timm does not know, and {@code w}/{@code mmax}, are refused.
     *
     * @param config e.g. {@code "rand-m9-mstd0.5-inc1"}
     * @param fill   hparams img_mean
     */
    public static RandAugment parse(String config, int[] fill, Interpolation interpolation) {
        String[] parts = config.split("-");
        if (!parts[0].equals("rand")) throw new IllegalArgumentException("RandAugment config must start with 'rand': " + config);
        double m = MAX_LEVEL, std = 0;
        int n = 2;
        boolean increasing = false;
        for (int i = 1; i < parts.length; i++) {
            String s = parts[i];
            int k = 0;
            while (k < s.length() && !Character.isDigit(s.charAt(k))) k++;
            if (k == s.length()) continue;                      // timm skips sections without a number
            String key = s.substring(0, k), val = s.substring(k);
            try {
                switch (key) {
                    case "m" -> m = Integer.parseInt(val);
                    case "n" -> n = Integer.parseInt(val);
                    case "mstd" -> {
                        std = Double.parseDouble(val);
                        if (std > 100) std = Double.POSITIVE_INFINITY;
                    }
                    case "inc" -> increasing = Integer.parseInt(val) != 0;
                    default -> throw new IllegalArgumentException("RandAugment config section '" + s + "' is not supported: " + config);
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("RandAugment config section '" + s + "' has a bad number: " + config);
            }
        }
        if (!increasing) throw new IllegalArgumentException("only the 'inc1' RandAugment list is implemented: " + config);
        return new RandAugment(m, std, n, 0.5, fill, interpolation);
    }

    /** BEiT's and MVP's fine-tuning RandAugment: {@code rand-m9-mstd0.5-inc1}, bicubic, filling with {@code fill}. */
    public static RandAugment beit(int[] fill) {
        return parse("rand-m9-mstd0.5-inc1", fill, Interpolation.BICUBIC);
    }

    /** timm's img_mean for a normalisation mean in [0, 1]: {@code min(255, round(255 * mean))} (Python's round). */
    public static int[] fillFor(float[] mean) {
        if (mean.length != 3) throw new IllegalArgumentException("mean needs 3 values");
        int[] fill = new int[3];
        for (int c = 0; c < 3; c++) fill[c] = (int) Math.min(255, Math.rint(255 * (double) mean[c]));
        return fill;
    }

    /** Draws the operations of one image, in timm's order: the ops first, then each op's test, magnitude, negation. */
    public List<Draw> sample(SplittableRandom rng) {
        Op[] ops = Op.values();
        Op[] chosen = new Op[layers];
        for (int i = 0; i < layers; i++) chosen[i] = ops[rng.nextInt(ops.length)];
        List<Draw> draws = new ArrayList<>(layers);
        for (Op op : chosen) {
            if (prob < 1.0 && rng.nextDouble() > prob) {
                draws.add(new Draw(op, false, Double.NaN, false, null));
                continue;
            }
            double m = magnitude;
            if (magnitudeStd == Double.POSITIVE_INFINITY) m = rng.nextDouble() * magnitude;
            else if (magnitudeStd > 0) m = magnitude + magnitudeStd * rng.nextGaussian();
            m = Math.max(0.0, Math.min(m, MAX_LEVEL));
            boolean negate = op.negates() && rng.nextDouble() > 0.5;
            PilOps.Filter filter = null;
            if (op.geometric()) {
                filter = switch (interpolation) {
                    case BILINEAR -> PilOps.Filter.BILINEAR;
                    case BICUBIC -> PilOps.Filter.BICUBIC;
                    case RANDOM -> rng.nextBoolean() ? PilOps.Filter.BILINEAR : PilOps.Filter.BICUBIC;
                };
            }
            draws.add(new Draw(op, true, m, negate, filter));
        }
        return draws;
    }

    /** Applies the applied draws in order. */
    public RgbImage apply(RgbImage im, List<Draw> draws) {
        for (Draw d : draws) {
            if (d.applied()) im = d.op().apply(im, d.magnitude(), d.negate(), d.filter(), fill);
        }
        return im;
    }

    /** Draws and applies one image's operations ({@link #sample} then {@link #apply(RgbImage, List)}). */
    public RgbImage apply(RgbImage im, SplittableRandom rng) {
        return apply(im, sample(rng));
    }

    @Override public String toString() {
        String std = magnitudeStd == Double.POSITIVE_INFINITY ? "inf" : Double.toString(magnitudeStd);
        return "RandAugment[m" + magnitude + " mstd" + std + " n" + layers + " p" + prob + " inc1, fill "
                + fill[0] + "," + fill[1] + "," + fill[2] + ", " + interpolation.name().toLowerCase() + "]";
    }
}
