package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.data.DataException;
import dev.mvp.eval.Progress;
import dev.mvp.eval.SegmentationMetrics;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Label values outside the classes, empty and undecodable files: found when read, naming the file, value and flag. */
class SegmentationDataTest {

    private static Path pair(Path root, String name, int labelValue) throws Exception {
        Path images = Files.createDirectories(root.resolve("images/validation"));
        Path labels = Files.createDirectories(root.resolve("annotations/validation"));
        BufferedImage img = new BufferedImage(40, 32, BufferedImage.TYPE_INT_RGB);
        BufferedImage lab = new BufferedImage(40, 32, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 40; x++) {
                img.setRGB(x, y, (x * 6) << 16 | (y * 7) << 8 | 90);
                lab.getRaster().setSample(x, y, 0, y < 4 ? 0 : y < 8 ? 255 : x == 17 && y == 20 ? labelValue : 1 + x % 3);
            }
        }
        ImageIO.write(img, "png", images.resolve(name + ".png").toFile());
        ImageIO.write(lab, "png", labels.resolve(name + ".png").toFile());
        return labels.resolve(name + ".png");
    }

    @Test
    void labelValuesOutsideTheClassesNameTheFileTheValueAndTheFlag(@TempDir Path tmp) throws Exception {
        pair(tmp, "a", 2);
        Path bad = pair(tmp, "b", 199);
        SegmentationData data = SegmentationData.open(tmp, "validation", 16, true);
        assertThat(data.label(0).labels()).contains(0, 1, 2, 255).doesNotContain(3);
        assertThatThrownBy(() -> data.label(1)).isInstanceOf(DataException.class)
                .hasMessage("label map " + bad + " holds the value 199 (pixel x=17, y=20); with --num-classes 16 the values "
                        + "must be 1..16, or 0 and 255 (ignored; reduce_zero_label)");
        assertThatThrownBy(data::verify).as("verify reads every label map up front").hasMessageContaining("value 199");
        // the edges: 16 is the last class after the reduction, 17 is not; without the reduction 15 is the last
        Path edge = tmp.resolve("edge");
        pair(edge, "c", 16);
        SegmentationData.open(edge, "validation", 16, true).verify();
        assertThatThrownBy(() -> SegmentationData.open(edge, "validation", 15, true).label(0))
                .hasMessageContaining("value 16").hasMessageContaining("--num-classes 15");
        assertThatThrownBy(() -> SegmentationData.open(edge, "validation", 16, false).label(0))
                .hasMessageContaining("value 16").hasMessageContaining("must be 0..15, or 255 (ignored; --no-reduce-zero-label)");
        SegmentationData.open(edge, "validation", 17, false).verify();
    }

    @Test
    void emptyFilesAreFoundWhenTheSetIsOpenedAndUndecodableOnesByVerify(@TempDir Path tmp) throws Exception {
        pair(tmp, "a", 1);
        pair(tmp, "b", 1);
        Path image = tmp.resolve("images/validation/b.png");
        Files.write(image, new byte[0]);
        assertThatThrownBy(() -> SegmentationData.open(tmp, "validation", 3, true)).isInstanceOf(DataException.class)
                .hasMessage("segmentation image " + image + " is empty (0 bytes)");
        Files.writeString(image, "not an image at all");
        SegmentationData data = SegmentationData.open(tmp, "validation", 3, true);
        assertThatThrownBy(data::verify).isInstanceOf(DataException.class)
                .hasMessage("segmentation image " + image + " is not an image (unknown format)");
        Path label = tmp.resolve("annotations/validation/a.png");
        Files.write(label, new byte[0]);
        assertThatThrownBy(() -> SegmentationData.open(tmp, "validation", 3, true))
                .hasMessage("segmentation label map " + label + " is empty (0 bytes)");
    }

    /** After training, an undecodable validation image is left out and counted rather than losing the run. */
    @Test
    void evaluationLeavesOutAndCountsAnUndecodableImage(@TempDir Path tmp) throws Exception {
        Torch.init();
        Torch.setThreads(1);
        pair(tmp, "a", 1);
        pair(tmp, "b", 1);
        Path image = tmp.resolve("images/validation/b.png");
        byte[] png = Files.readAllBytes(image);
        Files.write(image, java.util.Arrays.copyOf(png, 60)); // a header, then nothing
        SegmentationData data = SegmentationData.open(tmp, "validation", 3, true);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(64, 1, 4, 8).withImageSize(32));
        PrintStream stderr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        SegmentationMetrics m;
        try (LinearSegmenter model = new LinearSegmenter(vit, 3)) {
            m = SegTrainer.evaluate(model, data, SegInference.Mode.WHOLE, 21, 2, Progress.NONE);
        } finally {
            System.setErr(stderr);
        }
        assertThat(m.skipped()).isEqualTo(1);
        assertThat(m.labelArea()).as("only image a's 24 x 40 labelled pixels, by x mod 3, pixel (17, 20) class 0").containsExactly(337, 312, 311);
        assertThat(err.toString()).contains("validation image left out of the metric").contains("b.png");
    }
}
