package dev.mvp.eval;

import dev.mvp.api.Torch;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.ImageFolder;
import dev.mvp.eval.finetune.TrainImages;
import dev.mvp.eval.finetune.TrainTransform;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * MAE's augmented linear probe on a training folder of 17 real CIFAR-10 JPEGs and 3 undecodable files
 * ({@link BadImageFiles#trainingFolder}): under the max bad fraction it trains on full batches of decodable images
 * (the very batches {@link TrainImages} gives, whose content {@code TrainImagesBadFilesTest} checks), warning about
 * each bad file once; over the fraction it stops with a {@link TooManyBadImages}.
 */
class AugmentedProbeBadImagesTest {
    static final ImageDecoder DECODER = ImageDecoders.fastest();

    static ProbeConfig config() {
        return new ProbeConfig(2, 5, 1, ProbeConfig.OptimizerKind.SGD, 0, 0.9, 1, 0, 7);
    }

    @Test
    void underTheFractionItTrainsOnFullBatchesOfGoodImagesAndWarnsOncePerBadFile(@TempDir Path tmp) throws Exception {
        Torch.init();
        ImageFolder train = BadImageFiles.trainingFolder(tmp.resolve("train"));
        AugmentedProbeTest.Recording ex = new AugmentedProbeTest.Recording();
        try (FeatureSet val = Features.extract(ex.pixels, BadImageFiles.validationFolder(tmp.resolve("val"), 2), 8, 1, "val", Progress.NONE);
             BadImageFiles.Stderr err = new BadImageFiles.Stderr()) {
            ProbeTrainer.Result r = ProbeTrainer.trainAugmented(ex, train, val, config(), 1, DECODER, 0.15,
                    ProbeTrainer.Listener.NONE, null);
            assertThat(r.stepsPerEpoch()).isEqualTo(4);
            assertThat(r.history()).hasSize(2);
            assertThat(r.history()).allSatisfy(e -> assertThat(e.meanLoss()).isFinite());
            assertThat(err.warnings()).as("one warning per bad file over 2 epochs").hasSize(3);
            for (Path bad : BadImageFiles.badFiles(train)) assertThat(err.warningsAbout(bad)).as(bad.toString()).isEqualTo(1);
        }
        assertThat(ex.seen).hasSize(8);
        try (TrainImages reference = new TrainImages(train, new TrainTransform(32, false, 0), 5, config().seed(), 1, DECODER, 0.15)) {
            for (int k = 0; k < 8; k++) {
                assertThat(ex.seen.get(k)).as("batch %d the extractor saw", k).isEqualTo(reference.next().pixels());
            }
            assertThat(reference.badImages()).isEqualTo(3);
        }
    }

    @Test
    void overTheFractionItStopsWithTheCountsAndABadFile(@TempDir Path tmp) throws Exception {
        Torch.init();
        ImageFolder train = BadImageFiles.trainingFolder(tmp.resolve("train"));
        List<String> badNames = BadImageFiles.badFiles(train).stream().map(p -> p.getFileName().toString()).toList();
        AugmentedProbeTest.Recording ex = new AugmentedProbeTest.Recording();
        try (FeatureSet val = Features.extract(ex.pixels, BadImageFiles.validationFolder(tmp.resolve("val"), 2), 8, 1, "val", Progress.NONE);
             BadImageFiles.Stderr err = new BadImageFiles.Stderr()) {
            Throwable t = catchThrowable(() -> ProbeTrainer.trainAugmented(ex, train, val, config(), 1, DECODER, 0.1,
                    ProbeTrainer.Listener.NONE, null));
            assertThat(t).isInstanceOf(TooManyBadImages.class);
            TooManyBadImages e = (TooManyBadImages) t;
            assertThat(e.bad()).isEqualTo(3);
            assertThat(e.images()).isEqualTo(20);
            assertThat(e.maxBadFraction()).isEqualTo(0.1);
            assertThat(badNames).anyMatch(name -> e.last().contains(name));
            assertThat(e.getMessage()).contains("3 of the 20 images could not be decoded");
            assertThat(err.warnings()).hasSize(3);
        }
        assertThat(ex.seen.size()).as("batches trained on before the stop").isLessThan(4);
    }
}
