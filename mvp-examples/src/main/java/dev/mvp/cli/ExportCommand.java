package dev.mvp.cli;

import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitCheckpoints.Layout;
import dev.mvp.models.VitConfig;
import dev.mvp.train.BackboneExport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code mvp export}: the student backbone of a pre-training checkpoint as a safetensors file in timm's or BEiT's
 * naming. Exit 1 for a missing folder; exit 2 for an unknown format or an --out whose folder does not exist; exit 1 for a
 * folder without a checkpoint, or weights that do not fit (messages name the file and tensor).
 */
@Command(name = "export", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "A pretrain checkpoint's backbone as timm or BEiT safetensors.",
        description = {
                "Export the student backbone of a pre-training checkpoint (mvp pretrain) as safetensors in timm's or "
                        + "BEiT's naming, which Python's load_state_dict(..., strict=True) reads without renaming.",
                "The MVP head and the mask token are left out. The file's metadata says how to build the model in Python."})
final class ExportCommand implements Callable<Integer> {

    /** The --format values. */
    enum Format {
        timm(Layout.TIMM), beit(Layout.BEIT);

        final Layout layout;

        Format(Layout layout) {
            this.layout = layout;
        }
    }

    @Option(names = "--checkpoint", paramLabel = "DIR", required = true,
            description = "A checkpoint folder (runs/X/checkpoints/step-N), or a run folder (runs/X): its latest "
                    + "complete checkpoint.")
    Path checkpoint;

    @Option(names = "--format", paramLabel = "timm|beit", required = true,
            description = "timm: timm's VisionTransformer (blocks.N.attn.qkv.bias, blocks.N.ls1.gamma). beit: BEiT's "
                    + "models and timm's Beit (blocks.N.attn.q_bias/v_bias, gamma_1/gamma_2, relative position tables).")
    Format format;

    @Option(names = "--out", paramLabel = "FILE", required = true,
            description = "The safetensors file to write (replaced atomically if it exists; missing folders are created).")
    Path out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        if (!Files.exists(checkpoint)) throw Main.noSuch("--checkpoint", checkpoint, "folder");
        if (!Files.isDirectory(checkpoint)) {
            throw new Main.UsageException("--checkpoint " + checkpoint + ": a file, expected a run folder or one of its checkpoint folders");
        }
        RunFolders.checkOutputFile("--out", out);
        BackboneExport.Result r = BackboneExport.export(checkpoint, format.layout, out);
        PrintWriter w = spec.commandLine().getOut();
        VitConfig c = r.config();
        w.printf(Locale.ROOT, "mvp export: %s (step %d): ViT width %d, depth %d, heads %d, patch %d, image %d -> %s "
                        + "(%s layout, %d tensors, %,d parameters)%n", r.checkpoint(), r.step(), c.width(), c.depth(),
                c.heads(), c.patchSize(), c.imageSize(), r.out(), format, r.tensors(), r.parameters());
        w.println("mvp export: load it in Python with:");
        VitCheckpoints.pythonSnippet(c, format.layout, out.toString()).lines().forEach(l -> w.println("    " + l));
        return 0;
    }
}
