package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.ViewSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageFolder;
import dev.mvp.data.ImageIoDecoder;
import dev.mvp.data.TurboJpegDecoder;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import dev.mvp.tokenizers.ClipTokenizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Teacher targets cached once for a dataset (24 CIFAR-10 images, the random CLIP teacher at 32x32). */
@Tag("e2e")
class TargetCacheTest {

    private static Path images(Path dir, int count) throws Exception {
        Path cat = Files.createDirectories(dir.resolve("cat"));
        try (var files = Files.list(TestPaths.sharedData().resolve("cifar10/test/cat"))) {
            for (Path f : files.sorted().limit(count).toList()) Files.copy(f, cat.resolve(f.getFileName()));
        }
        return dir;
    }

    private static PretrainConfig config(Path data, Path out) {
        return PretrainConfig.builder(data, out).imageSize(32).patchSize(8).batchSize(4).steps(4).warmupSteps(1)
                .lr(1e-3).threads(1).workers(1).checkpointEveryEpochs(0).build();
    }

    private static List<StepMetrics> run(PretrainConfig config, TargetCache cache, boolean fixedCrops) {
        List<StepMetrics> steps = new ArrayList<>();
        Recipe recipe = Recipes.mvp(config);
        RunListener listener = new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                steps.add(m);
            }
        };
        Pretrainer.run(config, recipe, BatchSource.images(ImageFolder.open(config.data()), config, recipe,
                listener::warning, cache, fixedCrops), null, listener, Pretrainer.Faults.NONE);
        return steps;
    }

    @Test
    void cachedTargetsAreTheTeachersAndTrainTheSameWay(@TempDir Path tmp) throws Exception {
        Path data = images(tmp.resolve("data"), 24);
        PretrainConfig config = config(data, tmp.resolve("run"));
        ImageDataset dataset = ImageFolder.open(data);
        Tokenizer teacher = Recipes.teacher(config);
        List<String> progress = new ArrayList<>();
        try (TargetCache cache = TargetCache.build(tmp.resolve("cache"), teacher, dataset, false, 2, progress::add)) {
            assertThat(cache.size()).isEqualTo(24);
            assertThat(progress).last().asString().contains("24 of 24");
            assertThat(tmp.resolve("cache/cache.json")).isRegularFile();

            // the cached targets of a fixed-crop batch are the teacher's targets of that batch's teacher view
            Recipe recipe = Recipes.mvp(config);
            try (BatchSource source = BatchSource.images(dataset, config, recipe, s -> {}, null, true).open(0, 0);
                 PointerScope scope = new PointerScope()) {
                for (int b = 0; b < 3; b++) {
                    BatchSource.Item item = source.next();
                    Tensor expected;
                    try (NoGradGuard g = new NoGradGuard()) {
                        expected = teacher.targets(item.teacherView());
                    }
                    Tensor cached = cache.targets(item.sampleIndices());
                    assertThat(TensorAssert.maxAbsDiff(cached, expected)).as("batch " + b).isLessThan(1e-5);
                }
            }
            List<StepMetrics> withCache = run(config, cache, true);
            List<StepMetrics> withTeacher = run(config.toBuilder().out(tmp.resolve("run2")).build(), null, true);
            assertThat(withCache).hasSize(4);
            for (int i = 0; i < 4; i++) {
                assertThat(withCache.get(i).loss()).as("loss at step " + (i + 1))
                        .isCloseTo(withTeacher.get(i).loss(), within(1e-5));
            }
        }
        // reopening checks the teacher and the dataset
        try (TargetCache again = TargetCache.openOrBuild(tmp.resolve("cache"), teacher, dataset, false, 2, progress::add)) {
            assertThat(again.size()).isEqualTo(24);
        }
        ClipTokenizer seed1 = ClipTokenizer.random(1, 32, 8);
        assertThatThrownBy(() -> TargetCache.open(tmp.resolve("cache"), seed1, dataset))
                .hasMessageContaining(tmp.resolve("cache").toString()).hasMessageContaining("was made by teacher");
        // other weights under the same name: the probe batch tells them apart
        Tokenizer impostor = new Tokenizer() {
            @Override public String name() { return teacher.name(); }
            @Override public ViewSpec inputSpec() { return seed1.inputSpec(); }
            @Override public TargetSpec targetSpec() { return seed1.targetSpec(); }
            @Override public int gridSize() { return seed1.gridSize(); }
            @Override public Tensor targets(Tensor images) { return seed1.targets(images); }
        };
        assertThatThrownBy(() -> TargetCache.open(tmp.resolve("cache"), impostor, dataset))
                .hasMessageContaining(tmp.resolve("cache").toString()).hasMessageContaining("other weights");
        Files.copy(TestPaths.sharedData().resolve("cifar10/test/dog/0000.jpg"), data.resolve("cat/zz-extra.jpg"));
        assertThatThrownBy(() -> TargetCache.open(tmp.resolve("cache"), teacher, ImageFolder.open(data)))
                .hasMessageContaining("24 images, the dataset 25");
        Files.delete(data.resolve("cat/zz-extra.jpg"));
        Path first = Files.list(data.resolve("cat")).sorted().findFirst().orElseThrow();
        Files.write(first, Files.readAllBytes(TestPaths.sharedData().resolve("cifar10/test/dog/0000.jpg")));
        assertThatThrownBy(() -> TargetCache.open(tmp.resolve("cache"), teacher, ImageFolder.open(data)))
                .hasMessageContaining("another dataset");
    }

    @Test
    void theSameTeacherFileAtAnotherPathOpensTheCache(@TempDir Path tmp) throws Exception {
        Path data = images(tmp.resolve("data"), 4);
        Path fixture = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors");
        Path first = Files.copy(fixture, Files.createDirectories(tmp.resolve("a")).resolve("clip.safetensors"));
        Path moved = Files.copy(fixture, Files.createDirectories(tmp.resolve("b")).resolve("renamed.safetensors"));
        ImageDataset dataset = ImageFolder.open(data);
        ClipTokenizer teacher = ClipTokenizer.load(first);
        try (TargetCache built = TargetCache.build(tmp.resolve("cache"), teacher, dataset, false, 1, m -> {})) {
            assertThat(built.size()).isEqualTo(4);
        }
        ClipTokenizer same = ClipTokenizer.load(moved);
        assertThat(same.name()).isNotEqualTo(teacher.name()); // the names hold the paths
        try (TargetCache again = TargetCache.open(tmp.resolve("cache"), same, dataset)) {
            assertThat(again.size()).isEqualTo(4);
        }
        // one weight changed in the copy: other targets, refused naming both teachers
        byte[] bytes = Files.readAllBytes(moved);
        bytes[bytes.length - 2] ^= 0x40;
        Path other = Files.write(tmp.resolve("b/other.safetensors"), bytes);
        ClipTokenizer changed = ClipTokenizer.load(other);
        assertThatThrownBy(() -> TargetCache.open(tmp.resolve("cache"), changed, dataset))
                .hasMessageContaining("was made by teacher '" + teacher.name() + "', not '" + changed.name() + "'")
                .hasMessageContaining("probe batch differ by");
    }

    @Test
    void theDecoderIsPartOfTheCachesIdentity(@TempDir Path tmp) throws Exception {
        assumeTrue(TurboJpegDecoder.available(), () -> "libturbojpeg not installed: " + TurboJpegDecoder.unavailableReason().orElse(""));
        Path data = images(tmp.resolve("data"), 4);
        PretrainConfig config = config(data, tmp.resolve("run"));
        ImageDataset dataset = ImageFolder.open(data);
        Tokenizer teacher = Recipes.teacher(config);
        Path dir = tmp.resolve("cache");
        try (TargetCache built = TargetCache.build(dir, teacher, dataset, false, 1, new ImageIoDecoder(), s -> {})) {
            assertThat(built.manifest().decoder()).isEqualTo("imageio");
        }
        String json = Files.readString(dir.resolve("cache.json"));
        assertThat(json).contains("\"format\" : 2", "\"decoder\" : \"imageio\"");
        try (TargetCache same = TargetCache.open(dir, teacher, dataset, new ImageIoDecoder())) {
            assertThat(same.size()).isEqualTo(4);
        }
        // another decoder: one line naming both and the flag; openOrBuild does not rebuild over it
        assertThatThrownBy(() -> TargetCache.openOrBuild(dir, teacher, dataset, false, 1, new TurboJpegDecoder(), s -> {}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("teacher cache " + dir + " was made with decoder imageio, this run decodes with turbojpeg: pass"
                        + " --decoder imageio (or choose another --teacher-cache folder)");
        // a cache written before the decoder was recorded (format 1, no decoder field) is refused, not trusted
        Files.writeString(dir.resolve("cache.json"), json.replace("\"format\" : 2", "\"format\" : 1")
                .replace("\"decoder\" : \"imageio\",", ""));
        assertThatThrownBy(() -> TargetCache.open(dir, teacher, dataset, new ImageIoDecoder()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has format 1, which does not record the image decoder")
                .hasMessageContaining("delete " + dir);
    }

    @Test
    void halfPrecisionCachesRoundTheTargetsOnly(@TempDir Path tmp) throws Exception {
        Path data = images(tmp.resolve("data"), 8);
        PretrainConfig config = config(data, tmp.resolve("run"));
        ImageDataset dataset = ImageFolder.open(data);
        Tokenizer teacher = Recipes.teacher(config);
        try (TargetCache full = TargetCache.build(tmp.resolve("fp32"), teacher, dataset, false, 1, s -> {});
             TargetCache half = TargetCache.build(tmp.resolve("fp16"), teacher, dataset, true, 1, s -> {});
             PointerScope scope = new PointerScope()) {
            assertThat(half.manifest().dtype()).isEqualTo("float16");
            int[] all = {0, 1, 2, 3, 4, 5, 6, 7};
            Tensor a = full.targets(all), b = half.targets(all);
            double scale = a.abs().max().item_double();
            double diff = TensorAssert.maxAbsDiff(a, b);
            assertThat(diff).isPositive().isLessThan(scale * 1e-3);
        }
    }

    @Test
    void nonFiniteTargetsInAShardStopTheRunNamingItAtFirstRead(@TempDir Path tmp) throws Exception {
        Path data = images(tmp.resolve("data"), 4);
        PretrainConfig config = config(data, tmp.resolve("run"));
        ImageDataset dataset = ImageFolder.open(data);
        Tokenizer teacher = Recipes.teacher(config);
        Path dir = tmp.resolve("cache");
        TargetCache.build(dir, teacher, dataset, false, 1, s -> {}).close();
        Path shard = dir.resolve("shard-00000.safetensors");
        try (PointerScope scope = new PointerScope()) {
            java.util.Map<String, Tensor> tensors = new java.util.LinkedHashMap<>();
            try (var f = dev.mvp.models.io.SafeTensorsFile.open(shard)) {
                Tensor targets = f.tensor("targets").clone();
                targets.select(0, 2).view(-1).select(0, 0).fill_(new org.bytedeco.pytorch.Scalar(Float.NaN));
                tensors.put("targets", targets);
                tensors.put("indices", f.tensor("indices").clone());
            }
            dev.mvp.models.io.SafeTensorsWriter.write(shard, tensors, java.util.Map.of("format", "mvp-teacher-cache"));
        }
        try (TargetCache cache = TargetCache.open(dir, teacher, dataset); PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> cache.targets(new int[] {0, 1}))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("teacher cache " + dir + ": " + shard + ": tensor 'targets' holds 1 NaN or infinite value:"
                            + " the cache is damaged; delete " + dir + " to rebuild it");
        }
    }

    @Test
    void aMissingShardOrProbeIsADamagedCacheAndAFailedBuildLeavesNoShards(@TempDir Path tmp) throws Exception {
        Path data = images(tmp.resolve("data"), 4);
        ImageDataset dataset = ImageFolder.open(data);
        Tokenizer teacher = Recipes.teacher(config(data, tmp.resolve("run")));
        Path dir = tmp.resolve("cache");
        TargetCache.build(dir, teacher, dataset, false, 1, s -> {}).close();
        for (String name : List.of("probe.safetensors", "shard-00000.safetensors")) {
            Path file = dir.resolve(name);
            Path aside = Files.move(file, tmp.resolve(name));
            assertThatThrownBy(() -> TargetCache.open(dir, teacher, dataset))
                    .hasMessage("teacher cache " + dir + " is damaged: cannot read " + file + ": no such file or folder; "
                            + "delete " + dir + " to rebuild it");
            Files.move(aside, file);
        }
        Path json = dir.resolve("cache.json");
        String manifest = Files.readString(json);
        Files.writeString(json, manifest.substring(0, manifest.length() / 2)); // truncated
        assertThatThrownBy(() -> TargetCache.open(dir, teacher, dataset))
                .hasMessageStartingWith("teacher cache " + dir + " is damaged: cannot read " + json + ": ")
                .hasMessageEndingWith("; delete " + dir + " to rebuild it");
        // rebuilt over the damaged one, with no stale shard of a larger earlier build left beside it
        Files.writeString(dir.resolve("shard-00007.safetensors"), "left by a killed build");
        TargetCache.build(dir, teacher, dataset, false, 1, s -> {}).close();
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
                    .containsExactly("cache.json", "probe.safetensors", "shard-00000.safetensors");
        }
        // a build that fails (an undecodable image, and the cache builder allows none) leaves neither shards nor
        // the folder it created
        Files.write(data.resolve("cat/zz-broken.jpg"), new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0});
        Path fresh = tmp.resolve("fresh-cache");
        ImageDataset withBroken = ImageFolder.open(data);
        assertThatThrownBy(() -> TargetCache.build(fresh, teacher, withBroken, false, 1, s -> {}));
        assertThat(fresh).doesNotExist();
    }
}
