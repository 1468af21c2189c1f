package dev.mvp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.StateDict;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The evaluation commands as a user meets them: help, usage errors, and small real runs that print results and
 * write results.json. The backbone is a tiny random ViT (width 64, 2 blocks, 4 heads, 8x8 patches of 32x32 images)
 * written in timm's layout with {@code num_heads} in the safetensors metadata.
 */
@Tag("e2e")
class EvalCommandsTest {
    @TempDir static Path tmp;
    static Path backbone;
    static Path sample;

    @BeforeAll
    static void tinyBackbone() {
        backbone = writeTinyBackbone(tmp.resolve("tiny.safetensors"));
        sample = TestPaths.repoRoot().resolve("data/cifar10-sample");
    }

    /** The evaluation tests' backbone: a random ViT (seed 1; width 64, 2 blocks, 4 heads, patch 8, 32x32) in timm's layout. */
    static Path writeTinyBackbone(Path file) {
        Torch.init();
        torch.manual_seed(1);
        try (VisionTransformer vit = VisionTransformer.create(VitConfig.timm(64, 2, 4, 8).withImageSize(32));
             PointerScope scope = new PointerScope()) {
            VitCheckpoints.save(StateDict.of(vit), VitCheckpoints.Layout.TIMM, file, Map.of("num_heads", "4"));
        }
        return file;
    }

    static JsonNode json(Path file) throws Exception {
        return new ObjectMapper().readTree(file.toFile());
    }

    @Test
    void helpShowsThePaperDefaults() {
        assertThat(mvp("knn", "--help").out()).contains("Default: 20", "Default: 0.07", "--backbone", "raw-pixels");
        assertThat(mvp("linprobe", "--help").out()).contains("Default: 90", "Default: 16384", "Default: lars");
        assertThat(mvp("finetune", "--help").out()).contains("Default: 0.004", "Default: 0.65", "Default: 100", "Default: 20",
                "Default: 0.8", "Default: 1.0");
        assertThat(mvp("segment", "--help").out()).contains("Default: slide", "Default: 150");
        assertThat(mvp("attention", "--help").out()).contains("Default: nearest", "DIR|FILE", "file list");
        for (String command : new String[] {"knn", "linprobe", "finetune", "segment", "attention"}) {
            assertThat(mvp(command, "--help").out()).as(command).contains("--decoder=auto|turbojpeg|imageio", "Default: auto");
        }
    }

    @Test
    void everyEvaluationCommandTakesTheDecoderFlagAndRefusesAnUnknownOne() throws Exception {
        Path list = Files.writeString(tmp.resolve("bad-decoder.txt"), sample.resolve("cat/0000.jpg") + "\n");
        for (String[] args : new String[][] {
                {"knn", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString()},
                {"linprobe", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString()},
                {"finetune", "--backbone", backbone.toString(), "--train", sample.toString(), "--val", sample.toString(), "--batch-size", "8"},
                {"segment", "--backbone", backbone.toString(), "--data", tmp.toString()},
                {"attention", "--backbone", backbone.toString(), "--images", list.toString()}}) {
            String[] withBad = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of("--decoder", "pil"))
                    .toArray(String[]::new);
            MainTest.Result r = mvp(withBad);
            assertThat(r.code()).as(String.join(" ", withBad) + ": " + r.err()).isEqualTo(2);
            assertThat(r.err()).contains("--decoder: unknown decoder 'pil' (use auto, turbojpeg or imageio)");
            assertThat(r.err().strip().lines().count()).as(r.err()).isLessThanOrEqualTo(2);
        }
    }

    @Test
    void knnWithTheImageioDecoderRecordsItAndGetsItsOwnCacheEntry() throws Exception {
        Path cache = tmp.resolve("decoder-cache");
        String[] common = {"knn", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "5", "--val-per-class", "2", "--k", "5", "--threads", "1", "--workers", "1",
                "--cache", cache.toString()};
        MainTest.Result byDefault = mvp(concat(common, "--out", tmp.resolve("knn-default").toString()));
        assertThat(byDefault.code()).as(byDefault.err()).isZero();
        String defaultName = dev.mvp.data.ImageDecoders.resolve("auto");
        assertThat(json(tmp.resolve("knn-default/results.json")).path("decoder").asText()).isEqualTo(defaultName);

        MainTest.Result imageio = mvp(concat(common, "--decoder", "IMAGEIO", "--out", tmp.resolve("knn-imageio").toString()));
        assertThat(imageio.code()).as(imageio.err()).isZero();
        assertThat(imageio.out()).contains("mvp knn: decoder imageio");
        assertThat(json(tmp.resolve("knn-imageio/results.json")).path("decoder").asText()).isEqualTo("imageio");
        if (!defaultName.equals("imageio")) {
            // features decoded by another decoder are another cache entry, not the default's read back
            assertThat(imageio.out()).doesNotContain("read from the cache");
        }
        try (var entries = Files.list(cache)) {
            var decoders = entries.map(e -> {
                try {
                    return json(e.resolve("manifest.json")).path("decoder").asText();
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            }).distinct().sorted().toList();
            assertThat(decoders).contains("imageio", defaultName);
        }
        MainTest.Result again = mvp(concat(common, "--decoder", "imageio", "--out", tmp.resolve("knn-imageio2").toString()));
        assertThat(again.out()).contains("read from the cache");
    }

    static String[] concat(String[] a, String... b) {
        return java.util.stream.Stream.concat(java.util.Arrays.stream(a), java.util.Arrays.stream(b)).toArray(String[]::new);
    }

    @Test
    void badFlagsAreOneLineUsageErrors() {
        for (String[] args : new String[][] {
                {"knn", "--backbone", "raw-pixels", "--train", "x", "--val", "y", "--temperature", "0"},
                {"knn", "--backbone", "raw-pixels", "--train", "x", "--val", "y", "--pooling", "max"},
                {"linprobe", "--backbone", "raw-pixels", "--train", "x", "--val", "y", "--optimizer", "adam"},
                {"finetune", "--backbone", "x", "--train", "x", "--val", "y", "--batch-size", "7"},
                {"segment", "--backbone", "x", "--data", "y", "--mode", "tiles"}}) {
            MainTest.Result r = mvp(args);
            assertThat(r.code()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(r.err().strip().lines().count()).as(r.err()).isLessThanOrEqualTo(2);
            assertThat(r.err()).doesNotContain("\tat ");
        }
        MainTest.Result missing = mvp("knn", "--backbone", "raw-pixels", "--train", tmp.resolve("none").toString(), "--val", "y");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains(tmp.resolve("none").toString());
        MainTest.Result noBackbone = mvp("knn", "--backbone", tmp.resolve("nope.safetensors").toString(), "--train", "x", "--val", "y");
        assertThat(noBackbone.code()).as(noBackbone.err()).isEqualTo(1);
        assertThat(noBackbone.err()).contains("--backbone " + tmp.resolve("nope.safetensors") + ": no such file or folder");
    }

    @Test
    void knnAndLinprobeOnTheSampleWriteResults() throws Exception {
        Path out = tmp.resolve("knn");
        MainTest.Result knn = mvp("knn", "--backbone", backbone.toString(), "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "20", "--val-per-class", "5", "--k", "5,20", "--pooling", "both", "--threads", "1",
                "--workers", "1", "--cache", tmp.resolve("cache").toString(), "--out", out.toString());
        assertThat(knn.code()).as(knn.err()).isZero();
        assertThat(knn.out()).contains("top-1", "vit(width 64, depth 2, heads 4");
        JsonNode r = json(out.resolve("results.json"));
        assertThat(r.path("feature_dim").asInt()).isEqualTo(128);
        assertThat(r.path("results")).hasSize(2);
        assertThat(r.path("results").get(1).path("top1").asDouble()).isBetween(0.0, 100.0);
        // the same features again come from the cache
        MainTest.Result again = mvp("knn", "--backbone", backbone.toString(), "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "20", "--val-per-class", "5", "--pooling", "both", "--threads", "1", "--workers", "1",
                "--cache", tmp.resolve("cache").toString(), "--out", tmp.resolve("knn2").toString());
        assertThat(again.out()).contains("read from the cache");

        Path lp = tmp.resolve("lp");
        MainTest.Result probe = mvp("linprobe", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "20", "--val-per-class", "5", "--epochs", "3", "--warmup-epochs", "1",
                "--probe-batch-size", "50", "--optimizer", "sgd", "--threads", "1", "--workers", "1", "--no-cache", "--out", lp.toString());
        assertThat(probe.code()).as(probe.err()).isZero();
        JsonNode p = json(lp.resolve("results.json"));
        assertThat(p.path("history")).hasSize(3);
        assertThat(p.path("config").path("optimizer").asText()).isEqualTo("sgd");
        assertThat(p.path("top1").asDouble()).isBetween(0.0, 100.0);
    }

    @Test
    void augmentedLinprobeRunsTheBackboneOnNewViews() throws Exception {
        Path lp = tmp.resolve("lp-aug");
        MainTest.Result r = mvp("linprobe", "--backbone", backbone.toString(), "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "10", "--val-per-class", "3", "--epochs", "2", "--warmup-epochs", "1", "--probe-batch-size", "25",
                "--optimizer", "sgd", "--augment", "--threads", "1", "--workers", "1", "--no-cache", "--out", lp.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = json(lp.resolve("results.json"));
        assertThat(j.path("augmented").asBoolean()).isTrue();
        assertThat(j.path("history")).hasSize(2);
        assertThat(j.path("train_images").asInt()).isEqualTo(100);
        MainTest.Result raw = mvp("linprobe", "--backbone", "raw-pixels", "--train", sample.toString(), "--val", sample.toString(), "--augment");
        assertThat(raw.code()).isEqualTo(2);
        assertThat(raw.err()).contains("--augment");
    }

    @Test
    void attentionWritesSheetsAndMaps() throws Exception {
        Path out = tmp.resolve("att");
        MainTest.Result r = mvp("attention", "--backbone", backbone.toString(), "--images", sample.resolve("cat").toString(),
                "--max-images", "5", "--per-sheet", "2", "--threads", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("attention-000.png")).exists();
        assertThat(out.resolve("attention-002.png")).exists();
        assertThat(out.resolve("maps.safetensors")).exists();
        JsonNode j = json(out.resolve("results.json"));
        assertThat(j.path("maps")).hasSize(5);
        assertThat(j.path("grid").asInt()).isEqualTo(4);
    }

    @Test
    void attentionTakesAFileListAsPretrainDataDoes() throws Exception {
        // a list in its own folder: relative paths resolve against it, absolute ones are kept; order is the list's
        Path lists = Files.createDirectories(tmp.resolve("lists"));
        Path local = Files.copy(sample.resolve("dog/0000.jpg"), lists.resolve("a dog.jpg"));
        Path list = Files.writeString(lists.resolve("images.txt"), "# three images, no labels\n"
                + sample.resolve("cat/0003.jpg") + "\n\n" + local.getFileName() + "\t\n" + sample.resolve("bird/0001.jpg") + "\n");
        Path out = tmp.resolve("att-list");
        MainTest.Result r = mvp("attention", "--backbone", backbone.toString(), "--images", list.toString(),
                "--per-sheet", "2", "--threads", "1", "--decoder", "imageio", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("FileListDataset " + list, "decoder imageio");
        JsonNode j = json(out.resolve("results.json"));
        assertThat(j.path("decoder").asText()).isEqualTo("imageio");
        assertThat(j.path("maps")).hasSize(3);
        assertThat(j.path("maps").findValuesAsText("file")).containsExactly(sample.resolve("cat/0003.jpg").toString(),
                local.toString(), sample.resolve("bird/0001.jpg").toString());
        assertThat(out.resolve("attention-001.png")).exists();

        MainTest.Result missing = mvp("attention", "--backbone", backbone.toString(), "--images", tmp.resolve("nothing.txt").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("image folder or file list not found: " + tmp.resolve("nothing.txt"));
    }

    @Test
    void finetuneRunsAndSavesALoadableModel() throws Exception {
        Path out = tmp.resolve("ft");
        MainTest.Result r = mvp("finetune", "--backbone", backbone.toString(), "--train", sample.toString(), "--val", sample.toString(),
                "--train-per-class", "10", "--val-per-class", "3", "--epochs", "2", "--warmup-epochs", "1", "--batch-size", "20",
                "--lr", "1e-3", "--model-ema-decay", "0.9", "--threads", "1", "--workers", "1", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("fine-tuned after 2 epochs", "EMA");
        JsonNode j = json(out.resolve("results.json"));
        assertThat(j.path("history")).hasSize(2);
        assertThat(j.path("steps_per_epoch").asInt()).isEqualTo(5);
        assertThat(j.path("missing_from_file").toString()).contains("head.weight", "fc_norm.weight");
        // the fine-tuned model is a backbone file again (timm layout, heads in the metadata)
        MainTest.Result knn = mvp("knn", "--backbone", out.resolve("model.safetensors").toString(), "--train", sample.toString(),
                "--val", sample.toString(), "--train-per-class", "5", "--val-per-class", "2", "--no-cache", "--threads", "1",
                "--workers", "1", "--out", tmp.resolve("ftknn").toString());
        assertThat(knn.code()).as(knn.err()).isZero();
    }

    @Test
    void segmentTrainsAndScoresAnAdeFormatFolder() throws Exception {
        Path data = tmp.resolve("ade");
        for (String split : new String[] {"training", "validation"}) {
            Path im = Files.createDirectories(data.resolve("images").resolve(split));
            Path an = Files.createDirectories(data.resolve("annotations").resolve(split));
            for (int n = 0; n < 4; n++) {
                BufferedImage img = new BufferedImage(48, 40, BufferedImage.TYPE_INT_RGB);
                BufferedImage lab = new BufferedImage(48, 40, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < 40; y++) {
                    for (int x = 0; x < 48; x++) {
                        boolean left = x < 24;
                        img.setRGB(x, y, left ? 0xC02020 : 0x2020C0);
                        lab.getRaster().setSample(x, y, 0, y < 4 ? 0 : left ? 1 : 2);
                    }
                }
                ImageIO.write(img, "jpg", im.resolve("ADE_" + split + "_" + n + ".jpg").toFile());
                ImageIO.write(lab, "png", an.resolve("ADE_" + split + "_" + n + ".png").toFile());
            }
        }
        Path out = tmp.resolve("seg");
        MainTest.Result r = mvp("segment", "--backbone", backbone.toString(), "--data", data.toString(), "--num-classes", "2",
                "--iters", "30", "--batch-size", "4", "--lr", "5e-3", "--warmup-iters", "3", "--threads", "1", "--workers", "1",
                "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("mIoU");
        JsonNode j = json(out.resolve("results.json"));
        assertThat(j.path("per_class_iou")).hasSize(2);
        assertThat(j.path("mIoU").asDouble()).isGreaterThan(0.5);
        assertThat(out.resolve("segmenter.safetensors")).exists();
        // every pair is checked before training, and the images left out of the metric are recorded
        assertThat(r.out()).contains("checked 4 validation and 4 training pairs");
        assertThat(j.path("skipped").isInt()).as(j.toString()).isTrue();
        assertThat(j.path("skipped").asInt()).isZero();
        assertThat(j.path("train_verified").asBoolean()).isTrue();

        Path up = tmp.resolve("seg-upernet");
        MainTest.Result u = mvp("segment", "--backbone", backbone.toString(), "--data", data.toString(), "--num-classes", "2",
                "--head", "upernet", "--channels", "16", "--out-indices", "0,0,1,1", "--iters", "20", "--batch-size", "4",
                "--lr", "2e-3", "--warmup-iters", "3", "--mode", "whole", "--threads", "1", "--workers", "1", "--out", up.toString());
        assertThat(u.code()).as(u.err()).isZero();
        JsonNode uj = json(up.resolve("results.json"));
        assertThat(uj.path("head").asText()).startsWith("UperNet");
        assertThat(uj.path("inference").asText()).isEqualTo("whole");
        assertThat(uj.path("mIoU").isNumber()).isTrue();
        MainTest.Result bad = mvp("segment", "--backbone", backbone.toString(), "--data", data.toString(), "--head", "upernet",
                "--batch-size", "1");
        assertThat(bad.code()).isEqualTo(2);
    }
}
