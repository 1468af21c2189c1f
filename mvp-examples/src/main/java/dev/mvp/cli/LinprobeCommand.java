package dev.mvp.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.data.ImageDataset;
import dev.mvp.eval.FeatureExtractor;
import dev.mvp.eval.FeatureSet;
import dev.mvp.eval.ProbeConfig;
import dev.mvp.eval.ProbeTrainer;
import dev.mvp.eval.Results;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code mvp linprobe}: MAE's linear probe on frozen, cached features. */
@Command(name = "linprobe", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Linear probe on frozen features (MAE's protocol).",
        description = {
                "MAE's main_linprobe.py: BatchNorm without affine parameters + a linear layer trained on frozen "
                        + "features with LARS (or SGD), lr = blr * batch / 256, warm-up then half-cycle cosine, 90 epochs.",
                "By default features are extracted once (centre crops) and cached and the probe trains on them; "
                        + "--augment runs MAE's per-epoch RandomResizedCrop + flip through the frozen backbone instead (slow).",
                "Prints top-1/top-5 and writes results.json.",
                "Small data (about 100 images per class; LARS at batch 128, peak lr 0.5):",
                "  --probe-batch-size 128 --blr 1"})
final class LinprobeCommand implements Callable<Integer> {

    @Mixin FeatureOptions features;

    @Mixin LabelledSplits splits;

    @Option(names = "--epochs", paramLabel = "N", defaultValue = "90", description = "Training epochs (MAE: 90).")
    int epochs;

    @Option(names = "--probe-batch-size", paramLabel = "N", defaultValue = "16384",
            description = "Features per probe step (MAE: 16384); capped at the training set size.")
    int probeBatch;

    @Option(names = "--blr", paramLabel = "LR", defaultValue = "0.1", description = "Base learning rate; the peak is blr * batch / 256 (MAE: 0.1).")
    double blr;

    @Option(names = "--optimizer", paramLabel = "lars|sgd", defaultValue = "lars", description = "LARS (MAE) or SGD with momentum 0.9.")
    String optimizer;

    @Option(names = "--weight-decay", paramLabel = "WD", defaultValue = "0", description = "Weight decay (MAE: 0).")
    double weightDecay;

    @Option(names = "--warmup-epochs", paramLabel = "N", defaultValue = "10", description = "Linear warm-up epochs (MAE: 10).")
    double warmupEpochs;

    @Option(names = "--augment",
            description = "MAE's full protocol: re-draw RandomResizedCrop + flip of every training image each epoch and run the frozen backbone on it (slow); default: cached centre-crop features.")
    boolean augment;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Seed of the probe's init and the shuffles.")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Result folder for results.json (default: runs/linprobe-<time> in the working directory).")
    Path outDir;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /** Runs of at most this many epochs print every epoch. */
    static final int EVERY_EPOCH_UP_TO = 30;

    static String epochLine(ProbeTrainer.Epoch e, String note) {
        return String.format("  epoch %3d  loss %.4f  lr %.3g  top-1 %.2f%%  top-5 %.2f%%%s", e.epoch(), e.meanLoss(),
                e.lastLr(), e.top1(), e.top5(), note);
    }

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Flags.atLeast("--epochs", epochs, 1);
        Flags.atLeast("--probe-batch-size", probeBatch, 1);
        Flags.rate("--blr", blr);
        Flags.rateOrZero("--weight-decay", weightDecay);
        Flags.range("--warmup-epochs", warmupEpochs, 0, true, epochs, true);
        ProbeConfig config;
        try {
            config = new ProbeConfig(epochs, probeBatch, blr, ProbeConfig.OptimizerKind.parse(optimizer), weightDecay, 0.9,
                    warmupEpochs, 0, seed);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--optimizer: " + e.getMessage());
        }
        features.validate();
        if (augment && features.backbone.equals(dev.mvp.eval.Extractors.RAW_PIXELS)) {
            throw new Main.UsageException("--augment needs a backbone (its inputs are ImageNet-normalised crops), not raw-pixels");
        }
        Path dir = RunFolders.prepare(outDir, "linprobe");
        LabelledSplits.Opened sets = splits.open("the probe");
        ImageDataset trainSet = sets.train(), valSet = sets.val();
        long t0 = System.nanoTime();
        try (FeatureExtractor extractor = features.open()) {
            out.println("mvp linprobe: " + extractor.describe());
            out.println("mvp linprobe: decoder " + features.decoderName());
            try (FeatureSet tr = augment ? null : features.features(extractor, trainSet, "train features", out);
                 FeatureSet va = features.features(extractor, valSet, "val features", out)) {
                int trainSize = trainSet.size();
                int batch = Math.min(config.batchSize(), trainSize);
                config = config.withBatchSize(batch);
                int steps = trainSize / batch;
                out.printf("mvp linprobe: %d epochs x %d steps of %d, %s, peak lr %.4g, warm-up %.3g epochs%n", config.epochs(),
                        steps, batch, config.optimizer(), config.peakLr(), config.warmupEpochs());
                if (steps * config.epochs() < 500) {
                    out.printf("mvp linprobe: note: only %d steps in all; MAE's recipe is made for ImageNet (78 steps per epoch); "
                            + "on small data use a smaller --probe-batch-size or more --epochs%n", steps * config.epochs());
                }
                long t1 = System.nanoTime();
                // every epoch up to EVERY_EPOCH_UP_TO epochs, else about ten; the best epoch's line is added at the end
                int every = config.epochs() <= EVERY_EPOCH_UP_TO ? 1 : Math.max(1, config.epochs() / 10);
                java.util.Set<Integer> printed = new java.util.HashSet<>();
                ProbeTrainer.Listener listener = e -> {
                    if (e.epoch() == 1 || e.epoch() % every == 0 || e.epoch() == epochs) {
                        out.println(epochLine(e, ""));
                        printed.add(e.epoch());
                        out.flush();
                    }
                };
                ProbeTrainer.Result r;
                try {
                    r = augment
                            ? ProbeTrainer.trainAugmented(extractor, trainSet, va, config, features.workerCount(),
                                    features.decoder(), features.maxBadFraction(), listener, null)
                            : ProbeTrainer.train(tr, va, config, listener, null);
                } catch (dev.mvp.eval.TooManyBadImages e) {
                    throw BadImagesOption.explain(e, "train images");
                }
                double trainSeconds = (System.nanoTime() - t1) / 1e9;
                if (!printed.contains(r.bestEpoch())) {
                    r.history().stream().filter(e -> e.epoch() == r.bestEpoch()).findFirst()
                            .ifPresent(e -> out.println(epochLine(e, "  (best)")));
                }
                out.printf("%nlinear probe after %d epochs: top-1 %.2f%%  top-5 %.2f%%   (best epoch %d: %.2f%%, for information: "
                        + "picking it selects on the evaluation set)%n", config.epochs(), r.top1(), r.top5(), r.bestEpoch(), r.bestTop1());
                ObjectNode json = Results.object();
                json.put("command", "linprobe");
                json.put("protocol", augment
                        ? "MAE main_linprobe.py: RandomResizedCrop + flip each epoch through the frozen backbone; BatchNorm1d(affine=False, eps=1e-6) + Linear"
                        : "MAE main_linprobe.py on cached centre-crop features: BatchNorm1d(affine=False, eps=1e-6) + Linear");
                json.put("augmented", augment);
                json.put("backbone", features.backbone);
                json.put("backbone_file", Backbones.identity(features.backbone));
                json.put("features", extractor.describe());
                json.put("transform", extractor.transform().describe());
                json.put("decoder", features.decoderName());
                json.put("feature_dim", va.dim());
                json.put("train", trainSet.describe());
                json.put("train_images", trainSize);
                json.put("val", valSet.describe());
                json.put("val_images", va.size());
                ObjectNode c = json.putObject("config");
                c.put("epochs", config.epochs());
                c.put("batch_size", config.batchSize());
                c.put("blr", config.baseLr());
                c.put("peak_lr", config.peakLr());
                c.put("optimizer", config.optimizer().name().toLowerCase(java.util.Locale.ROOT));
                c.put("weight_decay", config.weightDecay());
                c.put("momentum", config.momentum());
                c.put("warmup_epochs", config.warmupEpochs());
                c.put("seed", config.seed());
                Results.putNumber(json, "top1", r.top1());
                Results.putNumber(json, "top5", r.top5());
                json.put("best_epoch", r.bestEpoch());
                Results.putNumber(json, "best_top1", r.bestTop1());
                ArrayNode h = json.putArray("history");
                for (ProbeTrainer.Epoch e : r.history()) {
                    ObjectNode row = h.addObject();
                    row.put("epoch", e.epoch());
                    Results.putNumber(row, "loss", e.meanLoss());
                    row.put("lr", e.lastLr());
                    Results.putNumber(row, "top1", e.top1());
                    Results.putNumber(row, "top5", e.top5());
                }
                json.put("train_seconds", trainSeconds);
                json.put("total_seconds", (System.nanoTime() - t0) / 1e9);
                Path file = dir.resolve("results.json");
                Results.write(file, json);
                out.println("mvp linprobe: results " + file.toAbsolutePath());
            }
        }
        return 0;
    }
}
