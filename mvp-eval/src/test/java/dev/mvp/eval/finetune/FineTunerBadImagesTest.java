package dev.mvp.eval.finetune;

import dev.mvp.api.Torch;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.ImageFolder;
import dev.mvp.eval.BadImageFiles;
import dev.mvp.eval.TooManyBadImages;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * {@link FineTuner#run} on a tiny ViT over a training folder of 17 real CIFAR-10 JPEGs and 3 undecodable files: under
 * the max bad fraction it fine-tunes for every epoch, warning about each bad training file once; over it, it stops with
 * a {@link TooManyBadImages} before the first evaluation.
 */
class FineTunerBadImagesTest {

    static FinetuneConfig config() {
        // 2 epochs of 4 steps of 5 images, no Mixup/CutMix, no RandAugment, no erasing, no EMA
        return new FinetuneConfig(2, 0, 5, 1e-3, 0, 0.05, 0.75, 0, 0.1, 0, 0, 0, 0.5, false, 0, true, 0, 0, 1);
    }

    @Test
    void underTheFractionEveryEpochRunsAndEachBadFileIsWarnedOnceOverItTheRunStops(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        ImageFolder train = BadImageFiles.trainingFolder(tmp.resolve("train"));
        ImageFolder val = BadImageFiles.validationFolder(tmp.resolve("val"), 2);
        torch.manual_seed(0);
        try (VisionTransformer model = VisionTransformer.create(VitConfig.timm(32, 1, 2, 8).withImageSize(32).withNumClasses(4));
             BadImageFiles.Stderr err = new BadImageFiles.Stderr()) {
            FineTuner.Result r = FineTuner.run(model, train, val, config(), 1, ImageDecoders.fastest(), 0.15, FineTuner.Listener.NONE, null);
            assertThat(r.stepsPerEpoch()).isEqualTo(4);
            assertThat(r.history()).hasSize(2);
            assertThat(r.history()).allSatisfy(e -> assertThat(e.meanLoss()).isFinite());
            assertThat(r.top1()).isBetween(0.0, 100.0);
            assertThat(err.warnings()).as("one warning per bad file over 2 epochs").hasSize(3);
            for (Path bad : BadImageFiles.badFiles(train)) assertThat(err.warningsAbout(bad)).as(bad.toString()).isEqualTo(1);
        }
        int[] epochs = {0};
        try (VisionTransformer model = VisionTransformer.create(VitConfig.timm(32, 1, 2, 8).withImageSize(32).withNumClasses(4));
             BadImageFiles.Stderr err = new BadImageFiles.Stderr()) {
            Throwable t = catchThrowable(() -> FineTuner.run(model, train, val, config(), 1, ImageDecoders.fastest(), 0.1,
                    new FineTuner.Listener() {
                        @Override public void epoch(FineTuner.Epoch e) {
                            epochs[0]++;
                        }
                    }, null));
            assertThat(t).isInstanceOf(TooManyBadImages.class);
            TooManyBadImages e = (TooManyBadImages) t;
            assertThat(e.bad()).isEqualTo(3);
            assertThat(e.images()).isEqualTo(20);
            assertThat(BadImageFiles.badFiles(train)).anyMatch(p -> e.last().contains(p.getFileName().toString()));
            assertThat(err.warnings()).hasSize(3);
        }
        assertThat(epochs[0]).as("epochs finished before the stop").isZero();
    }
}
