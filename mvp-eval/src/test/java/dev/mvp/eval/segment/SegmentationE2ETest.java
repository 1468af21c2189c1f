package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.eval.Progress;
import dev.mvp.eval.SegmentationMetrics;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The segmentation path end to end on a small dataset written in ADE20K's folder format: images of coloured 16x16
 * blocks (red, green or blue, with noise) whose label maps give each block its colour's class (1..3, ADE-style), with
 * the top 8 rows labelled 0 ("other", ignored). A light head on a frozen random ViT learns it; sliding-window and
 * whole-image inference are scored with mmseg's mIoU.
 */
@Tag("e2e")
class SegmentationE2ETest {

    static void write(Path root, String split, int count, long seed) throws Exception {
        Path images = Files.createDirectories(root.resolve("images").resolve(split));
        Path labels = Files.createDirectories(root.resolve("annotations").resolve(split));
        SplittableRandom rng = new SplittableRandom(seed);
        int w = 80, h = 64;
        for (int n = 0; n < count; n++) {
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            BufferedImage lab = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            for (int by = 0; by < h / 16; by++) {
                for (int bx = 0; bx < w / 16; bx++) {
                    int cls = rng.nextInt(3);
                    for (int y = by * 16; y < by * 16 + 16; y++) {
                        for (int x = bx * 16; x < bx * 16 + 16; x++) {
                            int[] rgb = new int[3];
                            for (int c = 0; c < 3; c++) rgb[c] = Math.max(0, Math.min(255, (c == cls ? 200 : 40) + rng.nextInt(-30, 31)));
                            img.setRGB(x, y, (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
                            lab.getRaster().setSample(x, y, 0, y < 8 ? 0 : cls + 1);
                        }
                    }
                }
            }
            String name = String.format("ADE_%s_%08d", split, n);
            ImageIO.write(img, "png", images.resolve(name + ".png").toFile());
            ImageIO.write(lab, "png", labels.resolve(name + ".png").toFile());
        }
    }

    @Test
    void aLightHeadLearnsTheBlocksAndMeanIouIsHigh(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        write(tmp, "training", 24, 1);
        write(tmp, "validation", 6, 2);
        SegmentationData train = SegmentationData.open(tmp, "training", 3, true);
        SegmentationData val = SegmentationData.open(tmp, "validation", 3, true);
        assertThat(train.size()).isEqualTo(24);
        torch.manual_seed(0);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(64, 2, 4, 8).withImageSize(32));
        try (LinearSegmenter model = new LinearSegmenter(vit, 3)) {
            SegConfig config = new SegConfig(80, 8, 5e-3, 5, 0.01, false, 0.65, 0.5, 2.0, 0);
            double loss = SegTrainer.train(model, train, config, 1, SegTrainer.Listener.NONE);
            SegmentationMetrics slide = SegTrainer.evaluate(model, val, SegInference.Mode.SLIDE, 21, 4, Progress.NONE);
            SegmentationMetrics whole = SegTrainer.evaluate(model, val, SegInference.Mode.WHOLE, 21, 4, Progress.NONE);
            System.out.printf("final loss %.4f slide mIoU %.4f aAcc %.4f whole mIoU %.4f%n", loss, slide.meanIoU(),
                    slide.allAccuracy(), whole.meanIoU());
            // chance-level cross-entropy is log 3 per labelled pixel; mmseg's loss averages over all pixels (ignored: 0)
            assertThat(loss).isLessThan(Math.log(3));
            assertThat(slide.meanIoU()).isGreaterThan(0.6);
            assertThat(whole.meanIoU()).isGreaterThan(0.4);
            // the ignored top rows never count: every labelled pixel is below row 8 of 64
            long labelled = 0;
            for (long a : slide.labelArea()) labelled += a;
            assertThat(labelled).isEqualTo(6L * 80 * 56);
        }
    }

    @Test
    void upernetLearnsTheBlocksToo(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        write(tmp, "training", 24, 1);
        write(tmp, "validation", 6, 2);
        SegmentationData train = SegmentationData.open(tmp, "training", 3, true);
        SegmentationData val = SegmentationData.open(tmp, "validation", 3, true);
        torch.manual_seed(0);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(64, 4, 4, 8).withImageSize(32));
        try (UperNetSegmenter model = new UperNetSegmenter(vit, 3, 32, UperNetSegmenter.defaultIndices(4))) {
            SegConfig config = new SegConfig(60, 4, 2e-3, 5, 0.01, false, 0.65, 0.5, 2.0, 0);
            double loss = SegTrainer.train(model, train, config, 1, SegTrainer.Listener.NONE);
            SegmentationMetrics slide = SegTrainer.evaluate(model, val, SegInference.Mode.SLIDE, 21, 4, Progress.NONE);
            System.out.printf("upernet final loss %.4f slide mIoU %.4f aAcc %.4f%n", loss, slide.meanIoU(), slide.allAccuracy());
            assertThat(loss).isLessThan(Math.log(3));
            assertThat(slide.meanIoU()).isGreaterThan(0.6);
        }
    }
}
