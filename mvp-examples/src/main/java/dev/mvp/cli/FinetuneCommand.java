package dev.mvp.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.Torch;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.eval.BackboneFiles;
import dev.mvp.eval.Results;
import dev.mvp.eval.finetune.FineTuner;
import dev.mvp.eval.finetune.FinetuneConfig;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitConfig;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code mvp finetune}: end-to-end fine-tuning with BEiT's/MVP's recipe as the defaults. */
@Command(name = "finetune", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "End-to-end fine-tuning as a classifier (BEiT's/MVP's recipe).",
        description = {
                "The defaults are BEiT's/MVP's recipe for ViT-B (the paper's Table 1): AdamW lr 4e-3 at batch 1024, "
                        + "100 epochs with 20 warm-up then cosine, layer decay 0.65, drop path 0.1, label smoothing 0.1, "
                        + "Mixup 0.8 / CutMix 1.0 (switch 0.5), RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25.",
                "Writes results.json (per-epoch history) and the fine-tuned model.safetensors.",
                "Small run:",
                "  --epochs 8 --warmup-epochs 1 --batch-size 50 --lr 3e-3 --layer-decay 0.75"})
final class FinetuneCommand implements Callable<Integer> {
    private static final FinetuneConfig PAPER = FinetuneConfig.paper();

    @Option(names = "--backbone", paramLabel = "FILE|DIR", required = true,
            description = "Pre-trained weights in timm's or BEiT's layout (safetensors or .pth), or a pretrain run/checkpoint folder.")
    Path backbone;

    @Mixin LabelledSplits splits;

    @Option(names = "--epochs", paramLabel = "N", defaultValue = "" + 100, description = "Training epochs.")
    int epochs;

    @Option(names = "--warmup-epochs", paramLabel = "N", defaultValue = "" + 20, description = "Linear warm-up epochs from lr 0.")
    int warmupEpochs;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "" + 1024, description = "Images per step (even with Mixup/CutMix).")
    int batchSize;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "0.004", description = "Peak learning rate (absolute, not scaled by batch size).")
    double lr;

    @Option(names = "--min-lr", paramLabel = "LR", defaultValue = "1e-6", description = "Learning rate at the end of the cosine.")
    double minLr;

    @Option(names = "--weight-decay", paramLabel = "WD", defaultValue = "0.05", description = "AdamW weight decay (not on biases, norms, pos_embed, cls_token).")
    double weightDecay;

    @Option(names = "--layer-decay", paramLabel = "D", defaultValue = "0.65",
            description = "Layer-wise lr decay: lr * D^(depth + 1 - layer_id); 1 disables it.")
    double layerDecay;

    @Option(names = "--drop-path", paramLabel = "P", defaultValue = "0.1", description = "Stochastic depth of the last block.")
    double dropPath;

    @Option(names = "--smoothing", paramLabel = "E", defaultValue = "0.1", description = "Label smoothing.")
    double smoothing;

    @Option(names = "--mixup", paramLabel = "A", defaultValue = "0.8", description = "Mixup alpha (0: off).")
    double mixup;

    @Option(names = "--cutmix", paramLabel = "A", defaultValue = "1.0", description = "CutMix alpha (0: off).")
    double cutmix;

    @Option(names = "--mixup-prob", paramLabel = "P", defaultValue = "1.0", description = "Probability of mixing a batch.")
    double mixupProb;

    @Option(names = "--mixup-switch-prob", paramLabel = "P", defaultValue = "0.5", description = "Probability of CutMix instead of Mixup.")
    double switchProb;

    @Option(names = "--no-rand-augment", description = "Turn RandAugment (timm's rand-m9-mstd0.5-inc1) off.")
    boolean noRandAugment;

    @Option(names = "--reprob", paramLabel = "P", defaultValue = "0.25", description = "Random-erasing probability.")
    double reprob;

    @Option(names = "--pooling", paramLabel = "mean|cls", defaultValue = "mean", description = "Classifier input: mean of patch tokens + fc_norm (BEiT), or the CLS token.")
    String pooling;

    @Option(names = "--model-ema-decay", paramLabel = "D", defaultValue = "0", description = "EMA of the weights with this decay (BEiT: 0.9999); 0: off.")
    double emaDecay;

    @Option(names = "--img-size", paramLabel = "N", defaultValue = "0", description = "Input side (0: the backbone's own).")
    int imageSize;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "0",
            description = "Attention heads (0: from the file's metadata, a run's preset or a BEiT relative position table, else assumed: width / 64, 16 for ViT-H/g/G).")
    int heads;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of head init, drop path, data order, augmentation, mixing.")
    long seed;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "libtorch/OpenBLAS threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int threads;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "0", description = "Data threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int workers;

    @Mixin DecoderOption decoderOption;

    @Mixin BadImagesOption badImages;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/finetune-<time> in the working directory).")
    Path outDir;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() throws java.io.IOException {
        PrintWriter out = spec.commandLine().getOut();
        boolean mean = switch (pooling.toLowerCase(Locale.ROOT)) {
            case "mean", "avg" -> true;
            case "cls" -> false;
            default -> throw new Main.UsageException("--pooling must be mean or cls, got " + pooling);
        };
        Flags.atLeast("--epochs", epochs, 1);
        Flags.intRange("--warmup-epochs", warmupEpochs, 0, epochs);
        Flags.atLeast("--batch-size", batchSize, 1);
        Flags.rate("--lr", lr);
        Flags.range("--min-lr", minLr, 0, true, lr, true);
        Flags.rateOrZero("--weight-decay", weightDecay);
        Flags.range("--layer-decay", layerDecay, 0, false, 1, true);
        Flags.range("--drop-path", dropPath, 0, true, 1, false);
        Flags.range("--smoothing", smoothing, 0, true, 1, false);
        Flags.nonNegative("--mixup", mixup);
        Flags.nonNegative("--cutmix", cutmix);
        Flags.probability("--mixup-prob", mixupProb);
        Flags.probability("--mixup-switch-prob", switchProb);
        Flags.probability("--reprob", reprob);
        Flags.range("--model-ema-decay", emaDecay, 0, true, 1, false);
        Flags.threads("--threads", threads);
        Flags.threads("--workers", workers);
        double maxBad = badImages.checked();
        FinetuneConfig config;
        try {
            config = new FinetuneConfig(epochs, warmupEpochs, batchSize, lr, minLr, weightDecay, layerDecay, dropPath,
                    smoothing, mixup, cutmix, mixupProb, switchProb, !noRandAugment, reprob, mean, emaDecay, imageSize, seed);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage().startsWith("Mixup/CutMix") ? "--batch-size: " + e.getMessage() : e.getMessage());
        }
        if (!Files.exists(backbone)) throw Main.noSuch("--backbone", backbone, "file or folder");
        Flags.backbone(backbone, heads, imageSize);
        String decoderName = decoderOption.checkedName();
        Path dir = RunFolders.prepare(outDir, "finetune");
        LabelledSplits.Opened sets = splits.open("fine-tuning");
        ImageDataset trainSet = sets.train(), valSet = sets.val();
        if (trainSet.size() < batchSize) {
            throw new Main.UsageException("--batch-size " + batchSize + " exceeds the " + trainSet.size() + " training images");
        }
        ImageDecoder decoder = DecoderOption.open(decoderName);
        int cores = Runtime.getRuntime().availableProcessors();
        Torch.setThreads(threads > 0 ? threads : cores);
        torch.manual_seed(seed);
        BackboneFiles.ForFinetuning ft = BackboneFiles.loadForFinetuning(backbone, heads, imageSize,
                trainSet.classes().size(), mean, dropPath);
        long t0 = System.nanoTime();
        VisionTransformer[] ema = new VisionTransformer[1];
        try (VisionTransformer model = ft.model()) {
            out.println("mvp finetune: " + model.description() + ", " + trainSet.classes().size() + " classes, from " + ft.weightFile());
            out.println("mvp finetune: not in the file (initialised): " + ft.report().missing());
            out.println("mvp finetune: in the file, not used: " + ft.report().unexpected());
            out.println("mvp finetune: train " + trainSet.describe() + "; val " + valSet.describe());
            out.println("mvp finetune: decoder " + ImageDecoders.nameOf(decoder));
            int steps = trainSet.size() / batchSize;
            out.printf("mvp finetune: %d epochs x %d steps of %d, lr %.3g (warm-up %d epochs, min %.1g), layer decay %.3g, "
                    + "drop path %.2g, smoothing %.2g, mixup %.2g / cutmix %.2g (p %.2g, switch %.2g), RandAugment %s, reprob %.2g%n",
                    epochs, steps, batchSize, lr, warmupEpochs, minLr, layerDecay, dropPath, smoothing, mixup, cutmix,
                    mixupProb, switchProb, noRandAugment ? "off" : "rand-m9-mstd0.5-inc1", reprob);
            long every = Math.max(1, (long) steps * epochs / 20);
            FineTuner.Listener listener = new FineTuner.Listener() {
                @Override public void step(int epoch, long step, long total, double loss, double stepLr) {
                    if (step % every == 0 && steps > 1) {
                        out.printf("  step %d/%d epoch %d loss %.4f lr %.3g%n", step, total, epoch, loss, stepLr);
                        out.flush();
                    }
                }

                @Override public void epoch(FineTuner.Epoch e) {
                    out.printf("epoch %3d  loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%.1f s)%n", e.epoch(), e.meanLoss(), e.top1(), e.top5(), e.seconds());
                    out.flush();
                }
            };
            FineTuner.Result r;
            try {
                r = FineTuner.run(model, trainSet, valSet, config, workers > 0 ? workers : cores, decoder, maxBad, listener, ema);
            } catch (dev.mvp.eval.TooManyBadImages e) {
                throw BadImagesOption.explain(e, "fine-tuning");
            }
            out.printf("%nfine-tuned after %d epochs: top-1 %.2f%%  top-5 %.2f%%%s%n", epochs, r.top1(), r.top5(),
                    ema[0] == null ? "" : String.format("   (EMA: top-1 %.2f%%  top-5 %.2f%%)", r.emaTop1(), r.emaTop5()));
            Path weights = dir.resolve("model.safetensors");
            VitConfig c = model.config();
            VitCheckpoints.Layout layout = c.relativePosition() == VitConfig.RelativePosition.NONE
                    ? VitCheckpoints.Layout.TIMM : VitCheckpoints.Layout.BEIT;
            Files.createDirectories(dir);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("num_heads", Integer.toString(c.heads()));
            meta.put("num_classes", Integer.toString(c.numClasses()));
            meta.put("classes", String.join(",", trainSet.classes()));
            try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
                VitCheckpoints.save(dev.mvp.models.io.StateDict.of(model), layout, weights, meta);
            }
            ObjectNode json = Results.object();
            json.put("command", "finetune");
            json.put("protocol", "BEiT run_class_finetuning.py recipe (RandAugment rand-m9-mstd0.5-inc1, see docs/EVALUATION.md)");
            json.put("backbone", ft.weightFile().toString());
            json.put("backbone_file", Backbones.identity(ft.weightFile()));
            json.put("model", model.description());
            json.putPOJO("missing_from_file", ft.report().missing());
            json.putPOJO("unused_from_file", ft.report().unexpected());
            json.put("train", trainSet.describe());
            json.put("val", valSet.describe());
            json.put("decoder", ImageDecoders.nameOf(decoder));
            json.putPOJO("config", config);
            json.put("steps_per_epoch", r.stepsPerEpoch());
            Results.putNumber(json, "top1", r.top1());
            Results.putNumber(json, "top5", r.top5());
            Results.putNumber(json, "ema_top1", r.emaTop1());
            Results.putNumber(json, "ema_top5", r.emaTop5());
            ArrayNode h = json.putArray("history");
            for (FineTuner.Epoch e : r.history()) {
                ObjectNode row = h.addObject();
                row.put("epoch", e.epoch());
                Results.putNumber(row, "loss", e.meanLoss());
                row.put("lr", e.lr());
                Results.putNumber(row, "top1", e.top1());
                Results.putNumber(row, "top5", e.top5());
                row.put("seconds", e.seconds());
            }
            json.put("weights", weights.toString());
            json.put("total_seconds", (System.nanoTime() - t0) / 1e9);
            Results.write(dir.resolve("results.json"), json);
            out.println("mvp finetune: results.json and model.safetensors (" + layout.name().toLowerCase(Locale.ROOT)
                    + " layout) in " + dir.toAbsolutePath());
        } finally {
            if (ema[0] != null) ema[0].close();
        }
        return 0;
    }
}
