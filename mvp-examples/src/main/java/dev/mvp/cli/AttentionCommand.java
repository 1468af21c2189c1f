package dev.mvp.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.Torch;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.DataException;
import dev.mvp.data.DecodeException;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.RgbImage;
import dev.mvp.eval.AttentionMaps;
import dev.mvp.eval.BackboneFiles;
import dev.mvp.eval.Features;
import dev.mvp.eval.Results;
import dev.mvp.eval.Subset;
import dev.mvp.eval.TooManyBadImages;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.io.SafeTensorsWriter;
import org.bytedeco.javacpp.PointerScope;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code mvp attention}: Figure 3's CLS attention maps for a folder or file list of images, as PNG sheets. */
@Command(name = "attention", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "CLS attention maps of the last block (the paper's Figure 3).",
        description = {
                "DINO's visualize_attention.py: the last block's attention of the CLS token to every patch, averaged "
                        + "over the heads, upsampled and overlaid on the image.",
                "Writes PNG sheets (image | map | overlay per row), maps.safetensors and results.json."})
final class AttentionCommand implements Callable<Integer> {

    @Option(names = "--backbone", paramLabel = "FILE|DIR", required = true,
            description = "Backbone weights in timm's or BEiT's layout (safetensors or .pth), or a pretrain run/checkpoint folder.")
    Path backbone;

    @Option(names = "--images", paramLabel = "DIR|FILE", required = true,
            description = "Images: a flat folder or class sub-folders (JPEG/PNG), or a file list: a text file with one "
                    + "'path [label]' per line, relative paths from the list's folder (as pretrain --data).")
    Path images;

    @Option(names = "--max-images", paramLabel = "N", defaultValue = "0", description = "Only the first N images (0: all).")
    int maxImages;

    @Option(names = "--per-sheet", paramLabel = "N", defaultValue = "8", description = "Images per PNG sheet (1.." + MAX_PER_SHEET + ").")
    int perSheet;

    @Option(names = "--upsample", paramLabel = "nearest|bilinear", defaultValue = "nearest",
            description = "How the patch grid is enlarged to pixels (DINO: nearest).")
    String upsample;

    @Option(names = "--zoom", paramLabel = "N", defaultValue = "0",
            description = "Enlarge each panel N times for viewing (0: to about 224 pixels; at most " + MAX_ZOOM
                    + ", and panels of at most " + MAX_PANEL + " pixels).")
    int zoom;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "0",
            description = "Attention heads (0: from the file's metadata, a run's preset or a BEiT relative position table, else assumed: width / 64, 16 for ViT-H/g/G).")
    int heads;

    @Option(names = "--img-size", paramLabel = "N", defaultValue = "0", description = "Input side (0: the backbone's own).")
    int imageSize;

    @Option(names = "--crop-pct", paramLabel = "F", defaultValue = "1",
            description = "Centre-crop fraction (1: the largest centred square of the resized image).")
    double cropPct;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "16", description = "Images per forward pass.")
    int batchSize;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "libtorch/OpenBLAS threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int threads;

    @CommandLine.Mixin DecoderOption decoderOption;

    @CommandLine.Mixin BadImagesOption badImages;

    /** The most images per sheet. */
    static final int MAX_PER_SHEET = 64;
    /** The largest --zoom. */
    static final int MAX_ZOOM = 16;
    /** The largest panel side in pixels (input side x zoom). */
    static final int MAX_PANEL = 2048;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/attention-<time> in the working directory).")
    Path outDir;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Flags.atLeast("--max-images", maxImages, 0);
        Flags.intRange("--per-sheet", perSheet, 1, MAX_PER_SHEET);
        Flags.intRange("--zoom", zoom, 0, MAX_ZOOM);
        Flags.atLeast("--batch-size", batchSize, 1);
        Flags.threads("--threads", threads);
        Flags.range("--crop-pct", cropPct, 0, false, 1, true);
        double maxBad = badImages.checked();
        if (!Files.exists(backbone)) throw Main.noSuch("--backbone", backbone, "file or folder");
        int own = Flags.backbone(backbone, heads, imageSize).imageSize();
        int side = imageSize > 0 ? imageSize : own;
        int z = zoom > 0 ? zoom : Math.max(1, (int) Math.round(224.0 / side));
        if ((long) side * z > MAX_PANEL) {
            throw new Main.UsageException("--zoom " + z + " makes " + side * z + "-pixel panels of the " + side
                    + "-pixel input, more than " + MAX_PANEL + "; use --zoom <= " + Math.max(1, MAX_PANEL / side));
        }
        EvalTransform transform = Flags.transform(() -> new EvalTransform(side, cropPct, Interpolation.BICUBIC,
                ImageNormalization.IMAGENET));
        AttentionMaps.Upsampling mode;
        try {
            mode = AttentionMaps.Upsampling.parse(upsample);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--upsample: " + e.getMessage());
        }
        String decoderName = decoderOption.checkedName();
        Path dir = RunFolders.prepare(outDir, "attention");
        Torch.setThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        ImageDecoder decoder = DecoderOption.open(decoderName); // the loader's, and re-decodes each image for its sheet
        ImageDataset folder = ImageDataset.open(images); // a folder or a file list, by what the path is
        ImageDataset data = folder;
        if (maxImages > 0 && maxImages < folder.size()) {
            int[] first = new int[maxImages];
            for (int i = 0; i < maxImages; i++) first[i] = i;
            data = Subset.of(folder, first);
        }
        BackboneFiles.Loaded loaded = BackboneFiles.load(backbone, new BackboneFiles.Options(heads, imageSize, 0));
        try (VisionTransformer vit = loaded.model()) {
            int size = vit.imageSize(), g = vit.config().gridSize();
            out.println("mvp attention: " + vit.description() + " from " + loaded.weightFile() + "; " + data.describe()
                    + "; decoder " + ImageDecoders.nameOf(decoder));
            ObjectNode json = Results.object();
            json.put("command", "attention");
            json.put("protocol", "CLS-query attention of the last block, mean over heads, patches only; " + mode.name().toLowerCase(java.util.Locale.ROOT) + " upsampling");
            json.put("backbone", loaded.weightFile().toString());
            json.put("backbone_file", Backbones.identity(loaded.weightFile()));
            json.put("model", vit.description());
            json.put("transform", transform.describe());
            json.put("decoder", ImageDecoders.nameOf(decoder));
            json.put("images", data.size());
            json.put("grid", g);
            ArrayNode rows = json.putArray("maps");
            ArrayNode sheets = json.putArray("sheets");
            float[] all = new float[data.size() * g * g];
            int mapped = 0;
            List<AttentionMaps.Entry> pending = new ArrayList<>();
            int sheet = 0;
            dev.mvp.data.LoaderConfig loaderConfig = Features.loaderConfig(batchSize, Runtime.getRuntime().availableProcessors(),
                    decoder).withMaxBadFraction(maxBad);
            TooManyBadImages.Counter warnings = new TooManyBadImages.Counter(loaderConfig.warnings());
            try (BatchLoader loader = BatchLoader.evaluation(data, transform, loaderConfig.withWarnings(warnings))) {
                while (loader.hasNext()) {
                    float[][] maps;
                    int[] indices;
                    try (PointerScope scope = new PointerScope()) {
                        Batch batch = loader.next();
                        indices = batch.sampleIndices();
                        maps = AttentionMaps.clsAttention(vit, batch.view(0));
                    }
                    for (int i = 0; i < indices.length; i++) {
                        int index = indices[i];
                        float[] m = maps[i];
                        System.arraycopy(m, 0, all, mapped++ * g * g, g * g);
                        int peak = AttentionMaps.argmax(m);
                        String name = data.path(index).getFileName().toString();
                        ObjectNode row = rows.addObject();
                        row.put("file", data.path(index).toString());
                        row.put("peak_row", peak / g);
                        row.put("peak_col", peak % g);
                        row.put("peak_value", m[peak]);
                        row.put("sheet", sheet + pending.size() / perSheet);
                        pending.add(new AttentionMaps.Entry(transform.crop(decode(decoder, data.path(index))),
                                AttentionMaps.upsample(m, g, size, mode),
                                name + "  peak patch (" + peak / g + ", " + peak % g + ") " + String.format("%.3f", m[peak])));
                        if (pending.size() == perSheet) {
                            sheets.add(writeSheet(pending, z, dir, sheet++, out));
                            pending.clear();
                        }
                    }
                }
            } catch (RuntimeException e) {
                RuntimeException explained = warnings.explain(e, data.size(), maxBad, data.describe());
                if (explained instanceof TooManyBadImages t) throw BadImagesOption.explain(t, "images");
                throw e;
            }
            if (!pending.isEmpty()) sheets.add(writeSheet(pending, z, dir, sheet, out));
            try (PointerScope scope = new PointerScope()) {
                Map<String, org.bytedeco.pytorch.Tensor> t = new LinkedHashMap<>();
                t.put("maps", dev.mvp.api.Tensors.ofFloats(java.util.Arrays.copyOf(all, mapped * g * g), mapped, g, g));
                SafeTensorsWriter.write(dir.resolve("maps.safetensors"), t, Map.of("about",
                        "CLS attention of the last block, mean over heads, [images, grid, grid], rows in results.json order"));
            }
            json.put("skipped", data.size() - mapped);
            Results.write(dir.resolve("results.json"), json);
            out.println("mvp attention: " + mapped + " maps" + (mapped < data.size() ? " (" + (data.size() - mapped)
                    + " undecodable images skipped)" : "") + ", " + sheets.size() + " sheets, maps.safetensors and results.json in "
                    + dir.toAbsolutePath());
        }
        return 0;
    }

    private static RgbImage decode(ImageDecoder decoder, Path file) {
        try {
            return decoder.decode(file);
        } catch (DecodeException e) {
            throw new DataException("cannot decode image " + e.getMessage(), e);
        }
    }

    private static String writeSheet(List<AttentionMaps.Entry> entries, int zoom, Path dir, int index, PrintWriter out) {
        Path file = dir.resolve(String.format("attention-%03d.png", index));
        AttentionMaps.writeSheet(entries, zoom, file);
        out.println("  " + file);
        out.flush();
        return file.getFileName().toString();
    }
}
