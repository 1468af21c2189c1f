package dev.mvp.data;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.Tensors;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link BatchLoader#evaluation}: every image once, in order, through the evaluation transform, as torchvision. */
class EvalLoaderTest {
    private static final EvalTransform CIFAR = EvalTransform.standard(32); // resize to 36, centre crop 32

    /** What one evaluation batch held. */
    record Taken(long batch, int[] indices, int[] labels, List<Path> paths, float[] pixels, int size) {
        float[] sample(int i) {
            int per = 3 * size * size;
            return Arrays.copyOfRange(pixels, i * per, (i + 1) * per);
        }
    }

    /** Runs a whole evaluation pass and copies every batch out (each in its own scope, as a caller should). */
    static List<Taken> pass(ImageDataset data, EvalTransform t, LoaderConfig config) {
        List<Taken> out = new ArrayList<>();
        try (BatchLoader loader = BatchLoader.evaluation(data, t, config)) {
            assertThat(loader.isEvaluation()).isTrue();
            while (loader.hasNext()) {
                try (PointerScope scope = new PointerScope()) {
                    Batch b = loader.next();
                    assertThat(b.viewCount()).isEqualTo(1);
                    assertThat(b.hasMask()).isFalse();
                    assertThat(Tensors.shape(b.view(0))).containsExactly(b.size(), 3, t.size(), t.size());
                    out.add(new Taken(b.batchInEpoch(), b.sampleIndices(), b.labels(), List.copyOf(b.paths()),
                            Tensors.toFloats(b.view(0)), t.size()));
                }
            }
            assertThatThrownBy(loader::next).isInstanceOf(NoSuchElementException.class);
            assertThat(loader.hasNext()).isFalse();
        }
        return out;
    }

    static LoaderConfig config(int batchSize, int workers) {
        return LoaderConfig.defaults().withBatchSize(batchSize).withThreads(workers, 2)
                .withWarnings(w -> { throw new AssertionError("unexpected warning: " + w); });
    }

    /** The first {@code perClass} CIFAR-10 test images of each class, as a file list with class names. */
    static FileListDataset cifarList(Path dir, int perClass) throws Exception {
        Path root = TestPaths.sharedData().resolve("cifar10/test");
        StringBuilder lines = new StringBuilder("# CIFAR-10 test images\n");
        for (String c : List.of("airplane", "cat", "ship")) {
            for (int i = 0; i < perClass; i++) lines.append(root.resolve(c).resolve(String.format("%04d.jpg", i))).append('\t').append(c).append('\n');
        }
        return FileListDataset.open(Files.writeString(dir.resolve("cifar.txt"), lines));
    }

    /** The torchvision reference of tools/fixtures/make_eval_loader_fixtures.py, CRC by CRC, through the loader. */
    @Test
    void batchesEqualTorchvisionsEvaluationInputsOnRealImages(@TempDir Path dir) throws Exception {
        assumeTrue(TurboJpegDecoder.available(), () -> "libturbojpeg not installed: " + TurboJpegDecoder.unavailableReason().orElse(""));
        assertThat(ImageDecoders.nameOf(LoaderConfig.defaults().decoder())).as("the default decoder").isEqualTo("turbojpeg");
        List<String[]> rows = Fixtures.table("eval/loader.tsv");
        for (int size : new int[] {224, 32}) {
            List<String[]> mine = rows.stream().filter(r -> Integer.parseInt(r[1]) == size).toList();
            StringBuilder list = new StringBuilder();
            for (String[] r : mine) list.append(TestPaths.sharedData().resolve(r[0])).append('\n');
            ImageDataset data = FileListDataset.open(Files.writeString(dir.resolve("list" + size + ".txt"), list));
            EvalTransform t = new EvalTransform(size, Double.parseDouble(mine.get(0)[2]), Interpolation.BICUBIC, ImageNormalization.IMAGENET);
            List<Taken> batches = pass(data, t, config(2, 2));
            assertThat(batches).hasSize((mine.size() + 1) / 2);
            int k = 0;
            for (Taken b : batches) {
                for (int i = 0; i < b.indices().length; i++, k++) {
                    assertThat(b.indices()[i]).isEqualTo(k);
                    assertThat(crc(b.sample(i))).as(mine.get(k)[0]).isEqualTo(mine.get(k)[3]);
                }
            }
            assertThat(k).isEqualTo(mine.size());
        }
    }

    /**
     * ImageIO (libjpeg 6b) and libjpeg-turbo give the same inputs except on 4:4:0 JPEGs, which 6b upsamples by
     * replication: on the one in imagenet-sample the evaluation input differs by at most 4 levels of the 8-bit crop
     * (0.0685 after ImageNet normalisation) and the other images are equal.
     */
    @Test
    void imageIoDiffersFromTorchvisionOnlyOnTheFourFourZeroJpeg(@TempDir Path dir) throws Exception {
        List<String[]> rows = Fixtures.table("eval/loader.tsv").stream().filter(r -> r[1].equals("224")).toList();
        StringBuilder list = new StringBuilder();
        for (String[] r : rows) list.append(TestPaths.sharedData().resolve(r[0])).append('\n');
        ImageDataset data = FileListDataset.open(Files.writeString(dir.resolve("list.txt"), list));
        EvalTransform t = EvalTransform.standard(224);
        List<Taken> batches = pass(data, t, config(8, 1).withDecoder(ImageDecoders.named("imageio")));
        Taken b = batches.getFirst();
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i)[0].contains("grocery_store")) {
                assertThat(crc(b.sample(i))).isNotEqualTo(rows.get(i)[3]);
                RgbImage io = t.crop(new ImageIoDecoder().decode(data.path(i)));
                float[] expected = new float[3 * 224 * 224];
                t.toPlanar(io, expected, 0);
                assertThat(b.sample(i)).containsExactly(expected);
                if (TurboJpegDecoder.available()) {
                    RgbImage turbo = t.crop(new TurboJpegDecoder().decode(data.path(i)));
                    assertThat(Fixtures.maxDifference(io, turbo)).isEqualTo(4);
                }
            } else {
                assertThat(crc(b.sample(i))).as(rows.get(i)[0]).isEqualTo(rows.get(i)[3]);
            }
        }
    }

    @Test
    void everyImageOnceInDatasetOrderWithTheLastPartialBatch(@TempDir Path dir) throws Exception {
        FileListDataset data = cifarList(dir, 10); // 30 images, 3 classes
        List<Taken> one = pass(data, CIFAR, config(8, 1));
        List<Taken> three = pass(data, CIFAR, config(8, 3));
        assertThat(one).extracting(t -> t.indices().length).containsExactly(8, 8, 8, 6);
        assertThat(one).extracting(Taken::batch).containsExactly(0L, 1L, 2L, 3L);
        int k = 0;
        ImageDecoder decoder = ImageDecoders.fastest();
        for (int b = 0; b < one.size(); b++) {
            Taken t = one.get(b);
            assertThat(t.pixels()).as("batch %d with 3 workers", b).containsExactly(three.get(b).pixels());
            for (int i = 0; i < t.indices().length; i++, k++) {
                assertThat(t.indices()[i]).isEqualTo(k);
                assertThat(t.labels()[i]).isEqualTo(data.label(k)).isEqualTo(k / 10);
                assertThat(t.paths().get(i)).isEqualTo(data.path(k));
                float[] expected = new float[3 * 32 * 32];
                CIFAR.apply(decoder.decode(data.path(k)), expected);
                assertThat(t.sample(i)).as("image %d", k).containsExactly(expected);
            }
        }
        assertThat(k).isEqualTo(30);
        assertThat(data.classes()).containsExactly("airplane", "cat", "ship");
    }

    @Test
    void undecodableFilesAreLeftOutWarnedAndCountedNeverReplaced(@TempDir Path dir) throws Exception {
        Path root = TestPaths.sharedData().resolve("cifar10/test/cat");
        for (int i = 0; i < 7; i++) Files.copy(root.resolve(String.format("%04d.jpg", i)), dir.resolve(String.format("a%02d.jpg", i)));
        Files.copy(Fixtures.data("decode/text.jpg"), dir.resolve("a03x_text.jpg"));      // index 4: inside batch 1
        for (String bad : List.of("empty.jpg", "truncated.jpg", "text.jpg")) {           // indices 8-10: all of batch 2
            Files.copy(Fixtures.data("decode/" + bad), dir.resolve("zz_" + bad));
        }
        ImageFolder data = ImageFolder.open(dir); // 11 files, 4 bad
        List<String> warnings = new CopyOnWriteArrayList<>();
        LoaderConfig cfg = config(4, 2).withMaxBadFraction(0.5).withWarnings(warnings::add);
        List<Taken> batches;
        long bad;
        try (BatchLoader loader = BatchLoader.evaluation(data, CIFAR, cfg)) {
            assertThat(loader.batchesPerEpoch()).isEqualTo(3);
            batches = new ArrayList<>();
            while (loader.hasNext()) {
                try (PointerScope scope = new PointerScope()) {
                    Batch b = loader.next();
                    batches.add(new Taken(b.batchInEpoch(), b.sampleIndices(), b.labels(), List.copyOf(b.paths()),
                            Tensors.toFloats(b.view(0)), 32));
                }
            }
            bad = loader.badFiles();
        }
        assertThat(bad).isEqualTo(4);
        assertThat(warnings).hasSize(4).allSatisfy(w -> assertThat(w).startsWith("skipping undecodable image " + dir));
        // batch 2 held only bad files: not returned; batch 1 is one image short; nothing is seen twice
        assertThat(batches).extracting(Taken::batch).containsExactly(0L, 1L);
        assertThat(batches.get(0).indices()).containsExactly(0, 1, 2, 3);
        assertThat(batches.get(1).indices()).containsExactly(5, 6, 7);
        ImageDecoder decoder = ImageDecoders.fastest();
        Taken second = batches.get(1);
        for (int i = 0; i < 3; i++) {
            assertThat(second.paths().get(i)).isEqualTo(data.path(second.indices()[i]));
            float[] expected = new float[3 * 32 * 32];
            CIFAR.apply(decoder.decode(data.path(second.indices()[i])), expected);
            assertThat(second.sample(i)).as("image %d moved to slot %d", second.indices()[i], i).containsExactly(expected);
        }

        try (BatchLoader strict = BatchLoader.evaluation(data, CIFAR, cfg.withMaxBadFraction(0.1).withWarnings(w -> {}))) {
            assertThatThrownBy(() -> {
                while (strict.hasNext()) {
                    try (PointerScope scope = new PointerScope()) {
                        strict.next();
                    }
                }
            }).isInstanceOf(DataException.class).hasMessageContaining("could not be decoded, more than maxBadFraction 0.1");
        }
    }

    @Test
    void shardsTakeEveryWorldSizethImageAndTogetherCoverTheDataset(@TempDir Path dir) throws Exception {
        FileListDataset data = cifarList(dir, 10); // 30 images: not a multiple of 4
        List<Integer> seen = new ArrayList<>();
        for (int rank = 0; rank < 4; rank++) {
            List<Taken> batches = pass(data, CIFAR, config(3, 2).withShard(rank, 4));
            List<Integer> mine = new ArrayList<>();
            for (Taken t : batches) for (int i : t.indices()) mine.add(i);
            assertThat(mine).hasSize(rank < 2 ? 8 : 7);
            for (int j = 0; j < mine.size(); j++) assertThat(mine.get(j)).isEqualTo(rank + 4 * j);
            seen.addAll(mine);
        }
        assertThat(seen).hasSize(30).doesNotHaveDuplicates();
    }

    @Test
    void batchMemoryReturnsToTheBoundedPoolAndEvaluationBatchesHaveNoMask(@TempDir Path dir) throws Exception {
        FileListDataset data = cifarList(dir, 10);
        try (BatchLoader loader = BatchLoader.evaluation(data, CIFAR, config(2, 2))) {
            BlockPool pool = loader.pool();
            int n = 0;
            while (loader.hasNext()) {
                try (PointerScope scope = new PointerScope()) {
                    Batch b = loader.next();
                    assertThatThrownBy(b::mask).isInstanceOf(IllegalStateException.class).hasMessage("an evaluation batch has no mask");
                    assertThat(b.crops()).isEmpty();
                    assertThat(b.epoch()).isZero();
                }
                n++;
                assertThat(pool.deleterCalls()).isEqualTo(n);
                assertThat(pool.allocated()).isLessThanOrEqualTo(2 + 2);
            }
            assertThat(n).isEqualTo(15);
        }
        ImageDataset empty = data.shard(0, 40).shard(0, 2).shard(1, 2); // no image
        assertThat(empty.size()).isZero();
        assertThat(pass(empty, CIFAR, config(4, 1))).isEmpty();
    }

    private static String crc(float[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) bytes.putFloat(v);
        CRC32 crc = new CRC32();
        crc.update(bytes.array());
        return String.format("%08x", crc.getValue());
    }
}
