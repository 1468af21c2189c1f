package dev.mvp.cli;

import dev.mvp.eval.BackboneFiles;
import dev.mvp.models.VitConfig;
import dev.mvp.models.dalle.DalleEncoder;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.TorchCheckpoint;
import dev.mvp.models.io.Weights;
import dev.mvp.tokenizers.Teachers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code mvp inspect FILE}: the tensors of a weight file (name, dtype, shape), their total size, and the teacher
 * layout it was detected as. Reads names and shapes only (for safetensors and {@code torch.save} files nothing is
 * loaded; a TorchScript archive is opened by libtorch). Exit 1 for a missing or unreadable file.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "A weight file's tensors and the layout it is detected as.",
        description = {
                "List the tensors of a weight file (safetensors, torch.save .pt/.pth/.bin, TorchScript): name, dtype, "
                        + "shape; the total parameter count; and the teacher layout it was detected as.",
                "torch.save checkpoints are read without running their pickle's code."})
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "FILE", description = "The weight file.")
    Path file;

    @Option(names = "--key-path", paramLabel = "PATH", defaultValue = "",
            description = "Where the state dict is inside a torch.save checkpoint, keys joined by / (e.g. teacher, "
                    + "model/state_dict); empty: the top level or the first of state_dict, model, teacher, module.")
    String keyPath;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        if (!Files.isRegularFile(file)) throw Main.noSuch("FILE", file, "file");
        PrintWriter out = spec.commandLine().getOut();
        // DALL-E's encoder.pkl pickles whole objects: their classes are admitted as inert data (never imported or run)
        try (Weights weights = Weights.open(file, keyPath, DalleEncoder.PICKLED_ENCODER)) {
            out.println(file + ": " + weights.format() + where(weights));
            List<TensorInfo> infos = new ArrayList<>();
            int nameWidth = 4, dtypeWidth = 5;
            for (String name : weights.names()) {
                TensorInfo info = weights.info(name);
                infos.add(info);
                nameWidth = Math.max(nameWidth, name.length());
                dtypeWidth = Math.max(dtypeWidth, info.dtype().name().length());
            }
            String row = "  %-" + nameWidth + "s  %-" + dtypeWidth + "s  %s%n";
            out.printf(Locale.ROOT, row, "name", "dtype", "shape");
            long floating = 0, other = 0;
            for (TensorInfo info : infos) {
                out.printf(Locale.ROOT, row, info.name(), info.dtype(), Arrays.toString(info.shape()));
                if (info.isFloatingPoint()) floating += info.numel();
                else other += info.numel();
            }
            out.printf(Locale.ROOT, "%d tensors, %,d parameters (floating-point values)%s%n", infos.size(), floating,
                    other == 0 ? "" : String.format(Locale.ROOT, ", %,d integer or boolean values", other));
            Optional<Teachers.Detected> detected = Teachers.detect(weights);
            Optional<BackboneFiles.Inferred> vit = backbone(file, weights);
            if (vit.isPresent() && vit.get().layout().equals("beit")) {
                // BEiT's layout (relative position tables, q/v biases): what export --format beit, finetune and
                // segment write; a DINO teacher never has it
                out.println("layout: vit beit: ViT backbone in BEiT's layout" + under(vit.get().prefix()) + ": "
                        + summary(vit.get()));
            } else {
                out.println("layout: " + detected.map(d -> d.kind() + " " + d.layout() + ": " + headsAsResolved(d, vit))
                        .orElseGet(() -> otherLayout(weights)));
            }
            // the heads as knn, linprobe, finetune, segment and attention resolve them (BackboneFiles)
            vit.ifPresent(v -> out.println("backbone: " + v.layout() + " layout, " + summary(v)));
        }
        return 0;
    }

    /** The ViT backbone the evaluation commands would read from the file, if they can read one. */
    private static Optional<BackboneFiles.Inferred> backbone(Path file, Weights weights) {
        if (weights instanceof dev.mvp.models.io.TorchScriptArchive) return Optional.empty();
        try {
            return Optional.of(BackboneFiles.describe(file, 0));
        } catch (RuntimeException e) { // not a ViT in timm's or BEiT's naming, or heads that cannot be resolved
            return Optional.empty();
        }
    }

    private static String under(String prefix) {
        return prefix.isEmpty() ? "" : " ('" + prefix + "*')";
    }

    private static String summary(BackboneFiles.Inferred v) {
        VitConfig c = v.config();
        return "width " + c.width() + ", depth " + c.depth() + ", patch " + c.patchSize() + ", image " + c.imageSize()
                + ", heads " + c.heads() + " from " + v.headsSource();
    }

    /** A teacher's description with its heads replaced by the backbone's resolved heads and their source. */
    private static String headsAsResolved(Teachers.Detected d, Optional<BackboneFiles.Inferred> vit) {
        if (vit.isEmpty()) return d.description();
        return d.description().replaceFirst("heads \\d+ \\(width / 64\\)",
                java.util.regex.Matcher.quoteReplacement("heads " + vit.get().config().heads() + " from " + vit.get().headsSource()));
    }

    /** For a {@code torch.save} checkpoint: where the state dict was found, and what else is at the top level. */
    private static String where(Weights weights) {
        if (!(weights instanceof TorchCheckpoint checkpoint)) return "";
        String at = checkpoint.keyPath().isEmpty() ? ", the top-level state dict" : ", state dict at '" + checkpoint.keyPath() + "'";
        if (!checkpoint.keyPath().isEmpty() && checkpoint.root() instanceof Map<?, ?> top) {
            List<String> keys = top.keySet().stream().map(String::valueOf).limit(12).toList();
            at += " (top-level keys: " + String.join(", ", keys) + (top.size() > 12 ? ", ..." : "") + ")";
        }
        return at;
    }

    /** A Vision Transformer in timm's naming (timm, DINO, BEiT students) that no teacher claimed, or nothing known. */
    private static String otherLayout(Weights weights) {
        for (String name : weights.names()) {
            if (!name.endsWith("patch_embed.proj.weight")) continue;
            String prefix = name.substring(0, name.length() - "patch_embed.proj.weight".length());
            if (weights.contains(prefix + "cls_token") || weights.contains(prefix + "pos_embed")) {
                return "a ViT in timm's naming (timm, DINO, BEiT)" + (prefix.isEmpty() ? "" : " under '" + prefix + "'")
                        + ", not a teacher checkpoint this build recognises";
            }
        }
        return "not recognised (no CLIP, DINO or DALL-E teacher, nor a ViT in timm's naming)";
    }
}
