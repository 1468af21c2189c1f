package dev.mvp.eval.finetune;

import dev.mvp.api.Torch;
import dev.mvp.data.DataException;
import dev.mvp.data.DecodeException;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.ImageFolder;
import dev.mvp.data.Resampler;
import dev.mvp.data.Shuffle;
import dev.mvp.eval.BadImageFiles;
import dev.mvp.eval.TooManyBadImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Fine-tuning's (and the augmented probe's) training batches over a folder of 17 real CIFAR-10 JPEGs and 3
 * undecodable files (an empty .jpg, a JPEG cut in half, text named .jpg): 20 images, batches of 5, so every epoch's
 * 4 batches visit all 20 positions and meet every bad file. Under the max bad fraction each bad file is warned about
 * once and replaced by the next decodable image of the epoch's order, with the generator of the position it replaces
 * (the class comment's rule, recomputed here independently, pixel for pixel); over it the batches stop with a
 * {@link TooManyBadImages} that counts the bad files and names one.
 */
class TrainImagesBadFilesTest {
    static final int SIZE = 32, BATCH = 5, N = 20, STEPS = N / BATCH, PER = 3 * SIZE * SIZE;
    static final TrainTransform TRANSFORM = new TrainTransform(SIZE, false, 0);
    static final ImageDecoder DECODER = ImageDecoders.fastest();

    /** 17 good images in 4 classes and the 3 bad files among them ({@link BadImageFiles#trainingFolder}). */
    static ImageFolder folder(Path root) throws Exception {
        ImageFolder folder = BadImageFiles.trainingFolder(root);
        assertThat(folder.size()).isEqualTo(N);
        return folder;
    }

    static boolean isBad(ImageDataset d, int index) {
        return d.path(index).getFileName().toString().startsWith("bad_");
    }

    static List<Path> badFiles(ImageDataset d) {
        return BadImageFiles.badFiles(d);
    }

    /** The image the rule puts at {@code position} of {@code epoch}: the first decodable one from there in the epoch's order. */
    static int expectedIndex(ImageDataset d, long seed, int epoch, int position) {
        int[] order = Shuffle.permutation(d.size(), TrainImages.mix(seed, epoch, -1));
        for (int j = 0; j < order.length; j++) {
            int index = order[(position + j) % order.length];
            if (!isBad(d, index)) return index;
        }
        throw new AssertionError("no decodable image");
    }

    static List<TrainImages.Batch> batches(ImageDataset d, long seed, int workers, double maxBad, int count) {
        List<TrainImages.Batch> out = new ArrayList<>();
        try (TrainImages data = new TrainImages(d, TRANSFORM, BATCH, seed, workers, DECODER, maxBad)) {
            for (int i = 0; i < count; i++) out.add(data.next());
        }
        return out;
    }

    @Test
    void underTheFractionEveryBatchIsFullOfTheRightDecodableImagesAndEachBadFileIsWarnedOnce(@TempDir Path tmp) throws Exception {
        Torch.init();
        ImageFolder d = folder(tmp.resolve("train"));
        long seed = 11;
        int epochs = 3, replaced = 0;
        Resampler resampler = new Resampler();
        try (BadImageFiles.Stderr err = new BadImageFiles.Stderr();
             TrainImages data = new TrainImages(d, TRANSFORM, BATCH, seed, 1, DECODER, 0.15)) { // 3 of 20: allowed
            assertThat(data.stepsPerEpoch()).isEqualTo(STEPS);
            for (int epoch = 0; epoch < epochs; epoch++) {
                int[] order = Shuffle.permutation(N, TrainImages.mix(seed, epoch, -1));
                for (int step = 0; step < STEPS; step++) {
                    TrainImages.Batch b = data.next();
                    assertThat(b.epoch()).isEqualTo(epoch);
                    assertThat(b.step()).isEqualTo(step);
                    assertThat(b.labels()).hasSize(BATCH);
                    assertThat(b.pixels()).hasSize(BATCH * PER);
                    for (int i = 0; i < BATCH; i++) {
                        int position = step * BATCH + i, index = expectedIndex(d, seed, epoch, position);
                        if (index != order[position]) replaced++;
                        float[] want = new float[PER];
                        TRANSFORM.apply(DECODER.decode(d.path(index)), new SplittableRandom(TrainImages.mix(seed, epoch, position)),
                                resampler, want, 0);
                        assertThat(Arrays.copyOfRange(b.pixels(), i * PER, (i + 1) * PER))
                                .as("epoch %d position %d: %s", epoch, position, d.path(index).getFileName())
                                .isEqualTo(want);
                        assertThat(b.labels()[i]).isEqualTo(d.label(index));
                    }
                }
                if (epoch == 0) assertThat(err.warnings()).as("after the first epoch").hasSize(3);
            }
            assertThat(replaced).as("each epoch puts each of the 3 bad files at a position").isEqualTo(3 * epochs);
            assertThat(data.badImages()).isEqualTo(3);
            assertThat(err.warnings()).as("one warning per bad file over 3 epochs").hasSize(3);
            for (Path bad : badFiles(d)) assertThat(err.warningsAbout(bad)).as(bad.toString()).isEqualTo(1);
        }
    }

    @Test
    void theSameSeedGivesTheSameBatchesWithBadFilesWhateverTheWorkersAndTiming(@TempDir Path tmp) throws Exception {
        Torch.init();
        ImageFolder d = folder(tmp.resolve("train"));
        int count = 3 * STEPS;
        List<TrainImages.Batch> one = batches(d, 5, 1, 0.2, count);
        for (int run = 0; run < 2; run++) {  // three workers assemble six batches (1.5 epochs) ahead, racing for the bad files
            List<TrainImages.Batch> three = batches(d, 5, 3, 0.2, count);
            for (int k = 0; k < count; k++) {
                assertThat(three.get(k).labels()).as("batch %d", k).isEqualTo(one.get(k).labels());
                assertThat(three.get(k).pixels()).as("batch %d", k).isEqualTo(one.get(k).pixels());
            }
        }
        List<TrainImages.Batch> other = batches(d, 6, 1, 0.2, 1);
        assertThat(other.get(0).pixels()).as("another seed").isNotEqualTo(one.get(0).pixels());
    }

    @Test
    void overTheFractionTheBatchesStopWithTheCountsAndABadFile(@TempDir Path tmp) throws Exception {
        Torch.init();
        ImageFolder d = folder(tmp.resolve("train"));
        List<String> badNames = badFiles(d).stream().map(p -> p.getFileName().toString()).toList();
        for (double fraction : new double[] {0.1, 0}) {  // 2 of 20 allowed, then none
            int allowed = (int) Math.floor(fraction * N);
            try (BadImageFiles.Stderr err = new BadImageFiles.Stderr();
                 TrainImages data = new TrainImages(d, TRANSFORM, BATCH, 3, 1, DECODER, fraction)) {
                Throwable t = catchThrowable(() -> {
                    for (int s = 0; s < STEPS; s++) data.next(); // the first epoch meets every bad file
                });
                assertThat(t).as("fraction %s", fraction).isInstanceOf(TooManyBadImages.class);
                TooManyBadImages e = (TooManyBadImages) t;
                assertThat(e.bad()).isEqualTo(allowed + 1);
                assertThat(e.images()).isEqualTo(N);
                assertThat(e.maxBadFraction()).isEqualTo(fraction);
                assertThat(e.dataset()).isEqualTo(d.describe());
                assertThat(badNames).anyMatch(name -> e.last().contains(name));
                assertThat(e.getMessage()).contains((allowed + 1) + " of the 20 images could not be decoded");
                assertThat(e.getCause()).isInstanceOf(DecodeException.class);
                assertThat(err.warnings()).as("each bad file met, warned once").hasSize(allowed + 1);
                assertThat(err.warnings().getLast()).contains(e.last());
            }
        }
        // without a fraction (the constructors before it), the first bad file is an error naming it
        try (TrainImages data = new TrainImages(d, TRANSFORM, BATCH, 3, 1, DECODER)) {
            Throwable t = catchThrowable(() -> {
                for (int s = 0; s < STEPS; s++) data.next();
            });
            assertThat(t).isInstanceOf(DataException.class).isNotInstanceOf(TooManyBadImages.class);
            assertThat(badNames).anyMatch(name -> t.getMessage().contains(name));
        }
    }

    @Test
    void aFolderOfOnlyBadFilesStopsEvenWhenAllMayBeBad(@TempDir Path tmp) throws Exception {
        Torch.init();
        Path root = tmp.resolve("train");
        BadImageFiles.empty(root.resolve("x/a.jpg"));
        BadImageFiles.text(root.resolve("x/b.jpg"));
        BadImageFiles.truncated(BadImageFiles.cifar("dog", 0), root.resolve("x/c.jpg"));
        ImageFolder d = ImageFolder.open(root);
        // a fraction of 1 never stops on the count, so the search for a replacement must end by itself
        Throwable t = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (TrainImages data = new TrainImages(d, TRANSFORM, 1, 0, 1, DECODER, 1.0)) {
                return catchThrowable(data::next);
            }
        });
        assertThat(t).isInstanceOf(TooManyBadImages.class);
        TooManyBadImages e = (TooManyBadImages) t;
        assertThat(e.bad()).isEqualTo(3);
        assertThat(e.images()).isEqualTo(3);
        assertThat(new TreeSet<>(List.of("a.jpg", "b.jpg", "c.jpg"))).anyMatch(name -> e.last().contains(name));
        assertThatThrownBy(() -> new TrainImages(d, TRANSFORM, 1, 0, 1, DECODER, 1.5)).isInstanceOf(IllegalArgumentException.class);
    }
}
