package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageFolder;
import dev.mvp.data.ImageIoDecoder;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Evaluation images come from mvp-data's evaluation loader with the default decoder (libjpeg-turbo when installed).
 * Before, mvp-eval decoded with ImageIO; on CIFAR-10 JPEGs both decoders give the same pixels (all 60,000 checked,
 * docs/EVALUATION.md), so features are value for value what the ImageIO path gave.
 */
class EvalLoadingTest {

    @Test
    void featuresEqualTheImageIoPathOnCifar() throws Exception {
        Torch.init();
        var data = Subset.perClass(ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample")), 20);
        EvalTransform t = EvalTransform.standard(32);
        try (FeatureExtractor pixels = new RawPixels(t);
             FeatureSet set = Features.extract(pixels, data, 64, 2, "x", Progress.NONE)) {
            assertThat(set.size()).isEqualTo(200);
            assertThat(set.skipped()).isZero();
            float[] all;
            try (PointerScope scope = new PointerScope()) {
                all = Tensors.toFloats(set.features());
            }
            ImageIoDecoder imageIo = new ImageIoDecoder();
            float[] one = new float[3 * 32 * 32];
            for (int i = 0; i < data.size(); i++) {
                t.toPlanar(t.crop(imageIo.decode(data.path(i))), one, 0);
                assertThat(java.util.Arrays.copyOfRange(all, i * one.length, (i + 1) * one.length)).as(data.path(i).toString())
                        .containsExactly(one);
                assertThat(set.label(i)).isEqualTo(data.label(i));
            }
        }
    }

    @Test
    void anUndecodableImageIsLeftOutCountedAndRemembered(@TempDir Path tmp) throws Exception {
        Torch.init();
        Path dir = Files.createDirectories(tmp.resolve("images"));
        Path source = TestPaths.repoRoot().resolve("data/cifar10-sample");
        var folder = ImageFolder.open(source);
        for (int i = 0; i < 120; i++) {
            Files.copy(folder.path(i * 8), dir.resolve(String.format("%s_%03d.jpg", folder.classes().get(folder.label(i * 8)), i)));
        }
        Files.writeString(dir.resolve("cat_broken.jpg"), "not an image");
        var data = ImageFolder.open(dir); // 121 files, labels from the name prefix; 1 bad is within the default 1%
        FeatureExtractor pixels = new RawPixels(EvalTransform.standard(32));
        FeatureCache cache = new FeatureCache(tmp.resolve("cache"));
        boolean[] hit = new boolean[1];
        try (FeatureSet first = cache.getOrExtract(pixels, data, 16, 1, "x", Progress.NONE, hit)) {
            assertThat(hit[0]).isFalse();
            assertThat(first.size()).isEqualTo(120);
            assertThat(first.skipped()).isEqualTo(1);
            int broken = 0;
            while (!data.path(broken).getFileName().toString().equals("cat_broken.jpg")) broken++;
            for (int r = 0, i = 0; r < first.size(); r++, i++) {
                if (i == broken) i++;
                assertThat(first.label(r)).isEqualTo(data.label(i));
            }
        }
        try (FeatureSet again = cache.getOrExtract(pixels, data, 16, 1, "x", Progress.NONE, hit)) {
            assertThat(hit[0]).as("a complete entry with a skipped image is a hit").isTrue();
            assertThat(again.size()).isEqualTo(120);
            assertThat(again.skipped()).isEqualTo(1);
        }
    }
}
