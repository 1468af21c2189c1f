package dev.mvp.eval;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** MAE's augmented probe path runs the frozen extractor on freshly augmented images every step of every epoch. */
class AugmentedProbeTest {

    /** Raw pixels that remember the batches they were given. */
    static final class Recording implements FeatureExtractor {
        final RawPixels pixels = new RawPixels(new EvalTransform(32, 1.0, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
        final List<float[]> seen = new ArrayList<>();

        @Override public int dim() {
            return pixels.dim();
        }

        @Override public EvalTransform transform() {
            return pixels.transform();
        }

        @Override public Tensor extract(Tensor images) {
            seen.add(Tensors.toFloats(images));
            return pixels.extract(images);
        }

        @Override public String describe() {
            return "recording raw pixels";
        }
    }

    @Test
    void everyStepSeesNewViewsThroughTheExtractor() {
        Torch.init();
        var data = ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample"));
        var train = Subset.perClass(data, 10);
        Recording ex = new Recording();
        try (FeatureSet val = Features.extract(ex.pixels, Subset.perClass(data, 2), 20, 1, "val", Progress.NONE)) {
            ProbeConfig config = new ProbeConfig(2, 20, 1, ProbeConfig.OptimizerKind.SGD, 0, 0.9, 1, 0, 3);
            ProbeTrainer.Result r = ProbeTrainer.trainAugmented(ex, train, val, config, 1, ProbeTrainer.Listener.NONE, null);
            assertThat(r.stepsPerEpoch()).isEqualTo(5);
            assertThat(ex.seen).hasSize(10);
            assertThat(r.history()).hasSize(2);
            assertThat(r.top1()).isBetween(0.0, 100.0);
            // the views of an epoch differ from the next epoch's (new order and new crops) and from the centre crops
            assertThat(Arrays.equals(ex.seen.get(0), ex.seen.get(5))).isFalse();
            float[] firstImage = Arrays.copyOf(ex.seen.get(0), 3 * 32 * 32);
            float[] centre = Tensors.toFloats(val.features());
            for (int i = 0; i < val.size(); i++) {
                assertThat(firstImage).isNotEqualTo(Arrays.copyOfRange(centre, i * 3072, (i + 1) * 3072));
            }
        }
    }
}
