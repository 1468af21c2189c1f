package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.MaskingStrategy;
import dev.mvp.api.Tensors;
import dev.mvp.api.ViewSpec;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchLoaderTest {
    private static final int GRID = 4;
    private static final List<ViewSpec> VIEWS = List.of(
            new ViewSpec(24, Interpolation.BICUBIC, ImageNormalization.IMAGENET),
            new ViewSpec(16, Interpolation.BILINEAR, ImageNormalization.CLIP));

    /** Masks a random 40% of the grid: a stand-in for BEiT's blockwise masking, drawing only from {@code rng}. */
    record FractionMasking(double fraction) implements MaskingStrategy {
        @Override public String name() {
            return "test-random(" + fraction + ")";
        }

        @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
            int n = rows * cols;
            int[] order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            boolean[] mask = new boolean[n];
            for (int i = 0; i < Math.round(fraction * n); i++) {
                int j = rng.nextInt(i, n);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
                mask[order[i]] = true;
            }
            return mask;
        }
    }

    private static final MaskingStrategy MASKING = new FractionMasking(0.4);

    /** An explicit list of files. */
    record ListDataset(List<Path> files, int[] labelOf) implements ImageDataset {
        @Override public int size() {
            return files.size();
        }

        @Override public Path path(int index) {
            return files.get(index);
        }

        @Override public int label(int index) {
            return labelOf == null ? -1 : labelOf[index];
        }

        @Override public List<String> classes() {
            return List.of();
        }

        @Override public String describe() {
            return "test list of " + files.size() + " files";
        }
    }

    private static ImageFolder cifarTrain;

    /** The first {@code perClass} CIFAR-10 training images of each class (real 32x32 JPEGs). */
    private static synchronized ImageDataset cifar(int perClass) {
        if (cifarTrain == null) cifarTrain = ImageFolder.open(TestPaths.sharedData().resolve("cifar10/train"));
        ImageFolder all = cifarTrain;
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (all.path(i).getFileName().toString().compareTo(String.format("%04d.jpg", perClass)) < 0) {
                files.add(all.path(i));
                labels.add(all.label(i));
            }
        }
        return new ListDataset(files, labels.stream().mapToInt(Integer::intValue).toArray());
    }

    private static LoaderConfig config(int batchSize) {
        return LoaderConfig.defaults().withBatchSize(batchSize).withSeed(1234).withThreads(2, 2)
                .withWarnings(w -> { throw new AssertionError("unexpected warning: " + w); });
    }

    /** Everything a batch says, as plain Java values. */
    record Snapshot(int epoch, long batch, List<Integer> indices, List<Integer> labels, List<CropBox> crops,
                    List<float[]> views, boolean[] mask) {
        static Snapshot of(Batch b) {
            List<float[]> v = new ArrayList<>();
            for (int i = 0; i < b.viewCount(); i++) v.add(Tensors.toFloats(b.view(i)));
            return new Snapshot(b.epoch(), b.batchInEpoch(), Arrays.stream(b.sampleIndices()).boxed().toList(),
                    Arrays.stream(b.labels()).boxed().toList(), b.crops(), v, Tensors.toBooleans(b.mask()));
        }

        void assertSameAs(Snapshot o) {
            assertThat(epoch + "/" + batch).isEqualTo(o.epoch + "/" + o.batch);
            assertThat(indices).isEqualTo(o.indices);
            assertThat(labels).isEqualTo(o.labels);
            assertThat(crops).isEqualTo(o.crops);
            for (int i = 0; i < views.size(); i++) assertThat(views.get(i)).as("view " + i).containsExactly(o.views.get(i));
            assertThat(mask).isEqualTo(o.mask);
        }
    }

    private static List<Snapshot> take(ImageDataset data, LoaderConfig config, int batches) {
        List<Snapshot> out = new ArrayList<>();
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, config)) {
            for (int i = 0; i < batches; i++) {
                try (PointerScope scope = new PointerScope()) {
                    out.add(Snapshot.of(loader.next()));
                }
            }
        }
        return out;
    }

    @Test
    void theSameSeedGivesTheSameBatchesWhateverTheWorkerCount() {
        ImageDataset data = cifar(3); // 30 images, batch 8: 3 batches per epoch, so 7 batches cross two epochs
        List<Snapshot> one = take(data, config(8).withThreads(1, 1), 7);
        List<Snapshot> three = take(data, config(8).withThreads(3, 4), 7);
        for (int i = 0; i < one.size(); i++) one.get(i).assertSameAs(three.get(i));
        assertThat(one.get(6).epoch()).isEqualTo(2);
        assertThat(one.get(6).batch()).isZero();
        List<Snapshot> otherSeed = take(data, config(8).withSeed(99), 1);
        assertThat(otherSeed.get(0).indices()).isNotEqualTo(one.get(0).indices());
    }

    @Test
    void resumingAtAnEpochAndBatchContinuesTheUninterruptedSequence() {
        ImageDataset data = cifar(3);
        List<Snapshot> uninterrupted = take(data, config(8), 8);
        List<Snapshot> resumed = take(data, config(8).withStart(1, 1), 4);
        for (int i = 0; i < resumed.size(); i++) resumed.get(i).assertSameAs(uninterrupted.get(4 + i));
        // a position past the end of the epoch runs on into the next ones
        take(data, config(8).withStart(0, 5), 1).get(0).assertSameAs(uninterrupted.get(5));
    }

    @Test
    void eachEpochVisitsDistinctSamplesInANewOrder() {
        ImageDataset data = cifar(3);
        List<Snapshot> batches = take(data, config(8), 6);
        List<Integer> epoch0 = new ArrayList<>(), epoch1 = new ArrayList<>();
        for (Snapshot s : batches) (s.epoch() == 0 ? epoch0 : epoch1).addAll(s.indices());
        assertThat(epoch0).hasSize(24).doesNotHaveDuplicates().allMatch(i -> i >= 0 && i < 30);
        assertThat(epoch1).hasSize(24).doesNotHaveDuplicates().isNotEqualTo(epoch0);
        for (Snapshot s : batches) {
            for (int j = 0; j < 8; j++) assertThat(s.labels().get(j)).isEqualTo(data.label(s.indices().get(j)));
        }
    }

    /**
     * Every view and mask is what the documented recipe gives: the sample's generator from (seed, epoch, position),
     * crop, flip, mask in that order; the views resampled from the decoded file with PIL's filter and normalised.
     */
    @Test
    void batchesHoldExactlyTheDocumentedSamples() throws Exception {
        ImageDataset data = cifar(3);
        LoaderConfig cfg = config(8);
        int[] order = Shuffle.permutation(data.size(), BatchLoader.orderSeed(cfg.seed(), 1));
        ImageDecoder decoder = cfg.decoder();
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, cfg.withStart(1, 2));
             PointerScope scope = new PointerScope()) {
            Batch batch = loader.next();
            assertThat(Tensors.shape(batch.view(0))).containsExactly(8, 3, 24, 24);
            assertThat(Tensors.shape(batch.view(1))).containsExactly(8, 3, 16, 16);
            assertThat(Tensors.shape(batch.mask())).containsExactly(8, GRID * GRID);
            assertThat(batch.view(0).scalar_type().value).isEqualTo(org.bytedeco.pytorch.global.torch.ScalarType.Float.value);
            assertThat(batch.mask().scalar_type().value).isEqualTo(org.bytedeco.pytorch.global.torch.ScalarType.Bool.value);
            boolean[] masks = Tensors.toBooleans(batch.mask());
            for (int j = 0; j < 8; j++) {
                int position = 2 * 8 + j;
                assertThat(batch.sampleIndices()[j]).isEqualTo(order[position]);
                RgbImage image = decoder.decode(data.path(order[position]));
                SplittableRandom rng = new SplittableRandom(BatchLoader.sampleSeed(cfg.seed(), 1, position));
                CropBox box = cfg.crop().sample(image.width(), image.height(), rng).withFlip(rng.nextDouble() < 0.5);
                assertThat(batch.crops().get(j)).isEqualTo(box);
                assertThat(Arrays.copyOfRange(masks, j * GRID * GRID, (j + 1) * GRID * GRID))
                        .isEqualTo(MASKING.sample(GRID, GRID, rng));
                for (int v = 0; v < VIEWS.size(); v++) {
                    int s = VIEWS.get(v).size();
                    byte[] rgb = new byte[3 * s * s];
                    new Resampler().resizeInto(image, box, s, s, VIEWS.get(v).interpolation(), rgb);
                    float[] expected = new float[3 * s * s];
                    new PixelNormalizer(VIEWS.get(v).normalization()).toPlanar(rgb, s, s, box.flip(), expected);
                    float[] all = Tensors.toFloats(batch.view(v));
                    assertThat(Arrays.copyOfRange(all, j * 3 * s * s, (j + 1) * 3 * s * s)).as("sample %d view %d", j, v)
                            .containsExactly(expected);
                }
            }
            assertThat(batch.crops().stream().map(CropBox::flip).distinct()).as("some samples flipped, some not").hasSize(2);
        }
    }

    /** MVP's student and teacher views differ only in normalisation: resampled once, normalised apart. */
    @Test
    void viewsOfOneSizeAndFilterShareTheirResamplingButNotTheirNormalisation() throws Exception {
        ImageDataset data = cifar(3);
        List<ViewSpec> views = List.of(new ViewSpec(24, Interpolation.BICUBIC, ImageNormalization.IMAGENET),
                new ViewSpec(16, Interpolation.BILINEAR, ImageNormalization.CLIP),
                new ViewSpec(24, Interpolation.BICUBIC, ImageNormalization.CLIP),
                new ViewSpec(16, Interpolation.BICUBIC, ImageNormalization.DALLE));
        LoaderConfig cfg = config(8);
        int[] order = Shuffle.permutation(data.size(), BatchLoader.orderSeed(cfg.seed(), 0));
        try (BatchLoader loader = BatchLoader.open(data, views, MASKING, GRID, cfg);
             PointerScope scope = new PointerScope()) {
            Batch batch = loader.next();
            for (int j = 0; j < 8; j++) {
                RgbImage image = cfg.decoder().decode(data.path(order[j]));
                CropBox box = batch.crops().get(j);
                for (int v = 0; v < views.size(); v++) {
                    int s = views.get(v).size();
                    byte[] rgb = new byte[3 * s * s];
                    new Resampler().resizeInto(image, box, s, s, views.get(v).interpolation(), rgb);
                    float[] expected = new float[3 * s * s];
                    new PixelNormalizer(views.get(v).normalization()).toPlanar(rgb, s, s, box.flip(), expected);
                    float[] all = Tensors.toFloats(batch.view(v));
                    assertThat(Arrays.copyOfRange(all, j * 3 * s * s, (j + 1) * 3 * s * s)).as("sample %d view %d", j, v)
                            .containsExactly(expected);
                }
            }
        }
    }

    /** With colour jitter, the jitter is drawn after the mask and applied to the whole image before the crop. */
    @Test
    void colourJitterIsDrawnAfterTheMaskAndAppliedToTheWholeImage() throws Exception {
        ImageDataset data = cifar(3);
        ColorJitter jitter = new ColorJitter(0.4, 0.4, 0.4, 0.1);
        LoaderConfig cfg = config(8).withColorJitter(jitter);
        int[] order = Shuffle.permutation(data.size(), BatchLoader.orderSeed(cfg.seed(), 0));
        ImageDecoder decoder = cfg.decoder();
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, cfg);
             PointerScope scope = new PointerScope()) {
            Batch batch = loader.next();
            for (int j = 0; j < 8; j++) {
                RgbImage image = decoder.decode(data.path(order[j]));
                SplittableRandom rng = new SplittableRandom(BatchLoader.sampleSeed(cfg.seed(), 0, j));
                CropBox box = cfg.crop().sample(image.width(), image.height(), rng).withFlip(rng.nextDouble() < 0.5);
                MASKING.sample(GRID, GRID, rng);
                RgbImage jittered = ColorJitter.apply(image, jitter.sample(rng));
                assertThat(jittered).isNotEqualTo(image);
                for (int v = 0; v < VIEWS.size(); v++) {
                    int s = VIEWS.get(v).size();
                    byte[] rgb = new byte[3 * s * s];
                    new Resampler().resizeInto(jittered, box, s, s, VIEWS.get(v).interpolation(), rgb);
                    float[] expected = new float[3 * s * s];
                    new PixelNormalizer(VIEWS.get(v).normalization()).toPlanar(rgb, s, s, box.flip(), expected);
                    float[] all = Tensors.toFloats(batch.view(v));
                    assertThat(Arrays.copyOfRange(all, j * 3 * s * s, (j + 1) * 3 * s * s)).as("sample %d view %d", j, v)
                            .containsExactly(expected);
                }
            }
        }
    }

    /**
     * Two ranks of a world of 2 see disjoint samples in an epoch, and each sample is augmented as the sample at the
     * same position of the whole permutation is by a single-process loader.
     */
    @Test
    void shardedLoadersSplitEachEpochAndAugmentLikeASingleProcess() {
        ImageDataset data = cifar(3); // 30 images: one process, batch 8 -> 3 batches; two ranks, batch 4 -> 3 each
        List<Snapshot> single = take(data, config(8), 3);
        List<Integer> seen = new ArrayList<>();
        for (int rank = 0; rank < 2; rank++) {
            List<Snapshot> mine = take(data, config(4).withShard(rank, 2), 3);
            for (Snapshot s : mine) {
                assertThat(s.epoch()).isZero();
                for (int j = 0; j < 4; j++) {
                    long global = 2 * (s.batch() * 4 + j) + rank;
                    Snapshot same = single.get((int) (global / 8));
                    int slot = (int) (global % 8);
                    assertThat(s.indices().get(j)).isEqualTo(same.indices().get(slot));
                    assertThat(s.crops().get(j)).isEqualTo(same.crops().get(slot));
                    int n = 3 * 24 * 24;
                    assertThat(Arrays.copyOfRange(s.views().get(0), j * n, (j + 1) * n))
                            .containsExactly(Arrays.copyOfRange(same.views().get(0), slot * n, (slot + 1) * n));
                }
                seen.addAll(s.indices());
            }
        }
        assertThat(seen).hasSize(24).doesNotHaveDuplicates();
        assertThatThrownBy(() -> BatchLoader.open(data, VIEWS, MASKING, GRID, config(16).withShard(0, 2)))
                .isInstanceOf(DataException.class)
                .hasMessage("test list of 30 files shared by 2 processes gives each 15 images, fewer than one batch of 16");
    }

    /**
     * The student's and the teacher's views show the same region: on an image of four coloured quadrants, each
     * colour covers the same share of both views, at the same place, mirrored alike.
     */
    @Test
    void allViewsOfASampleComeFromTheSameCrop(@TempDir Path dir) throws IOException {
        int w = 64, h = 48;
        int[] colours = {0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF};
        BufferedImage quadrants = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) quadrants.setRGB(x, y, colours[(y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1)]);
        }
        Path file = dir.resolve("quadrants.png");
        ImageIO.write(quadrants, "png", file.toFile());
        ImageDataset data = new ListDataset(Collections.nCopies(16, file), null);
        List<ViewSpec> views = List.of(new ViewSpec(40, Interpolation.BICUBIC, ImageNormalization.IMAGENET),
                new ViewSpec(20, Interpolation.BILINEAR, ImageNormalization.DALLE));
        try (BatchLoader loader = BatchLoader.open(data, views, MASKING, GRID, config(16));
             PointerScope scope = new PointerScope()) {
            Batch batch = loader.next();
            Set<Boolean> flips = new HashSet<>();
            for (int j = 0; j < 16; j++) {
                CropBox box = batch.crops().get(j);
                flips.add(box.flip());
                double[][] big = colourShares(batch, 0, views.get(0), j, colours);
                double[][] small = colourShares(batch, 1, views.get(1), j, colours);
                for (int c = 0; c < 4; c++) {
                    double[] expected = expectedShareAndCentre(box, c, w, h);
                    assertThat(big[c][0]).as("share of colour %d, sample %d, view 0", c, j).isCloseTo(expected[0], within(0.06));
                    assertThat(small[c][0]).as("share of colour %d, sample %d, view 1", c, j).isCloseTo(expected[0], within(0.1));
                    if (expected[0] > 0.1) {
                        assertThat(big[c][1]).as("centre x of colour %d, sample %d, view 0", c, j).isCloseTo(expected[1], within(0.05));
                        assertThat(small[c][1]).as("centre x of colour %d, sample %d, view 1", c, j).isCloseTo(expected[1], within(0.08));
                    }
                }
            }
            assertThat(flips).containsExactlyInAnyOrder(true, false);
        }
    }

    private static org.assertj.core.data.Offset<Double> within(double d) {
        return org.assertj.core.data.Offset.offset(d);
    }

    /** Per colour: its share of the view's pixels and the mean x of those pixels in [0, 1]. */
    private static double[][] colourShares(Batch batch, int viewIndex, ViewSpec view, int sample, int[] colours) {
        int s = view.size();
        float[] all = Tensors.toFloats(batch.view(viewIndex));
        float[] scale = view.normalization().scale(), offset = view.normalization().offset();
        double[][] out = new double[4][2];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int[] rgb = new int[3];
                for (int c = 0; c < 3; c++) {
                    float value = all[((sample * 3 + c) * s + y) * s + x];
                    rgb[c] = Math.round((value - offset[c]) / scale[c] * 255);
                }
                int nearest = 0;
                long best = Long.MAX_VALUE;
                for (int k = 0; k < 4; k++) {
                    long d = 0;
                    for (int c = 0; c < 3; c++) {
                        int diff = rgb[c] - ((colours[k] >> (16 - 8 * c)) & 0xFF);
                        d += (long) diff * diff;
                    }
                    if (d < best) {
                        best = d;
                        nearest = k;
                    }
                }
                out[nearest][0] += 1;
                out[nearest][1] += (x + 0.5) / s;
            }
        }
        for (double[] o : out) {
            if (o[0] > 0) o[1] /= o[0];
            o[0] /= (double) s * s;
        }
        return out;
    }

    /**
     * The share of crop {@code box} covered by quadrant {@code c} (0 top-left, 1 top-right, 2 bottom-left,
     * 3 bottom-right) and the mean x of that part in the view, in [0, 1], mirrored when the box is flipped.
     */
    private static double[] expectedShareAndCentre(CropBox box, int c, int w, int h) {
        int x0 = Math.max(c % 2 == 0 ? 0 : w / 2, box.left());
        int x1 = Math.min(c % 2 == 0 ? w / 2 : w, box.left() + box.width());
        int y0 = Math.max(c < 2 ? 0 : h / 2, box.top());
        int y1 = Math.min(c < 2 ? h / 2 : h, box.top() + box.height());
        if (x1 <= x0 || y1 <= y0) return new double[] {0, 0};
        double share = (double) (x1 - x0) * (y1 - y0) / ((double) box.width() * box.height());
        double centre = ((x0 + x1) / 2.0 - box.left()) / box.width();
        return new double[] {share, box.flip() ? 1 - centre : centre};
    }

    @Test
    void undecodableFilesAreSkippedWithOneWarningEachAndBatchesStayFull(@TempDir Path dir) throws IOException {
        ImageDataset good = cifar(3);
        for (int i = 0; i < good.size(); i++) Files.copy(good.path(i), dir.resolve(String.format("img%02d.jpg", i)));
        for (String bad : List.of("empty.jpg", "text.jpg", "truncated.jpg")) {
            Files.copy(Fixtures.data("decode/" + bad), dir.resolve("zz_" + bad));
        }
        ImageFolder data = ImageFolder.open(dir); // 33 files; the last three are bad
        Set<Integer> badIndices = Set.of(30, 31, 32);
        List<String> warnings = new CopyOnWriteArrayList<>();
        LoaderConfig cfg = config(8).withMaxBadFraction(0.2).withWarnings(warnings::add).withThreads(3, 2);
        List<Snapshot> batches = take(data, cfg, 12); // three epochs of 4 batches
        for (Snapshot s : batches) {
            assertThat(s.indices()).hasSize(8).doesNotContainAnyElementsOf(badIndices);
        }
        assertThat(warnings).hasSize(3);
        for (String bad : List.of("zz_empty.jpg: empty file", "zz_text.jpg: not a JPEG or PNG", "zz_truncated.jpg: truncated JPEG")) {
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains(dir.resolve(bad.substring(0, bad.indexOf(':'))).toString()).contains(bad));
        }
        // the replacements are part of the deterministic sequence
        List<Snapshot> again = take(data, cfg.withThreads(1, 1).withWarnings(w -> {}), 12);
        for (int i = 0; i < again.size(); i++) again.get(i).assertSameAs(batches.get(i));
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, cfg.withWarnings(w -> {}))) {
            for (int i = 0; i < 8; i++) {
                try (PointerScope scope = new PointerScope()) {
                    loader.next();
                }
            }
            assertThat(loader.badFiles()).isEqualTo(3);
        }
    }

    @Test
    void tooManyBadFilesStopTheLoaderWithAClearMessage(@TempDir Path dir) throws IOException {
        ImageDataset good = cifar(3);
        for (int i = 0; i < good.size(); i++) Files.copy(good.path(i), dir.resolve(String.format("img%02d.jpg", i)));
        for (int i = 0; i < 3; i++) Files.writeString(dir.resolve("zz_bad" + i + ".jpg"), "not an image");
        ImageFolder data = ImageFolder.open(dir);
        LoaderConfig cfg = config(8).withMaxBadFraction(0.05).withWarnings(w -> {});
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, cfg)) {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 20; i++) {
                    try (PointerScope scope = new PointerScope()) {
                        loader.next();
                    }
                }
            }).isInstanceOf(DataException.class)
                    // 2 bad files are already more than 0.05 x 33: the dataset's fraction is exceeded, whatever was tried
                    .hasMessageMatching("2 of the 33 images of the dataset could not be decoded, "
                            + "more than maxBadFraction 0\\.05 allows \\(\\d+ tried so far\\), in .*; last: .*zz_bad.*");
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class).hasMessageContaining("could not be decoded");
        }
        Path allBad = Files.createDirectory(dir.resolve("allbad"));
        for (int i = 0; i < 4; i++) Files.writeString(allBad.resolve("bad" + i + ".png"), "");
        try (BatchLoader loader = BatchLoader.open(ImageFolder.open(allBad), VIEWS, MASKING, GRID,
                cfg.withBatchSize(2).withMaxBadFraction(1.0))) {
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class)
                    .hasMessageContaining("none of the 4 images of ImageFolder " + allBad + ": 4 images");
        }
    }

    @Test
    void aShortRunStopsAsSoonAsTheBadFilesExceedTheFractionOfTheWholeDataset(@TempDir Path dir) throws IOException {
        // 20 undecodable files of 25: a run of 3 batches of 4 tries fewer than 25 files, so the estimate over the files
        // tried (judged after min(100, 25) of them) never speaks; 3 bad files are already more than 0.1 x 25
        ImageDataset good = cifar(1);
        Path bad = Files.writeString(dir.resolve("bad.jpg"), "not an image");
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 25; i++) files.add(i < 5 ? good.path(i) : bad);
        ImageDataset data = new ListDataset(files, null);
        LoaderConfig cfg = config(4).withMaxBadFraction(0.1).withWarnings(w -> {}).withThreads(1, 1);
        try (BatchLoader loader = BatchLoader.open(data, VIEWS, MASKING, GRID, cfg)) {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 3; i++) {
                    try (PointerScope scope = new PointerScope()) {
                        loader.next();
                    }
                }
            }).isInstanceOf(DataException.class)
                    .hasMessageMatching("3 of the 25 images of the dataset could not be decoded, "
                            + "more than maxBadFraction 0\\.1 allows \\(\\d+ tried so far\\), in .*; last: .*bad\\.jpg.*");
        }
        // at the limit itself (2 bad of 25 is not more than 0.1 x 25) the run goes on
        List<Path> two = new ArrayList<>(Collections.nCopies(23, good.path(0)));
        two.addAll(List.of(bad, bad));
        assertThat(take(new ListDataset(two, null), cfg, 12)).hasSize(12);
    }

    @Test
    void theEstimateOverTheFilesTriedStillStopsALargeDatasetEarly(@TempDir Path dir) throws IOException {
        // 150 files, 15 bad: not more than 0.1 x 150, so only the estimate can stop the loader. The bad ones are the
        // first 15 of epoch 0's order: after 100 files tried, 15 > 0.1 x 100
        ImageDataset good = cifar(1);
        Path bad = Files.writeString(dir.resolve("bad.jpg"), "not an image");
        LoaderConfig cfg = config(10).withMaxBadFraction(0.1).withWarnings(w -> {}).withThreads(1, 1);
        int[] order = BatchLoader.epochOrder(150, cfg.seed(), 0, 0, 1);
        List<Path> files = new ArrayList<>(Collections.nCopies(150, good.path(0)));
        for (int i = 0; i < 15; i++) files.set(order[i], bad);
        try (BatchLoader loader = BatchLoader.open(new ListDataset(files, null), VIEWS, MASKING, GRID, cfg)) {
            assertThatThrownBy(() -> {
                for (int i = 0; i < 15; i++) {
                    try (PointerScope scope = new PointerScope()) {
                        loader.next();
                    }
                }
            }).isInstanceOf(DataException.class)
                    .hasMessageStartingWith("15 of the 100 images tried so far could not be decoded, more than maxBadFraction 0.1");
        }
    }

    @Test
    void aWorkerFailureSurfacesFromNextNamingTheFile() {
        AtomicInteger calls = new AtomicInteger();
        MaskingStrategy failing = new MaskingStrategy() {
            @Override public String name() {
                return "failing";
            }

            @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
                if (calls.incrementAndGet() == 5) throw new IllegalStateException("boom");
                return new boolean[rows * cols];
            }
        };
        try (BatchLoader loader = BatchLoader.open(cifar(3), VIEWS, failing, GRID, config(8).withThreads(1, 1))) {
            assertThatThrownBy(() -> {
                try (PointerScope scope = new PointerScope()) {
                    loader.next();
                }
            }).isInstanceOf(DataException.class).hasMessageContaining("data worker failed on ")
                    .hasMessageContaining("cifar10/train/").hasMessageContaining("boom")
                    .hasRootCauseInstanceOf(IllegalStateException.class);
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class).hasMessageContaining("boom");
        }
        MaskingStrategy wrongSize = new MaskingStrategy() {
            @Override public String name() {
                return "wrong-size";
            }

            @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
                return new boolean[3];
            }
        };
        try (BatchLoader loader = BatchLoader.open(cifar(3), VIEWS, wrongSize, GRID, config(8))) {
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class)
                    .hasMessageContaining("masking wrong-size returned 3 flags for a 4x4 grid");
        }
    }

    /** libtorch's deleter fires for every tensor when its scope closes, and the pool never grows past its bound. */
    @Test
    void theDeleterReturnsEveryBufferAndThePoolStaysBounded() {
        try (BatchLoader loader = BatchLoader.open(cifar(3), VIEWS, MASKING, GRID, config(8).withThreads(2, 2))) {
            BlockPool pool = loader.pool();
            for (int i = 0; i < 50; i++) {
                try (PointerScope scope = new PointerScope()) {
                    Batch b = loader.next();
                    // use the tensors the way a training step does: ops whose results live in the same scope
                    assertThat(b.view(0).mean().item_float()).isFinite();
                    assertThat(b.mask().sum().item_long()).isEqualTo(8L * Math.round(0.4 * GRID * GRID));
                }
                assertThat(pool.deleterCalls()).as("deleter calls after %d batches", i + 1).isEqualTo(3L * (i + 1));
                assertThat(pool.allocated()).isLessThanOrEqualTo(2 + 2);
            }
        }
    }

    @Test
    void holdingEveryBufferFailsWithAMessageInsteadOfGrowing() {
        try (BatchLoader loader = BatchLoader.open(cifar(3), VIEWS, MASKING, GRID, config(8).withThreads(1, 1));
             PointerScope scope = new PointerScope()) {
            loader.stallTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(500);
            loader.next();
            loader.next();
            loader.next(); // prefetch 1 + 2 held: the third batch in hand exhausts the pool
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class)
                    .hasMessageStartingWith("all 3 batch buffers are still used by tensors of earlier batches");
            assertThat(loader.pool().allocated()).isEqualTo(3);
        }
    }

    @Test
    void closeStopsTheWorkersAndFreesMemoryOnceTensorsAreReleased() {
        BatchLoader loader = BatchLoader.open(cifar(3), VIEWS, MASKING, GRID, config(8).withThreads(2, 3));
        BlockPool pool = loader.pool();
        try (PointerScope scope = new PointerScope()) {
            Batch kept = loader.next();
            float before = kept.view(1).sum().item_float();
            loader.close();
            assertThat(pool.allocated()).as("only the batch still in use keeps memory").isEqualTo(1);
            assertThat(kept.view(1).sum().item_float()).isEqualTo(before);
            assertThatThrownBy(loader::next).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
        assertThat(pool.allocated()).isZero();
        loader.close(); // idempotent
    }

    @Test
    void rejectsADatasetSmallerThanOneBatch() {
        ImageDataset tiny = cifar(1); // 10 images
        assertThatThrownBy(() -> BatchLoader.open(tiny, VIEWS, MASKING, GRID, config(16)))
                .isInstanceOf(DataException.class).hasMessage("test list of 10 files has fewer images than one batch of 16");
    }
}
