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
}
