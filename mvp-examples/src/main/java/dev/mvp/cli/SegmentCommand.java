package dev.mvp.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.eval.BackboneFiles;
import dev.mvp.eval.Results;
import dev.mvp.eval.SegmentationMetrics;
import dev.mvp.eval.segment.LinearSegmenter;
import dev.mvp.eval.segment.Segmenter;
import dev.mvp.eval.segment.UperNetSegmenter;
import dev.mvp.eval.segment.SegConfig;
import dev.mvp.eval.segment.SegInference;
import dev.mvp.eval.segment.SegTrainer;
import dev.mvp.eval.segment.SegmentationData;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code mvp segment}: semantic segmentation on ADE20K-format data (light head or UperNet), scored by mmseg's mIoU. */
@Command(name = "segment", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Semantic segmentation on ADE20K-format data, scored by mean IoU.",
        description = {
                "A ViT backbone with a light head (LayerNorm + linear per patch, for small runs) or UperNet (BEiT's "
                        + "multi-level neck for patch 16 or 8 + mmseg's UPerHead, with its auxiliary FCN head in "
                        + "training), trained on ADE20K-format data (images/<split>/*.jpg, annotations/<split>/*.png; "
                        + "label 0 ignored, 150 classes) with mmseg's crops (random rescale 0.5-2, cat_max_ratio retry, "
                        + "flip, PhotoMetricDistortion) and scored with mmsegmentation's mean IoU (sliding-window or "
                        + "whole-image inference). Writes results.json and the weights.",
                "Attention heads: from --heads, the file's metadata, a run's preset or a BEiT relative position table "
                        + "(all must agree); with none, assumed: width / 64 (the Ti/S/B/L of timm, DeiT, DINO, MAE, "
                        + "BEiT), 16 for the ViT-H/g/G widths 1280/1408/1664. Pass --heads for a model with other heads.",
                "The paper's head:",
                "  --head upernet --channels 768 --img-size 512 --iters 160000 \\",
                "    --batch-size 16 --train-backbone"})
final class SegmentCommand implements Callable<Integer> {

    @Option(names = "--backbone", paramLabel = "FILE|DIR", required = true,
            description = "Backbone weights in timm's or BEiT's layout (safetensors or .pth), or a pretrain run/checkpoint folder.")
    Path backbone;

    @Option(names = "--data", paramLabel = "DIR", required = true, description = "Dataset root in ADE20K's format (ADEChallengeData2016).")
    Path data;

    @Option(names = "--train-split", paramLabel = "NAME", defaultValue = "training", description = "Training split folder.")
    String trainSplit;

    @Option(names = "--val-split", paramLabel = "NAME", defaultValue = "validation", description = "Evaluation split folder.")
    String valSplit;

    @Option(names = "--num-classes", paramLabel = "N", defaultValue = "150", description = "Classes (after label reduction).")
    int numClasses;

    @Option(names = "--no-reduce-zero-label", description = "Labels are already 0-based (255 ignored); by default 0 is ignored and the rest shift down.")
    boolean noReduce;

    @Option(names = "--max-train", paramLabel = "N", defaultValue = "0", description = "Use only the first N training pairs (0: all).")
    int maxTrain;

    @Option(names = "--max-val", paramLabel = "N", defaultValue = "0", description = "Evaluate only the first N pairs (0: all).")
    int maxVal;

    @Option(names = "--head", paramLabel = "linear|upernet", defaultValue = "linear",
            description = "Segmentation head: the light linear head, or UperNet (BEiT/MVP).")
    String head;

    @Option(names = "--channels", paramLabel = "N", defaultValue = "768", description = "UperNet's channels (BEiT ViT-B: 768).")
    int channels;

    @Option(names = "--aux-weight", paramLabel = "W", defaultValue = "0.4",
            description = "UperNet: loss weight of the auxiliary FCN head on the neck's third level (BEiT/MVP: 0.4; 0: no auxiliary head).")
    double auxWeight;

    @Option(names = "--aux-channels", paramLabel = "N", defaultValue = "256", description = "UperNet: the auxiliary FCN head's channels (BEiT/MVP: 256).")
    int auxChannels;

    @Option(names = "--out-indices", paramLabel = "I", split = ",",
            description = "UperNet's four blocks (0-based; default BEiT's 3,5,7,11 for depth 12, 7,11,15,23 for 24, else quarter ends).")
    int[] outIndices;

    @Option(names = "--iters", paramLabel = "N", defaultValue = "1000", description = "Training iterations (BEiT/MVP UperNet: 160000).")
    int iters;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8", description = "Crops per iteration (BEiT/MVP: 16).")
    int batchSize;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "0.001", description = "Peak AdamW learning rate (warm-up, then poly decay to 0).")
    double lr;

    @Option(names = "--warmup-iters", paramLabel = "N", defaultValue = "50", description = "Linear warm-up iterations.")
    int warmupIters;

    @Option(names = "--weight-decay", paramLabel = "WD", defaultValue = "0.01", description = "AdamW weight decay.")
    double weightDecay;

    @Option(names = "--cat-max-ratio", paramLabel = "R", defaultValue = "0.75",
            description = "mmseg's RandomCrop: redraw a crop (up to 10 times) whose largest class covers this share of its labelled pixels (1: off).")
    double catMaxRatio;

    @Option(names = "--no-photometric", description = "Leave out mmseg's PhotoMetricDistortion of the training crops (on by default, as in BEiT/MVP).")
    boolean noPhotometric;

    @Option(names = "--train-backbone", description = "Fine-tune the backbone too (layer-wise lr decay); default: frozen.")
    boolean trainBackbone;

    @Option(names = "--layer-decay", paramLabel = "D", defaultValue = "0.65", description = "Backbone layer-wise lr decay with --train-backbone.")
    double layerDecay;

    @Option(names = "--mode", paramLabel = "slide|whole", defaultValue = "slide", description = "Inference: sliding windows or one squeezed pass.")
    String mode;

    @Option(names = "--stride", paramLabel = "N", defaultValue = "0", description = "Window stride (0: 2/3 of the crop, mmseg's 341 at 512).")
    int stride;

    @Option(names = "--img-size", paramLabel = "N", defaultValue = "0", description = "Crop size (0: the backbone's own; BEiT/MVP: 512).")
    int imageSize;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "0",
            description = "Attention heads (0: from the file's metadata, a run's preset or a BEiT relative position table, else assumed: width / 64, 16 for ViT-H/g/G).")
    int heads;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the head init, crops and flips.")
    long seed;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "libtorch/OpenBLAS threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int threads;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "0", description = "Data threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int workers;

    @CommandLine.Mixin DecoderOption decoderOption;

    @CommandLine.Mixin BadImagesOption badImages;

    /** The most training pairs verified before training (about 5 ms each; ADE20K's 20210 are not). */
    static final int VERIFY_TRAIN_UP_TO = 5000;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/segment-<time> in the working directory).")
    Path outDir;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws java.io.IOException {
        PrintWriter out = spec.commandLine().getOut();
        SegInference.Mode inference;
        try {
            inference = SegInference.Mode.parse(mode);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--mode: " + e.getMessage());
        }
        Flags.intRange("--num-classes", numClasses, 1, SegmentationData.IGNORE);
        Flags.atLeast("--max-train", maxTrain, 0);
        Flags.atLeast("--max-val", maxVal, 0);
        Flags.atLeast("--channels", channels, 1);
        Flags.rateOrZero("--aux-weight", auxWeight);
        Flags.atLeast("--aux-channels", auxChannels, 1);
        Flags.atLeast("--iters", iters, 1);
        Flags.atLeast("--batch-size", batchSize, 1);
        Flags.rate("--lr", lr);
        Flags.intRange("--warmup-iters", warmupIters, 0, iters);
        Flags.rateOrZero("--weight-decay", weightDecay);
        Flags.range("--cat-max-ratio", catMaxRatio, 0, false, 1, true);
        Flags.range("--layer-decay", layerDecay, 0, false, 1, true);
        Flags.atLeast("--stride", stride, 0);
        Flags.threads("--threads", threads);
        Flags.threads("--workers", workers);
        double maxBad = badImages.checked();
        SegConfig config = new SegConfig(iters, batchSize, lr, warmupIters, weightDecay, trainBackbone, layerDecay, 0.5, 2.0,
                seed, catMaxRatio, !noPhotometric);
        if (!Files.exists(backbone)) throw Main.noSuch("--backbone", backbone, "file or folder");
        if (!Files.exists(data)) throw Main.noSuch("--data", data, "folder");
        if (!Files.isDirectory(data)) throw new dev.mvp.data.DataException("--data " + data + " is a file, expected a folder");
        dev.mvp.models.VitConfig file = Flags.backbone(backbone, heads, imageSize);
        int crop = imageSize > 0 ? imageSize : file.imageSize();
        Flags.intRange("--stride", stride, 0, crop);
        String decoderName = decoderOption.checkedName();
        if (!head.equals("linear") && !head.equals("upernet")) throw new Main.UsageException("--head must be linear or upernet, got " + head);
        if (head.equals("upernet") && batchSize < 2) throw new Main.UsageException("--head upernet needs --batch-size >= 2 (its BatchNorms)");
        if (outIndices != null) {
            if (outIndices.length != 4) throw new Main.UsageException("--out-indices needs 4 blocks, got " + outIndices.length);
            for (int i : outIndices) Flags.intRange("--out-indices", i, 0, file.depth() - 1);
        }
        if (head.equals("upernet")) {
            try {
                UperNetSegmenter.checkPatchSize(file.patchSize());
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("--head upernet: " + e.getMessage() + " (" + backbone + "); use --head linear");
            }
        }
        Path dir = RunFolders.prepare(outDir, "segment");
        SegmentationData train = SegmentationData.open(data, trainSplit, numClasses, !noReduce).first(maxTrain);
        SegmentationData val = SegmentationData.open(data, valSplit, numClasses, !noReduce).first(maxVal);
        // every file is checked before training: the validation pairs always (a bad one would otherwise surface after
        // the whole training run), the training pairs when there are at most VERIFY_TRAIN_UP_TO of them (ADE20K's
        // 20210 would take minutes; a bad training image is then warned about and redrawn under --max-bad-fraction)
        long tv = System.nanoTime();
        val.verify();
        boolean trainVerified = train.size() <= VERIFY_TRAIN_UP_TO;
        if (trainVerified) train.verify();
        out.printf("mvp segment: checked %d validation%s pairs in %.1f s%s%n", val.size(),
                trainVerified ? " and " + train.size() + " training" : "", (System.nanoTime() - tv) / 1e9,
                trainVerified ? "" : " (the " + train.size() + " training pairs are more than " + VERIFY_TRAIN_UP_TO
                        + ": checked as they are read)");
        ImageDecoder decoder = DecoderOption.open(decoderName);
        int cores = Runtime.getRuntime().availableProcessors();
        Torch.setThreads(threads > 0 ? threads : cores);
        torch.manual_seed(seed);
        BackboneFiles.Loaded loaded = BackboneFiles.load(backbone, new BackboneFiles.Options(heads, imageSize, 0));
        long t0 = System.nanoTime();
        UperNetSegmenter.Auxiliary aux = auxWeight > 0 ? new UperNetSegmenter.Auxiliary(auxChannels, 1, auxWeight)
                : UperNetSegmenter.Auxiliary.NONE;
        try (Segmenter model = head.equals("upernet")
                ? new UperNetSegmenter(loaded.model(), numClasses, channels,
                        outIndices != null ? outIndices : UperNetSegmenter.defaultIndices(loaded.model().config().depth()), aux)
                : new LinearSegmenter(loaded.model(), numClasses)) {
            int s = model.backbone().imageSize();
            int windowStride = stride > 0 ? stride : Math.max(1, (int) Math.round(s * 2.0 / 3.0));
            out.println("mvp segment: " + model.backbone().description() + " from " + loaded.weightFile() + " ("
                    + (trainBackbone ? "fine-tuned, layer decay " + layerDecay : "frozen") + "), " + model.describe() + ", "
                    + numClasses + " classes");
            out.println("mvp segment: attention heads " + model.backbone().config().heads() + " from " + loaded.headsSource());
            out.println("mvp segment: train " + train.describe());
            out.println("mvp segment: val   " + val.describe());
            out.println("mvp segment: decoder " + ImageDecoders.nameOf(decoder));
            int every = Math.max(1, iters / 20);
            double tailLoss;
            try {
                tailLoss = SegTrainer.train(model, train, config, workers > 0 ? workers : cores, decoder, maxBad,
                        (it, total, loss, stepLr) -> {
                            if (it == 1 || it % every == 0 || it == total) {
                                out.printf("  iter %d/%d loss %.4f lr %.3g%n", it, total, loss, stepLr);
                                out.flush();
                            }
                        });
            } catch (dev.mvp.eval.TooManyBadImages e) {
                throw BadImagesOption.explain(e, "training");
            }
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            // the trained weights first: a failure in evaluation does not lose the training run
            Files.createDirectories(dir);
            try (PointerScope scope = new PointerScope()) {
                dev.mvp.models.io.SafeTensorsWriter.write(dir.resolve("segmenter.safetensors"), StateDict.of(model.module()),
                        Map.of("num_classes", Integer.toString(numClasses), "num_heads", Integer.toString(model.backbone().config().heads())));
            }
            long t1 = System.nanoTime();
            SegmentationMetrics m;
            try {
                m = SegTrainer.evaluate(model, val, inference, windowStride, Math.max(1, batchSize), decoder, maxBad,
                        FeatureOptions.lines(out));
            } catch (dev.mvp.eval.TooManyBadImages e) {
                throw BadImagesOption.explain(e, "evaluation (segmenter.safetensors is saved in " + dir + ")");
            }
            double evalSeconds = (System.nanoTime() - t1) / 1e9;
            if (m.skipped() > 0) {
                out.printf("mvp segment: %d undecodable validation image%s left out of the metric%n", m.skipped(),
                        m.skipped() == 1 ? "" : "s");
            }
            out.printf("%nmIoU %.2f%%   mAcc %.2f%%   aAcc %.2f%%   (%d images, %s inference, classes present: %d of %d)%n",
                    100 * m.meanIoU(), 100 * m.meanAccuracy(), 100 * m.allAccuracy(), val.size() - m.skipped(),
                    inference.name().toLowerCase(java.util.Locale.ROOT), countFinite(m.iou()), numClasses);
            ObjectNode json = Results.object();
            json.put("command", "segment");
            json.put("protocol", "mmsegmentation mean IoU (dataset-level intersection/union, classes absent from prediction "
                    + "and ground truth skipped)");
            json.put("head", model.describe());
            json.put("backbone", loaded.weightFile().toString());
            json.put("backbone_file", Backbones.identity(loaded.weightFile()));
            json.put("model", model.backbone().description());
            json.put("train", train.describe());
            json.put("val", val.describe());
            json.put("decoder", ImageDecoders.nameOf(decoder));
            json.putPOJO("config", config);
            json.put("inference", inference.name().toLowerCase(java.util.Locale.ROOT));
            json.put("crop", s);
            json.put("stride", windowStride);
            Results.putNumber(json, "mIoU", m.meanIoU());
            Results.putNumber(json, "mAcc", m.meanAccuracy());
            Results.putNumber(json, "aAcc", m.allAccuracy());
            Results.putNumber(json, "final_train_loss", tailLoss);
            json.put("val_images", val.size());
            json.put("skipped", m.skipped());
            json.put("train_verified", trainVerified);
            ArrayNode iou = json.putArray("per_class_iou"), acc = json.putArray("per_class_acc");
            for (double v : m.iou()) {
                if (Double.isFinite(v)) iou.add(v);
                else iou.addNull();
            }
            for (double v : m.accuracy()) {
                if (Double.isFinite(v)) acc.add(v);
                else acc.addNull();
            }
            json.put("train_seconds", trainSeconds);
            json.put("eval_seconds", evalSeconds);
            Results.write(dir.resolve("results.json"), json);
            out.println("mvp segment: results.json and segmenter.safetensors in " + dir.toAbsolutePath());
        }
        return 0;
    }

    private static int countFinite(double[] v) {
        int n = 0;
        for (double x : v) if (Double.isFinite(x)) n++;
        return n;
    }
}
