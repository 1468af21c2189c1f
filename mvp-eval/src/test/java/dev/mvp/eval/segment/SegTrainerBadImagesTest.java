package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.data.DataException;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.eval.BadImageFiles;
import dev.mvp.eval.TooManyBadImages;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Segmentation's training crops over ADE20K-style pairs made of real CIFAR-10 JPEGs, two of them undecodable (a JPEG
 * cut in half, text named .jpg). Each image's label map holds one value, its own class, so a crop's labels tell which
 * image it came from: a bad file's class must never appear. Under the max bad fraction each bad file is warned about
 * once and redrawn, the same way whatever was known before (so whatever the workers' timing); over it the training
 * stops with a {@link TooManyBadImages}.
 */
class SegTrainerBadImagesTest {
    static final int GOOD = 10, S = 32;
    static final ImageDecoder DECODER = ImageDecoders.fastest();

    /** Pair k: CIFAR-10 airplane k (32x32), its label map all k + 1 (class k after reduce_zero_label). */
    static void pair(Path root, String name, int k, Path jpegSource, String badKind) throws Exception {
        Path images = Files.createDirectories(root.resolve("images/training"));
        Path labels = Files.createDirectories(root.resolve("annotations/training"));
        Path image = images.resolve(name + ".jpg");
        switch (badKind) {
            case "" -> Files.copy(jpegSource, image);
            case "truncated" -> BadImageFiles.truncated(jpegSource, image);
            case "text" -> BadImageFiles.text(image);
            case "empty" -> BadImageFiles.empty(image);
            default -> throw new IllegalArgumentException(badKind);
        }
        BufferedImage lab = new BufferedImage(32, 32, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) lab.getRaster().setSample(x, y, 0, k + 1);
        ImageIO.write(lab, "png", labels.resolve(name + ".png").toFile());
    }

    /** 10 good pairs (classes 0..9) and 2 bad ones (classes 10, 11): 12 pairs, 12 classes. */
    static SegmentationData data(Path root) throws Exception {
        for (int k = 0; k < GOOD; k++) pair(root, String.format("ADE_train_%02d", k), k, BadImageFiles.cifar("airplane", k), "");
        pair(root, "ADE_train_bad_truncated", GOOD, BadImageFiles.cifar("ship", 3), "truncated");
        pair(root, "ADE_train_bad_text", GOOD + 1, null, "text");
        SegmentationData d = SegmentationData.open(root, "training", GOOD + 2, true);
        assertThat(d.size()).isEqualTo(GOOD + 2);
        return d;
    }

    static List<Path> badFiles(SegmentationData d) {
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < d.size(); i++) if (d.image(i).getFileName().toString().contains("bad")) out.add(d.image(i));
        return out;
    }

    static SegConfig config(int iterations, long seed) {
        // cat_max_ratio 1: no retry (every label map is a single class); no photometric distortion
        return new SegConfig(iterations, 4, 1e-3, 0, 0, false, 0.65, 0.5, 2.0, seed, 1.0, false);
    }

    /** The classes in crop {@code i} of a batch's labels (255, the padding, left out). */
    static TreeSet<Integer> classes(float[] labels, int i) {
        TreeSet<Integer> out = new TreeSet<>();
        for (int p = i * S * S; p < (i + 1) * S * S; p++) if (labels[p] != SegmentationData.IGNORE) out.add((int) labels[p]);
        return out;
    }

    @Test
    void underTheFractionEveryCropComesFromADecodableImageEachBadFileIsWarnedOnceAndTheDrawsAreReproducible(@TempDir Path tmp)
            throws Exception {
        SegmentationData d = data(tmp);
        SegConfig config = config(12, 4);
        int iterations = config.iterations(), b = config.batchSize(), hitBad = 0;
        SegTrainer.BadImages shared = new SegTrainer.BadImages(0.2, d);
        List<float[][]> batches = new ArrayList<>();
        try (BadImageFiles.Stderr err = new BadImageFiles.Stderr()) {
            for (int iter = 0; iter < iterations; iter++) {
                float[][] batch = SegTrainer.batch(d, config, S, iter, DECODER, shared);
                batches.add(batch);
                assertThat(batch[0]).hasSize(b * 3 * S * S);
                for (int i = 0; i < b; i++) {
                    int firstDraw = new SplittableRandom(config.seed() * 1_000_003L + (long) iter * b + i).nextInt(d.size());
                    if (firstDraw >= GOOD) hitBad++;
                    TreeSet<Integer> cls = classes(batch[1], i);
                    assertThat(cls).as("iteration %d crop %d: one image's class", iter, i).hasSize(1);
                    assertThat(cls.first()).as("iteration %d crop %d: a decodable image", iter, i).isBetween(0, GOOD - 1);
                    if (firstDraw < GOOD) assertThat(cls.first()).as("a good first draw is kept").isEqualTo(firstDraw);
                }
            }
            assertThat(hitBad).as("draws that met a bad file (this seed meets both)").isGreaterThanOrEqualTo(2);
            assertThat(shared.count()).isEqualTo(2);
            assertThat(err.warnings()).hasSize(2);
            for (Path bad : badFiles(d)) assertThat(err.warningsAbout(bad)).as(bad.toString()).isEqualTo(1);
        }
        // a worker that meets a bad file first and one that already knows it draw the same replacement: each batch again
        // from scratch (nothing known), and again in reverse order with everything known, is the same
        SegTrainer.BadImages known = new SegTrainer.BadImages(0.2, d);
        for (int iter = iterations - 1; iter >= 0; iter--) {
            float[][] fresh = SegTrainer.batch(d, config, S, iter, DECODER, new SegTrainer.BadImages(0.2, d));
            float[][] again = SegTrainer.batch(d, config, S, iter, DECODER, known);
            assertThat(fresh[0]).as("iteration %d pixels", iter).isEqualTo(batches.get(iter)[0]);
            assertThat(fresh[1]).as("iteration %d labels", iter).isEqualTo(batches.get(iter)[1]);
            assertThat(again[0]).as("iteration %d pixels, bad files known", iter).isEqualTo(batches.get(iter)[0]);
            assertThat(again[1]).as("iteration %d labels, bad files known", iter).isEqualTo(batches.get(iter)[1]);
        }
    }

    @Test
    void trainingRunsUnderTheFractionAndStopsOverIt(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        SegmentationData d = data(tmp);
        List<Path> bad = badFiles(d);
        torch.manual_seed(0);
        try (BadImageFiles.Stderr err = new BadImageFiles.Stderr();
             LinearSegmenter model = new LinearSegmenter(VisionTransformer.create(VitConfig.timm(32, 1, 2, 8).withImageSize(S)), GOOD + 2)) {
            double loss = SegTrainer.train(model, d, config(12, 4), 1, DECODER, 2.0 / 12, SegTrainer.Listener.NONE);
            assertThat(loss).isFinite();
            assertThat(err.warnings()).as("both bad files met and warned once").hasSize(2);
            for (Path p : bad) assertThat(err.warningsAbout(p)).isEqualTo(1);
        }
        for (double fraction : new double[] {0.1, 0}) {  // 1 of 12 allowed, then none
            int allowed = (int) Math.floor(fraction * d.size());
            try (BadImageFiles.Stderr err = new BadImageFiles.Stderr();
                 LinearSegmenter model = new LinearSegmenter(VisionTransformer.create(VitConfig.timm(32, 1, 2, 8).withImageSize(S)), GOOD + 2)) {
                Throwable t = catchThrowable(() -> SegTrainer.train(model, d, config(12, 4), 1, DECODER, fraction, SegTrainer.Listener.NONE));
                assertThat(t).as("fraction %s", fraction).isInstanceOf(TooManyBadImages.class);
                TooManyBadImages e = (TooManyBadImages) t;
                assertThat(e.bad()).isEqualTo(allowed + 1);
                assertThat(e.images()).isEqualTo(12);
                assertThat(e.maxBadFraction()).isEqualTo(fraction);
                assertThat(e.dataset()).isEqualTo(d.describe());
                assertThat(bad).anyMatch(p -> e.last().contains(p.getFileName().toString()));
                assertThat(e.getMessage()).contains((allowed + 1) + " of the 12 images could not be decoded");
                assertThat(err.warnings()).hasSize(allowed + 1);
            }
        }
        // an empty image is refused when the pairs are listed, before any training
        pair(tmp.resolve("empty"), "ADE_train_00", 0, BadImageFiles.cifar("airplane", 0), "");
        pair(tmp.resolve("empty"), "ADE_train_01", 1, null, "empty");
        assertThatThrownBy(() -> SegmentationData.open(tmp.resolve("empty"), "training", 2, true))
                .isInstanceOf(DataException.class).hasMessageContaining("ADE_train_01.jpg").hasMessageContaining("empty (0 bytes)");
    }

    @Test
    void onlyBadImagesStopTrainingAndLeaveNoWorkerRedrawingForever(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        pair(tmp, "ADE_train_a", 0, BadImageFiles.cifar("ship", 5), "truncated");
        pair(tmp, "ADE_train_b", 1, null, "text");
        SegmentationData d = SegmentationData.open(tmp, "training", 2, true);
        torch.manual_seed(0);
        try (LinearSegmenter model = new LinearSegmenter(VisionTransformer.create(VitConfig.timm(32, 1, 2, 8).withImageSize(S)), 2)) {
            for (int workers : new int[] {1, 2}) {
                // a fraction of 1 never stops on the count: the redraws must end when every image is bad
                // (it hung here: the batch waited for kept redrawing the two known bad files)
                Throwable t = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> catchThrowable(
                        () -> SegTrainer.train(model, d, config(8, 0), workers, DECODER, 1.0, SegTrainer.Listener.NONE)));
                assertThat(t).as("%d workers", workers).isInstanceOf(TooManyBadImages.class);
                assertThat(((TooManyBadImages) t).bad()).isEqualTo(2);
            }
        }
        // the batches queued behind the failed one end too, instead of redrawing known bad files for ever
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (dataThreads() > 0 && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(dataThreads()).as("segmentation data threads still running").isZero();
    }

    static long dataThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("mvp-segment-data") && t.isAlive()).count();
    }
}
