package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageFolder;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Features survive the cache exactly, across shards; a different extractor or dataset gets another entry. */
class FeatureCacheTest {

    @Test
    void shardsRoundTripBitExactly(@TempDir Path tmp) {
        Torch.init();
        float[] values = new float[7 * 3];
        for (int i = 0; i < values.length; i++) values[i] = (float) Math.sin(i) * 1e3f;
        int[] labels = {0, 1, 2, 0, 1, 2, 0};
        try (FeatureSet set = FeatureSet.of(values, 7, 3, labels, List.of("a", "b", "c"))) {
            FeatureCache.write(tmp, set, 3, Map.of("about", "test"));
        }
        assertThat(tmp.resolve("shard-00002.safetensors")).exists();
        try (FeatureSet back = FeatureCache.read(tmp); PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(back.features())).containsExactly(values);
            assertThat(back.labels()).containsExactly(labels);
            assertThat(back.classes()).containsExactly("a", "b", "c");
        }
    }

    @Test
    void aMismatchedShardIsNamed(@TempDir Path tmp) throws Exception {
        Torch.init();
        try (FeatureSet set = FeatureSet.of(new float[] {1, 2, 3, 4}, 2, 2, new int[] {0, 1}, List.of("a", "b"))) {
            FeatureCache.write(tmp, set, 1, Map.of());
        }
        Files.writeString(tmp.resolve("manifest.json"), Files.readString(tmp.resolve("manifest.json")).replace("\"dim\" : 2", "\"dim\" : 3"));
        assertThatThrownBy(() -> FeatureCache.read(tmp)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("shard-00000.safetensors").hasMessageContaining("features");
    }

    @Test
    void secondRunReadsTheCacheAndKeysFollowTheInputs(@TempDir Path tmp) {
        Torch.init();
        var data = ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample"));
        var small = Subset.perClass(data, 2);
        var other = Subset.perClass(data, 3);
        FeatureCache cache = new FeatureCache(tmp, 8);
        FeatureExtractor pixels = Extractors.open(Extractors.RAW_PIXELS, Extractors.Options.defaults());
        FeatureExtractor smaller = Extractors.open(Extractors.RAW_PIXELS,
                new Extractors.Options(0, 16, 0, FeatureSpec.cls()));
        boolean[] hit = new boolean[1];
        float[] first;
        try (FeatureSet a = cache.getOrExtract(pixels, small, 4, 2, "x", Progress.NONE, hit)) {
            assertThat(hit[0]).isFalse();
            first = Tensors.toFloats(a.features());
        }
        try (FeatureSet b = cache.getOrExtract(pixels, small, 4, 2, "x", Progress.NONE, hit)) {
            assertThat(hit[0]).isTrue();
            assertThat(Tensors.toFloats(b.features())).containsExactly(first);
        }
        assertThat(FeatureCache.key(pixels, small)).isNotEqualTo(FeatureCache.key(pixels, other))
                .isNotEqualTo(FeatureCache.key(smaller, small));
    }

    @Test
    void nonFiniteFeaturesAndOutOfRangeLabelsAreDamageNamingTheShard(@TempDir Path tmp) {
        Torch.init();
        Path nan = tmp.resolve("nan"), label = tmp.resolve("label"), missing = tmp.resolve("missing");
        try (FeatureSet set = FeatureSet.of(new float[] {1, 2, 3, Float.NaN}, 2, 2, new int[] {0, 1}, List.of("a", "b"))) {
            FeatureCache.write(nan, set, 1, Map.of());
        }
        try (FeatureSet set = FeatureSet.of(new float[] {1, 2, 3, 4}, 2, 2, new int[] {57, 1}, List.of("a", "b"))) {
            FeatureCache.write(label, set, 1, Map.of());
            FeatureCache.write(missing, set, 1, Map.of());
        }
        assertThatThrownBy(() -> FeatureCache.read(nan)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("shard-00001.safetensors").hasMessageContaining("1 NaN or infinite value");
        assertThatThrownBy(() -> FeatureCache.read(label)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("shard-00000.safetensors").hasMessageContaining("label 57, outside [0, 2)");
        try {
            Files.delete(missing.resolve("shard-00000.safetensors"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertThatThrownBy(() -> FeatureCache.read(missing)).hasMessageContaining("shard-00000.safetensors")
                .hasMessageContaining("missing").hasMessageNotContaining("java.");
    }

    @Test
    void aShardHoldingNaNIsRecomputedWithOneWarning(@TempDir Path tmp) throws Exception {
        Torch.init();
        var small = Subset.perClass(ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample")), 2);
        FeatureCache cache = new FeatureCache(tmp, 8);
        FeatureExtractor pixels = Extractors.open(Extractors.RAW_PIXELS, Extractors.Options.defaults());
        float[] first;
        try (FeatureSet a = cache.getOrExtract(pixels, small, 4, 1, "x", Progress.NONE, null)) {
            first = Tensors.toFloats(a.features());
            float[] poisoned = first.clone();
            poisoned[5] = Float.NaN;
            try (FeatureSet bad = FeatureSet.of(poisoned, a.size(), a.dim(), a.labels(), a.classes())) {
                FeatureCache.write(cache.entry(pixels, small), bad, 8, Map.of());
            }
        }
        var err = new java.io.ByteArrayOutputStream();
        var old = System.err;
        boolean[] hit = new boolean[1];
        System.setErr(new java.io.PrintStream(err, true));
        try (FeatureSet b = cache.getOrExtract(pixels, small, 4, 1, "x", Progress.NONE, hit)) {
            assertThat(hit[0]).isFalse();
            assertThat(Tensors.toFloats(b.features())).containsExactly(first);
        } finally {
            System.setErr(old);
        }
        assertThat(err.toString().lines().toList()).singleElement().asString()
                .contains("is damaged", "shard-00000.safetensors", "NaN", "recomputing");
    }
}
