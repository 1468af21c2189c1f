package dev.mvp.eval.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.ImageNormalization;
import dev.mvp.data.RgbImage;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * timm's RandAugment ('rand-m9-mstd0.5-inc1') against PIL 9.4 and timm's draws, from
 * tools/fixtures/make_randaugment_fixtures.py (fixtures/eval/randaugment): every op, with fixed magnitudes and
 * negations and, for the geometric ops, both filters, on three 48x40 crops of real photos, must equal PIL's output
 * byte for byte; and 200,000 images' draws must follow the distribution of the same number drawn by a transcription
 * of timm's RandAugment/AugmentOp (different generators, so statistics, not sequences).
 */
class RandAugmentTest {

    private static JsonNode cases;
    private static RgbImage[] inputs;
    private static RgbImage expected;
    private static int w, h;

    @BeforeAll
    static void load() throws IOException {
        cases = new ObjectMapper().readTree(TestPaths.fixture("eval/randaugment/cases.json").toFile());
        w = cases.path("width").asInt();
        h = cases.path("height").asInt();
        RgbImage sheet = png("eval/randaugment/inputs.png");
        inputs = new RgbImage[sheet.height() / h];
        for (int i = 0; i < inputs.length; i++) inputs[i] = rows(sheet, i);
        expected = png("eval/randaugment/expected.png");
        assertThat(expected.height()).isEqualTo(h * cases.path("cases").size());
    }

    private static RgbImage png(String fixture) throws IOException {
        BufferedImage b = ImageIO.read(TestPaths.fixture(fixture).toFile());
        byte[] px = new byte[b.getWidth() * b.getHeight() * 3];
        for (int y = 0; y < b.getHeight(); y++) {
            for (int x = 0; x < b.getWidth(); x++) {
                int rgb = b.getRGB(x, y), o = 3 * (y * b.getWidth() + x);
                px[o] = (byte) (rgb >> 16);
                px[o + 1] = (byte) (rgb >> 8);
                px[o + 2] = (byte) rgb;
            }
        }
        return new RgbImage(b.getWidth(), b.getHeight(), px);
    }

    /** Rows {@code h i .. h i + h - 1} of a stacked sheet. */
    private static RgbImage rows(RgbImage sheet, int i) {
        int n = 3 * w * h;
        return new RgbImage(w, h, Arrays.copyOfRange(sheet.pixels(), i * n, (i + 1) * n));
    }

    private static int maxDiff(RgbImage a, RgbImage b) {
        int max = 0;
        for (int i = 0; i < a.pixels().length; i++) max = Math.max(max, Math.abs((a.pixels()[i] & 0xFF) - (b.pixels()[i] & 0xFF)));
        return max;
    }

    @Test
    void theOpsAreTimmsIncreasingList() {
        List<String> timm = List.of("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
                "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel");
        assertThat(Arrays.stream(RandAugment.Op.values()).map(RandAugment.Op::timmName).toList()).isEqualTo(timm);
    }

    @ParameterizedTest
    @EnumSource(RandAugment.Op.class)
    void everyOpEqualsPil(RandAugment.Op op) {
        int[] fill = new int[3];
        for (int c = 0; c < 3; c++) fill[c] = cases.path("fill").get(c).asInt();
        int n = 0, worst = 0, differing = 0;
        for (int i = 0; i < cases.path("cases").size(); i++) {
            JsonNode c = cases.path("cases").get(i);
            if (!c.path("op").asText().equals(op.timmName())) continue;
            double m = c.path("magnitude").asDouble();
            boolean negate = c.path("negate").asBoolean();
            if (c.path("args").size() > 0) {   // the level function gives timm's argument exactly
                assertThat(op.argument(m, negate)).as("argument of %s", c).isEqualTo(c.path("args").get(0).asDouble());
            }
            PilOps.Filter filter = c.path("resample").isNull() ? null
                    : PilOps.Filter.valueOf(c.path("resample").asText().toUpperCase());
            RgbImage out = op.apply(inputs[c.path("image").asInt()], m, negate, filter, fill);
            RgbImage ref = rows(expected, i);
            int d = maxDiff(out, ref);
            worst = Math.max(worst, d);
            if (d != 0) differing++;
            n++;
        }
        System.out.printf("%-20s %2d cases vs PIL: max |diff| %d (%d cases differ)%n", op.timmName(), n, worst, differing);
        assertThat(n).as("fixture cases for %s", op).isGreaterThanOrEqualTo(3);
        assertThat(worst).as("max |diff| of %s against PIL", op).isZero();
    }

    /**
     * Image.blend, which every enhance op ends in, on all 65,536 pairs of values for the 41 factors timm's enhance
     * ops take at magnitudes 0, 0.5, .., 10: PIL's bytes (CRC32). The fixture also counts the values a double-precision
     * blend would get wrong (up to 1,304 per factor), so float32 arithmetic is what makes this pass.
     */
    @Test
    void blendEqualsPilOnEveryPairOfValues() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(TestPaths.fixture("eval/randaugment/blend.json").toFile());
        byte[] a = new byte[256 * 256 * 3], b = new byte[256 * 256 * 3];
        for (int y = 0; y < 256; y++) {
            for (int x = 0; x < 256; x++) {
                int o = 3 * (y * 256 + x);
                a[o] = (byte) x;
                a[o + 1] = (byte) y;
                a[o + 2] = (byte) ((x * 7 + y * 13) % 256);
                b[o] = (byte) y;
                b[o + 1] = (byte) x;
                b[o + 2] = (byte) ((x * 11 + y * 3) % 256);
            }
        }
        RgbImage second = new RgbImage(256, 256, b);
        int discriminating = 0;
        for (JsonNode c : ref.path("cases")) {
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(PilOps.blend(a, second, c.path("factor").asDouble()).pixels());
            assertThat(crc.getValue()).as("CRC32 of blend with factor %s", c.path("factor")).isEqualTo(c.path("crc32").asLong());
            if (c.path("differ_if_double").asInt() > 0) discriminating++;
        }
        assertThat(ref.path("cases").size()).isEqualTo(41);
        assertThat(discriminating).isGreaterThan(10);
    }

    @Test
    void theFillIsTimmsImgMeanOfTheNormalisation() {
        int[] fixtureFill = {cases.path("fill").get(0).asInt(), cases.path("fill").get(1).asInt(), cases.path("fill").get(2).asInt()};
        assertThat(RandAugment.fillFor(ImageNormalization.IMAGENET.mean())).containsExactly(fixtureFill);
        assertThat(fixtureFill).containsExactly(124, 116, 104);
        assertThat(RandAugment.fillFor(new float[] {0.5f, 0.5f, 0.5f})).containsExactly(128, 128, 128);   // BEiT's default (Inception) mean
        // fine-tuning's training transform runs BEiT's policy with the fill of the normalisation it applies
        assertThat(TrainTransform.RAND_AUGMENT).isEqualTo(new RandAugment(9, 0.5, 2, 0.5, fixtureFill, RandAugment.Interpolation.BICUBIC));
    }

    @Test
    void drawsFollowTimmsDistribution() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(TestPaths.fixture("eval/randaugment/draws.json").toFile());
        int images = ref.path("images").asInt();
        RandAugment ra = RandAugment.beit(new int[] {124, 116, 104});
        assertThat(ra.layers()).isEqualTo(ref.path("layers").asInt());
        SplittableRandom rng = new SplittableRandom(7);
        Map<RandAugment.Op, int[]> chosen = new EnumMap<>(RandAugment.Op.class);
        Map<RandAugment.Op, List<Double>> args = new EnumMap<>(RandAugment.Op.class);
        for (RandAugment.Op op : RandAugment.Op.values()) {
            chosen.put(op, new int[1]);
            args.put(op, new ArrayList<>());
        }
        for (int i = 0; i < images; i++) {
            for (RandAugment.Draw d : ra.sample(rng)) {
                chosen.get(d.op())[0]++;
                assertThat(d.filter()).isEqualTo(d.applied() && d.op().geometric() ? PilOps.Filter.BICUBIC : null);
                if (d.applied()) args.get(d.op()).add(d.argument());
            }
        }
        double opP = 1.0 / RandAugment.Op.values().length;
        for (RandAugment.Op op : RandAugment.Op.values()) {
            JsonNode r = ref.path("ops").path(op.timmName());
            int cJ = chosen.get(op)[0], cP = r.path("chosen").asInt();
            List<Double> a = args.get(op);
            int aP = r.path("applied").asInt();
            // chosen uniformly with replacement: counts of 2 * images * 1/15 in both, within 5 standard deviations
            double sdChosen = Math.sqrt(2.0 * images * opP * (1 - opP));
            assertThat((double) cJ).as("times %s was chosen", op).isCloseTo(2.0 * images * opP, within(5 * sdChosen));
            assertThat((double) cJ - cP).as("chosen, Java - Python, %s", op).isCloseTo(0, within(5 * Math.sqrt(2) * sdChosen));
            // applied with probability 1/2
            assertThat(a.size() / (double) cJ).as("applied fraction of %s", op).isCloseTo(0.5, within(5 * Math.sqrt(0.25 / cJ)));
            assertThat(aP / (double) cP).as("Python's applied fraction of %s", op).isCloseTo(0.5, within(5 * Math.sqrt(0.25 / cP)));
            if (r.has("histogram")) {
                compareHistograms(op, a, r.path("histogram"), aP);
            } else if (r.has("neutral")) {
                compareReal(op, a, r, aP);
            } else {
                assertThat(a).allMatch(v -> v.isNaN());
            }
        }
    }

    /** Integer arguments: the two distributions' CDFs within a two-sample KS bound at alpha 1e-6. */
    private static void compareHistograms(RandAugment.Op op, List<Double> a, JsonNode hist, int nP) {
        TreeMap<Integer, double[]> counts = new TreeMap<>();
        for (double v : a) {
            assertThat(v).isEqualTo(Math.rint(v));
            counts.computeIfAbsent((int) v, k -> new double[2])[0]++;
        }
        hist.fields().forEachRemaining(e -> counts.computeIfAbsent(Integer.parseInt(e.getKey()), k -> new double[2])[1] = e.getValue().asInt());
        double cdfJ = 0, cdfP = 0, ks = 0;
        for (double[] c : counts.values()) {
            cdfJ += c[0] / a.size();
            cdfP += c[1] / nP;
            ks = Math.max(ks, Math.abs(cdfJ - cdfP));
        }
        double bound = Math.sqrt(-Math.log(1e-6 / 2) / 2) * Math.sqrt((a.size() + (double) nP) / ((double) a.size() * nP));
        System.out.printf("%-20s integer argument: KS distance %.4f (bound %.4f), values %s..%s%n", op.timmName(), ks, bound,
                counts.firstKey(), counts.lastKey());
        assertThat(ks).as("KS distance of %s's argument to timm's", op).isLessThan(bound);
    }

    /** Real arguments: negative share, mean, spread, quantiles and the clipped maximum of the distance to neutral. */
    private static void compareReal(RandAugment.Op op, List<Double> a, JsonNode r, int nP) {
        double neutral = r.path("neutral").asDouble();
        double[] d = a.stream().mapToDouble(v -> Math.abs(v - neutral)).sorted().toArray();
        long negative = a.stream().filter(v -> v < neutral).count();
        double mean = Arrays.stream(d).average().orElseThrow();
        double sd = Math.sqrt(Arrays.stream(d).map(v -> (v - mean) * (v - mean)).sum() / d.length);
        double sdP = r.path("abs_std").asDouble();
        double k = 5 * Math.sqrt(1.0 / d.length + 1.0 / nP);          // 5 sigma of a difference of two sample means
        assertThat(negative / (double) d.length - r.path("negative").asDouble() / nP).as("negative share of %s", op)
                .isCloseTo(0, within(k * 0.5));
        assertThat(mean).as("mean |arg - neutral| of %s", op).isCloseTo(r.path("abs_mean").asDouble(), within(k * sdP));
        assertThat(sd).as("sd of |arg - neutral| of %s", op).isCloseTo(sdP, within(k * sdP));
        for (String q : List.of("05", "50", "95")) {
            double qJ = d[(int) Math.floor(Integer.parseInt(q) / 100.0 * (d.length - 1))];
            assertThat(qJ).as("%s%% quantile of %s", q, op).isCloseTo(r.path("abs_q" + q).asDouble(), within(0.15 * sdP));
        }
        // the magnitude is clipped at 10 (P(N(9, 0.5) > 10) = 2.3%): the same maximum, reached as often
        double max = d[d.length - 1];
        assertThat(max).as("max of %s", op).isEqualTo(r.path("abs_max").asDouble());
        long atMax = Arrays.stream(d).filter(v -> v == max).count();
        assertThat(atMax / (double) d.length - r.path("at_max").asDouble() / nP).as("share at the max of %s", op)
                .isCloseTo(0, within(5 * Math.sqrt(0.0228 * (1.0 / d.length + 1.0 / nP))));
        System.out.printf("%-20s |arg - %s|: mean %.4f (timm %.4f), sd %.4f (timm %.4f), negative %.3f, at max %.4f%n",
                op.timmName(), neutral, mean, r.path("abs_mean").asDouble(), sd, sdP, negative / (double) d.length,
                atMax / (double) d.length);
    }

    @Test
    void randomInterpolationPicksBothFiltersForGeometricOpsOnly() {
        RandAugment ra = RandAugment.parse("rand-m9-mstd0.5-inc1", new int[] {128, 128, 128}, RandAugment.Interpolation.RANDOM);
        SplittableRandom rng = new SplittableRandom(3);
        int bilinear = 0, geometric = 0;
        for (int i = 0; i < 20_000; i++) {
            for (RandAugment.Draw d : ra.sample(rng)) {
                if (!d.applied() || !d.op().geometric()) {
                    assertThat(d.filter()).isNull();
                    continue;
                }
                geometric++;
                if (d.filter() == PilOps.Filter.BILINEAR) bilinear++;
            }
        }
        assertThat(bilinear / (double) geometric).isCloseTo(0.5, within(5 * Math.sqrt(0.25 / geometric)));
    }

    @Test
    void applyRunsTheAppliedDrawsInOrder() {
        RandAugment ra = RandAugment.beit(new int[] {124, 116, 104});
        RgbImage im = inputs[1];
        for (long seed = 0; seed < 40; seed++) {
            List<RandAugment.Draw> draws = ra.sample(new SplittableRandom(seed));
            RgbImage manual = im;
            for (RandAugment.Draw d : draws) {
                if (d.applied()) manual = d.op().apply(manual, d.magnitude(), d.negate(), d.filter(), new int[] {124, 116, 104});
            }
            assertThat(ra.apply(im, new SplittableRandom(seed))).isEqualTo(manual);
        }
        RandAugment never = new RandAugment(9, 0.5, 2, 0.0, new int[] {0, 0, 0}, RandAugment.Interpolation.BICUBIC);
        assertThat(never.apply(im, new SplittableRandom(1))).isEqualTo(im);
        assertThat(im.pixels()).isEqualTo(inputs[1].pixels());
    }

    @Test
    void parsesTimmConfigStrings() {
        int[] fill = {124, 116, 104};
        RandAugment beit = RandAugment.parse("rand-m9-mstd0.5-inc1", fill, RandAugment.Interpolation.BICUBIC);
        assertThat(beit).isEqualTo(new RandAugment(9, 0.5, 2, 0.5, fill, RandAugment.Interpolation.BICUBIC));
        assertThat(beit).isEqualTo(RandAugment.beit(fill));
        RandAugment other = RandAugment.parse("rand-m7-n3-mstd101-inc1", fill, RandAugment.Interpolation.RANDOM);
        assertThat(other.magnitude()).isEqualTo(7);
        assertThat(other.layers()).isEqualTo(3);
        assertThat(other.magnitudeStd()).isInfinite();
        assertThatThrownBy(() -> RandAugment.parse("rand-m9-mstd0.5", fill, RandAugment.Interpolation.BICUBIC))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("inc1").hasMessageContaining("rand-m9-mstd0.5");
        assertThatThrownBy(() -> RandAugment.parse("rand-m9-w0-inc1", fill, RandAugment.Interpolation.BICUBIC))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'w0'");
        assertThatThrownBy(() -> RandAugment.parse("original-mstd0.5", fill, RandAugment.Interpolation.BICUBIC))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("original-mstd0.5");
        assertThatThrownBy(() -> new RandAugment(9, 0.5, 2, 0.5, new int[] {1, 2}, RandAugment.Interpolation.BICUBIC))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fill");
    }

    @Test
    void uniformMagnitudesWithInfiniteStd() {
        RandAugment ra = RandAugment.parse("rand-m8-mstd200-inc1", new int[] {0, 0, 0}, RandAugment.Interpolation.BICUBIC);
        SplittableRandom rng = new SplittableRandom(5);
        double sum = 0;
        int n = 0;
        for (int i = 0; i < 20_000; i++) {
            for (RandAugment.Draw d : ra.sample(rng)) {
                if (!d.applied()) continue;
                assertThat(d.magnitude()).isBetween(0.0, 8.0);
                sum += d.magnitude();
                n++;
            }
        }
        assertThat(sum / n).isCloseTo(4.0, within(5 * 8 / Math.sqrt(12.0 * n)));
    }

    @Test
    void smallImagesAndZeroAngles() {
        RgbImage tiny = new RgbImage(2, 2, new byte[] {10, 20, 30, 40, 50, 60, 70, 80, 90, (byte) 200, (byte) 210, (byte) 220});
        // PIL's 3x3 filter does not run on images smaller than the kernel: Sharpness leaves them alone
        assertThat(PilOps.sharpness(tiny, 1.8)).isEqualTo(tiny);
        // rotate by a multiple of 360 is a copy; by 0.0 after negation too
        assertThat(PilOps.rotate(inputs[0], 360, PilOps.Filter.BICUBIC, new int[] {0, 0, 0})).isEqualTo(inputs[0]);
        assertThat(RandAugment.Op.ROTATE.apply(inputs[0], 0, true, PilOps.Filter.BILINEAR, new int[] {0, 0, 0})).isEqualTo(inputs[0]);
        assertThat(PilOps.round15(Math.cos(-Math.toRadians(333.0)))).isEqualTo(0.891006524188368);
    }
}
