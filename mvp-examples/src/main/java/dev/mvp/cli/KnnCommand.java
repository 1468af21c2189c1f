package dev.mvp.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.data.ImageDataset;
import dev.mvp.eval.FeatureExtractor;
import dev.mvp.eval.FeatureSet;
import dev.mvp.eval.KnnClassifier;
import dev.mvp.eval.Results;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code mvp knn}: DINO's weighted k-NN on frozen features. */
@Command(name = "knn", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Weighted k-NN top-1/top-5 on frozen features (DINO's protocol).",
        description = {
                "DINO's eval_knn.py: L2-normalised features, cosine similarity, the k nearest training images vote "
                        + "with weight exp(similarity / T). Prints top-1/top-5 and writes results.json.",
                "Example:",
                "  ./mvp knn --backbone raw-pixels \\",
                "    --train ../shared/data/cifar10/train --val ../shared/data/cifar10/test"})
final class KnnCommand implements Callable<Integer> {

    @Mixin FeatureOptions features;

    @Mixin LabelledSplits splits;

    @Option(names = "--k", paramLabel = "K", split = ",", defaultValue = "" + KnnClassifier.DEFAULT_K,
            description = "Neighbours; several as 10,20,100,200 (DINO's list; 20 is its reference).")
    List<Integer> ks;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "" + KnnClassifier.DEFAULT_TEMPERATURE,
            description = "Vote temperature.")
    double temperature;

    @Option(names = "--out", paramLabel = "DIR", description = "Result folder for results.json (default: runs/knn-<time> in the working directory).")
    Path outDir;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Flags.positive("--temperature", temperature);
        for (int k : ks) Flags.atLeast("--k", k, 1);
        features.validate();
        Path dir = RunFolders.prepare(outDir, "knn");
        LabelledSplits.Opened sets = splits.open("k-NN");
        ImageDataset trainSet = sets.train(), valSet = sets.val();
        int maxK = ks.stream().mapToInt(Integer::intValue).max().orElseThrow();
        if (maxK > trainSet.size()) throw new Main.UsageException("--k " + maxK + " exceeds the " + trainSet.size() + " training images");
        long t0 = System.nanoTime();
        try (FeatureExtractor extractor = features.open()) {
            out.println("mvp knn: " + extractor.describe());
            out.println("mvp knn: decoder " + features.decoderName());
            out.println("mvp knn: train " + trainSet.describe());
            out.println("mvp knn: val   " + valSet.describe());
            try (FeatureSet tr = features.features(extractor, trainSet, "train features", out);
                 FeatureSet va = features.features(extractor, valSet, "val features", out)) {
                long t1 = System.nanoTime();
                List<KnnClassifier.Result> results = KnnClassifier.evaluate(tr, va,
                        ks.stream().mapToInt(Integer::intValue).toArray(), temperature, trainSet.classes().size());
                double knnSeconds = (System.nanoTime() - t1) / 1e9;
                ObjectNode json = Results.object();
                json.put("command", "knn");
                json.put("protocol", "DINO eval_knn.py: L2-normalised features, cosine similarity, votes exp(sim / T)");
                json.put("backbone", features.backbone);
                json.put("backbone_file", Backbones.identity(features.backbone));
                json.put("features", extractor.describe());
                json.put("transform", extractor.transform().describe());
                json.put("decoder", features.decoderName());
                json.put("feature_dim", tr.dim());
                json.put("train", trainSet.describe());
                json.put("train_images", tr.size());
                json.put("val", valSet.describe());
                json.put("val_images", va.size());
                json.put("classes", trainSet.classes().size());
                json.put("temperature", temperature);
                ArrayNode rows = json.putArray("results");
                out.printf("%n%-6s %8s %8s%n", "k", "top-1", "top-5");
                for (KnnClassifier.Result r : results) {
                    out.printf("%-6d %7.2f%% %7.2f%%%n", r.k(), r.top1(), r.top5Acc());
                    ObjectNode row = rows.addObject();
                    row.put("k", r.k());
                    Results.putNumber(row, "top1", r.top1());
                    Results.putNumber(row, "top5", r.top5Acc());
                }
                json.put("knn_seconds", knnSeconds);
                json.put("total_seconds", (System.nanoTime() - t0) / 1e9);
                Path file = dir.resolve("results.json");
                Results.write(file, json);
                out.printf("%nmvp knn: %d train / %d val images, T %.3g, k-NN %.1f s; results %s%n", tr.size(), va.size(),
                        temperature, knnSeconds, file.toAbsolutePath());
            }
        }
        return 0;
    }
}
