package dev.mvp.eval;

import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * k-NN (DINO's protocol, k = 20, T = 0.07) on real CIFAR-10 JPEGs with raw pixels as the features. Published k-NN on
 * raw CIFAR-10 pixels is about 35-40%; the full split (50,000 / 10,000) gives 36.30% here (docs/EVALUATION.md). To
 * stay at seconds this test uses the first 2,000 training and 100 test images of each class (34.10% when written).
 */
@Tag("e2e")
class KnnCifarTest {

    @Test
    void rawPixelKnnOnCifar10LandsInThePublishedRange() {
        Path cifar = TestPaths.sharedData().resolve("cifar10");
        var train = Subset.perClass(ImageFolder.open(cifar.resolve("train")), 2000);
        var test = Subset.perClass(ImageFolder.open(cifar.resolve("test")), 100);
        assertThat(train.size()).isEqualTo(20_000);
        assertThat(test.size()).isEqualTo(1_000);
        try (FeatureExtractor pixels = Extractors.open(Extractors.RAW_PIXELS, Extractors.Options.defaults());
             FeatureSet tr = Features.extract(pixels, train, 500, 2, "train", Progress.NONE);
             FeatureSet te = Features.extract(pixels, test, 500, 2, "test", Progress.NONE)) {
            assertThat(tr.dim()).isEqualTo(3 * 32 * 32);
            KnnClassifier.Result r = KnnClassifier.evaluate(tr, te, KnnClassifier.DEFAULT_K, KnnClassifier.DEFAULT_TEMPERATURE);
            // chance is 10%; the range for raw-pixel k-NN on CIFAR-10
            assertThat(r.top1()).isBetween(30.0, 45.0);
            assertThat(r.top5Acc()).isGreaterThan(r.top1()).isLessThan(100.0);
        }
    }
}
