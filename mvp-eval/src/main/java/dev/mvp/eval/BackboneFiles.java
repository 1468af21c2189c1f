package dev.mvp.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.Torch;
import dev.mvp.models.PositionResampling;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitConfig;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.VitConfig.RelativePosition;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Loads a {@link VisionTransformer} backbone for evaluation from what users have, inferring its shape from the
 * weights so that no architecture flags are needed:
 * <ul>
 *   <li>a weight file in timm's or BEiT's layout: safetensors (what {@code ./mvp export} writes, what Hugging Face
 *       hosts) or a {@code torch.save} checkpoint ({@code .pth}; the state dict is found under the usual keys
 *       {@code model}, {@code state_dict}, {@code teacher}, {@code module}), with the names optionally under one
 *       prefix ({@code backbone.}, {@code module.}, {@code encoder.}: whatever precedes {@code cls_token});</li>
 *   <li>a run folder of {@code ./mvp pretrain} (its {@code checkpoints/latest} is read) or one of its checkpoint
 *       folders ({@code model.safetensors}, the student under {@code backbone.}).</li>
 * </ul>
 *
 * <p>What is inferred, and from which tensor: width ({@code cls_token}), patch size ({@code patch_embed.proj.weight}),
 * depth (the {@code blocks.N} present), MLP ratio ({@code blocks.0.mlp.fc1.weight}), the attention bias (fused
 * {@code qkv.bias}, BEiT's {@code q_bias}/{@code v_bias}, or none), layer scale ({@code ls1.gamma} or
 * {@code gamma_1}), relative position bias (shared {@code rel_pos_bias.*} or per block), absolute position embedding
 * and the image size it was made for ({@code pos_embed}; else the relative table's grid), pooling ({@code fc_norm}
 * present: mean pooling; else CLS with the final {@code norm}). A classifier {@code head.*} in the file is ignored.
 *
 * <p><b>Damaged files</b> are refused naming the tensor: a gap in the block numbering or a block lacking a tensor
 * block 0 has ({@link #blockDepth}); safetensors metadata stating a depth, width, patch size or image size other than
 * the tensors give ({@code checkMetadata}); NaN or infinite values in a loaded weight (one {@code isfinite().all()}
 * per tensor).
 *
 * <p><b>Attention heads</b> are in no weight shape of a plain ViT. Every source that states them is consulted and all
 * must agree, else loading fails naming both ({@link #resolveHeads}): {@link Options#heads()} (the {@code --heads}
 * flag), the safetensors metadata ({@code mvp_vit_config}, the configuration {@code ./mvp export} records, or a
 * {@code num_heads} / {@code heads} key, written by {@code ./mvp finetune} and {@code ./mvp segment}), a
 * checkpoint's {@code model.json} or else its run's {@code config.json} model preset (whose width must be the
 * file's), and a relative position table (BEiT's {@code relative_position_bias_table} is {@code [rows, heads]}: the
 * one shape that holds them). With none of these
 * the count is <b>assumed</b>: 16 for the widths of ViT-H (1280), ViT-g (1408) and ViT-G (1664), else
 * {@code width / 64} (true of timm's, DeiT's, DINO's, MAE's and BEiT's Ti/S/B/L); a model with other heads then gives
 * wrong features without any error, so such files need {@code --heads}. {@link Loaded#headsSource()} says which
 * source gave the count.
 */
public final class BackboneFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BackboneFiles() {}

    /**
     * How to build the model.
     *
     * @param heads     attention heads, or 0 to infer (see the class comment)
     * @param imageSize input side in pixels, or 0 for the size the weights were made for (position parameters are
     *                  resampled otherwise, timm's way)
     * @param blocks    keep only the first {@code blocks} transformer blocks (features of an intermediate block: the
     *                  final norm then applies to that block's output, as DINO and BEiT read intermediate layers);
     *                  0 for all
     */
    public record Options(int heads, int imageSize, int blocks) {
        public Options {
            if (heads < 0 || imageSize < 0 || blocks < 0) {
                throw new IllegalArgumentException("heads, imageSize and blocks must be >= 0 (0 = inferred), got "
                        + heads + ", " + imageSize + ", " + blocks);
            }
        }

        /** Everything inferred. */
        public static Options inferred() {
            return new Options(0, 0, 0);
        }

        public Options withImageSize(int size) {
            return new Options(heads, size, blocks);
        }

        public Options withBlocks(int n) {
            return new Options(heads, imageSize, n);
        }

        public Options withHeads(int n) {
            return new Options(n, imageSize, blocks);
        }
    }

    /**
     * A loaded backbone, the weight file it came from and the configuration used; {@code headsSource} says where the
     * number of attention heads came from (starting with "assumed" when no source stated it).
     */
    public record Loaded(VisionTransformer model, Path weightFile, String prefix, VitConfig config, int fileDepth,
                         String headsSource) {}

    /**
     * Loads a backbone (see the class comment). Call it outside any PointerScope: the model is long-lived. The model
     * is in {@code eval()} mode.
     *
     * @throws WeightFormatException naming the file (and tensor) when it is not a usable ViT checkpoint
     * @throws IllegalArgumentException when an option does not fit the weights (more blocks than the file has, heads
     *                                  that do not divide the width)
     */
    public static Loaded load(Path source, Options options) {
        Objects.requireNonNull(source, "source");
        Torch.init();
        Path file = weightFile(source);
        RunModel run = runModel(source, file);
        try (Weights w = Weights.open(file)) {
            String prefix = prefixOf(w);
            Heads heads = heads(w, prefix, options.heads(), run);
            VitConfig full = infer(w, prefix, heads.count());
            int depth = options.blocks() == 0 ? full.depth() : options.blocks();
            if (depth > full.depth()) {
                throw new IllegalArgumentException(file + " has " + full.depth() + " blocks; cannot keep " + depth);
            }
            VitConfig config = full.withDepth(depth);
            if (options.imageSize() > 0) config = config.withImageSize(options.imageSize());
            VisionTransformer vit = VisionTransformer.create(config);
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> weights = new LinkedHashMap<>();
                for (String name : w.names()) {
                    if (!name.startsWith(prefix)) continue;
                    String n = name.substring(prefix.length());
                    if (n.startsWith("head.") || n.startsWith("lm_head.")) continue;
                    if (n.startsWith("blocks.")) {
                        int b = blockIndex(n);
                        if (b >= depth) continue;
                    }
                    weights.put(n, finiteTensor(w, name));
                }
                VitCheckpoints.copyInto(vit, weights, file + (prefix.isEmpty() ? "" : " (" + prefix + "*)"),
                        PositionResampling.Style.TIMM, true);
            } catch (RuntimeException e) {
                vit.close();
                throw e;
            }
            vit.eval();
            return new Loaded(vit, file, prefix, config, full.depth(), heads.source());
        }
    }

    /** A model set up for fine-tuning, and what its weights left out (see {@link #loadForFinetuning}). */
    public record ForFinetuning(VisionTransformer model, Path weightFile, VitConfig config, VitCheckpoints.LoadReport report) {}

    /**
     * A classifier initialised from {@code source} the way BEiT's {@code run_class_finetuning.py} does it: the
     * inferred architecture with {@code numClasses} outputs (a new head, BEiT's init), mean pooling with
     * {@code fc_norm} or CLS pooling, stochastic depth {@code dropPath}, a shared relative position table expanded
     * into one per block, position parameters resampled to {@code imageSize} (BEiT's plain bicubic), the file's own
     * {@code head.*} dropped, and a non-strict load: parameters the file lacks ({@code fc_norm}, say) keep their
     * initial values and weights the model lacks (the pre-training {@code norm} under mean pooling) are ignored;
     * both are listed in the report. Call outside any PointerScope, after seeding libtorch (the head is random).
     */
    public static ForFinetuning loadForFinetuning(Path source, int heads, int imageSize, int numClasses,
                                                  boolean meanPooling, double dropPath) {
        Torch.init();
        if (numClasses < 1) throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
        Path file = weightFile(source);
        RunModel run = runModel(source, file);
        try (Weights w = Weights.open(file)) {
            String prefix = prefixOf(w);
            VitConfig inferred = infer(w, prefix, heads(w, prefix, heads, run).count());
            VitConfig config = inferred.withNumClasses(numClasses).withPooling(meanPooling ? Pooling.MEAN : Pooling.CLS)
                    .withDropPath(dropPath);
            if (config.relativePosition() == RelativePosition.SHARED) config = config.withRelativePosition(RelativePosition.PER_BLOCK);
            if (imageSize > 0) config = config.withImageSize(imageSize);
            VisionTransformer vit = VisionTransformer.create(config);
            VitCheckpoints.LoadReport report;
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> weights = new LinkedHashMap<>();
                for (String name : w.names()) {
                    if (!name.startsWith(prefix)) continue;
                    String n = name.substring(prefix.length());
                    if (n.startsWith("head.") || n.startsWith("lm_head.")) continue;
                    weights.put(n, finiteTensor(w, name));
                }
                report = VitCheckpoints.copyInto(vit, weights, file + (prefix.isEmpty() ? "" : " (" + prefix + "*)"),
                        PositionResampling.Style.BEIT, false);
            } catch (RuntimeException e) {
                vit.close();
                throw e;
            }
            return new ForFinetuning(vit, file, config, report);
        }
    }

    /** The configuration {@link #load} would use for {@code source} with all blocks and its own image size. */
    public static VitConfig inferConfig(Path source, int heads) {
        return describe(source, heads).config();
    }

    /**
     * What {@link #load} would build, read from names, shapes and metadata only (no weights are copied).
     *
     * @param layout      {@code "beit"} when the file is in BEiT's naming (relative position tables, {@code q_bias} /
     *                    {@code v_bias} or {@code gamma_1}: what {@code export --format beit} writes), else {@code "timm"}
     * @param headsSource where the heads came from, as {@link Loaded#headsSource()} says it
     */
    public record Inferred(Path weightFile, String prefix, VitConfig config, String layout, String headsSource) {}

    /** The architecture {@link #load} would use for {@code source} (heads resolved the same way; 0: inferred). */
    public static Inferred describe(Path source, int heads) {
        Path file = weightFile(source);
        RunModel run = runModel(source, file);
        try (Weights w = Weights.open(file)) {
            String prefix = prefixOf(w);
            Heads h = heads(w, prefix, heads, run);
            VitConfig config = infer(w, prefix, h.count());
            boolean beitNames = config.relativePosition() != RelativePosition.NONE || w.contains(prefix + "blocks.0.attn.q_bias")
                    || w.contains(prefix + "blocks.0.gamma_1");
            return new Inferred(file, prefix, config, beitNames ? "beit" : "timm", h.source());
        }
    }

    /** The weight file a source names: itself, a checkpoint folder's model.safetensors, or a run's latest one. */
    public static Path weightFile(Path source) {
        if (!Files.exists(source)) throw new WeightFormatException("backbone not found: " + source);
        if (Files.isRegularFile(source)) return source;
        Path model = source.resolve("model.safetensors");
        if (Files.isRegularFile(model)) return model;
        Path latest = source.resolve("checkpoints").resolve("latest");
        if (Files.isRegularFile(latest)) {
            try {
                Path ckpt = latest.getParent().resolve(Files.readString(latest).trim()).resolve("model.safetensors");
                if (Files.isRegularFile(ckpt)) return ckpt;
                throw new WeightFormatException(latest + " names a checkpoint without model.safetensors: " + ckpt);
            } catch (IOException e) {
                throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", latest, e), e);
            }
        }
        throw new WeightFormatException(source + " is a folder but neither a checkpoint (model.safetensors) nor a "
                + "run folder (checkpoints/latest)");
    }

    /**
     * What a run folder or checkpoint folder says its student is: the width and heads of {@code model.json}'s
     * {@code backbone.config} beside the weight file (written with every checkpoint), else of the preset named in the
     * run's {@code config.json} ({@code config.model}), looked up in the folder and, for a checkpoint folder
     * {@code <run>/checkpoints/step-N}, in the run folder. {@code source} names the file that said it.
     */
    record RunModel(int width, int heads, String source) {}

    /** The {@link RunModel} of a folder {@code source} whose weights are {@code file}; null for a file or no record. */
    private static RunModel runModel(Path source, Path file) {
        if (!Files.isDirectory(source)) return null;
        Path modelJson = file.toAbsolutePath().normalize().resolveSibling("model.json");
        if (Files.isRegularFile(modelJson)) {
            try {
                JsonNode c = JSON.readTree(modelJson.toFile()).path("backbone").path("config");
                if (c.path("width").canConvertToInt() && c.path("heads").canConvertToInt()) {
                    return new RunModel(c.path("width").asInt(), c.path("heads").asInt(), modelJson.toString());
                }
            } catch (IOException e) {
                throw new WeightFormatException(modelJson + ": not JSON (" + e.getMessage().lines().findFirst().orElse("")
                        + "); it describes the checkpoint's model beside " + file.getFileName());
            }
        }
        Path abs = source.toAbsolutePath().normalize();
        for (Path dir : new Path[] {abs, abs.getParent() == null ? null : abs.getParent().getParent()}) {
            if (dir == null) continue;
            Path config = dir.resolve("config.json");
            if (!Files.isRegularFile(config)) continue;
            try {
                JsonNode c = JSON.readTree(config.toFile()).path("config");
                if (c.path("model").isTextual()) {
                    VitConfig preset = VitConfig.preset(c.path("model").asText(), 16);
                    return new RunModel(preset.width(), preset.heads(), config + " (model " + c.path("model").asText() + ")");
                }
            } catch (IOException | IllegalArgumentException e) {
                return null; // not a run configuration we know: fall back to the other sources
            }
        }
        return null;
    }

    /** Whatever precedes the one tensor name ending in {@code cls_token}. */
    static String prefixOf(Weights w) {
        String found = null;
        for (String name : w.names()) {
            if (name.equals("cls_token") || name.endsWith(".cls_token")) {
                String p = name.substring(0, name.length() - "cls_token".length());
                if (found != null && !found.equals(p)) {
                    // e.g. a DINO checkpoint with student and teacher, or a pre-training checkpoint with a teacher
                    if (p.equals("backbone.") || p.isEmpty()) found = p;
                    continue;
                }
                found = p;
            }
        }
        if (found == null) {
            throw WeightFormatException.of(w.path(), "cls_token", "missing: not a Vision Transformer checkpoint in "
                    + "timm's or BEiT's layout (no tensor named cls_token or <prefix>.cls_token)");
        }
        return found;
    }

    static VitConfig infer(Weights w, String prefix, int heads) {
        long[] cls = shape(w, prefix, "cls_token");
        if (cls.length != 3 || cls[0] != 1 || cls[1] != 1) throw bad(w, prefix + "cls_token", "shape is not [1, 1, C]");
        int width = (int) cls[2];
        long[] patch = shape(w, prefix, "patch_embed.proj.weight");
        if (patch.length != 4 || patch[0] != width || patch[1] != 3 || patch[2] != patch[3]) {
            throw bad(w, prefix + "patch_embed.proj.weight", "shape is not [" + width + ", 3, p, p]");
        }
        int patchSize = (int) patch[2];
        int depth = blockDepth(w, prefix);
        long[] fc1 = shape(w, prefix, "blocks.0.mlp.fc1.weight");
        double mlpRatio = fc1[0] / (double) width;
        QkvBias bias = w.contains(prefix + "blocks.0.attn.qkv.bias") ? QkvBias.QKV
                : w.contains(prefix + "blocks.0.attn.q_bias") ? QkvBias.QV : QkvBias.NONE;
        boolean layerScale = w.contains(prefix + "blocks.0.ls1.gamma") || w.contains(prefix + "blocks.0.gamma_1");
        RelativePosition rel = w.contains(prefix + "rel_pos_bias.relative_position_bias_table") ? RelativePosition.SHARED
                : w.contains(prefix + "blocks.0.attn.relative_position_bias_table") ? RelativePosition.PER_BLOCK
                : RelativePosition.NONE;
        boolean absolute = w.contains(prefix + "pos_embed");
        int grid;
        if (absolute) {
            long[] pos = shape(w, prefix, "pos_embed");
            grid = pos.length == 3 ? squareRoot(pos[1] - 1) : -1;
            if (grid < 1) throw bad(w, prefix + "pos_embed", "shape is not [1, 1 + g*g, C]");
        } else if (rel != RelativePosition.NONE) {
            String table = rel == RelativePosition.SHARED ? "rel_pos_bias.relative_position_bias_table"
                    : "blocks.0.attn.relative_position_bias_table";
            long rows = shape(w, prefix, table)[0];
            int side = squareRoot(rows - 3);
            if (side < 1 || side % 2 == 0) throw bad(w, prefix + table, "rows " + rows + " are not (2g-1)^2 + 3");
            grid = (side + 1) / 2;
        } else {
            throw bad(w, prefix + "pos_embed", "missing, and no relative position table either");
        }
        Pooling pooling = w.contains(prefix + "fc_norm.weight") ? Pooling.MEAN : Pooling.CLS;
        if (pooling == Pooling.CLS && !w.contains(prefix + "norm.weight")) {
            throw bad(w, prefix + "norm.weight", "missing (nor fc_norm.weight)");
        }
        if (heads == 0) heads = heads(w, prefix, 0, null).count();
        if (width % heads != 0) throw new IllegalArgumentException("width " + width + " of " + w.path()
                + " is not divisible by " + heads + " heads");
        checkMetadata(w, prefix, depth, width, patchSize, grid * patchSize);
        return new VitConfig(grid * patchSize, patchSize, width, depth, heads, mlpRatio, bias, 1e-6,
                layerScale ? 0.1 : 0, rel, absolute, 0, pooling, 0, VitConfig.AttentionKernel.SDPA);
    }

    /** A head count and where it came from. */
    record Heads(int count, String source) {}

    /** Widths of known presets whose heads are not 64 wide: ViT-H (1280), ViT-g (1408), ViT-G (1664), all 16 heads. */
    private static final Map<Integer, Integer> WIDE_PRESETS = Map.of(1280, 16, 1408, 16, 1664, 16);

    /**
     * The heads of the file's weights (see the class comment), from the flag (0: none) and the run's record (null:
     * none), whose width must be the file's: weights copied into another run's folder are refused, not read with that
     * run's heads.
     */
    private static Heads heads(Weights w, String prefix, int flag, RunModel run) {
        long[] cls = shape(w, prefix, "cls_token");
        int width = (int) cls[cls.length - 1];
        if (run != null && run.width() != width) {
            throw WeightFormatException.of(w.path(), prefix + "cls_token", "width " + width + " contradicts " + run.source()
                    + ", which says width " + run.width() + "; these weights are not that model's");
        }
        String table = w.contains(prefix + "rel_pos_bias.relative_position_bias_table") ? "rel_pos_bias.relative_position_bias_table"
                : w.contains(prefix + "blocks.0.attn.relative_position_bias_table") ? "blocks.0.attn.relative_position_bias_table" : null;
        int tableHeads = 0;
        if (table != null) {
            long[] t = shape(w, prefix, table);
            if (t.length != 2 || t[1] < 1) throw bad(w, prefix + table, "shape is not [rows, heads]");
            tableHeads = (int) t[1];
        }
        return resolveHeads(w.path(), width, flag, metadataHeads(w), run == null ? 0 : run.heads(), tableHeads, prefix + table);
    }

    /**
     * The rule of the class comment: every stated count (flag, metadata, run preset, relative position table; 0 when
     * absent) must agree; with none, 16 for the ViT-H/g/G widths, else {@code width / 64}.
     *
     * @throws IllegalArgumentException naming the file and the two sources that disagree, or when nothing states the
     *                                  heads and the width is not a multiple of 64
     */
    static Heads resolveHeads(Path file, int width, int flag, int metadata, int preset, int tableHeads, String table) {
        java.util.List<Heads> stated = new java.util.ArrayList<>();
        if (flag > 0) stated.add(new Heads(flag, "--heads " + flag));
        if (metadata > 0) stated.add(new Heads(metadata, "the file's metadata (" + metadata + " heads)"));
        if (preset > 0) stated.add(new Heads(preset, "the run's model (" + preset + " heads)"));
        if (tableHeads > 0) stated.add(new Heads(tableHeads, table + " (" + tableHeads + " columns, one per head)"));
        if (!stated.isEmpty()) {
            Heads first = stated.getFirst();
            for (Heads h : stated) {
                if (h.count() != first.count()) {
                    throw new IllegalArgumentException(file + ": " + first.source() + " contradicts " + h.source()
                            + "; the attention heads must agree");
                }
            }
            return first;
        }
        Integer wide = WIDE_PRESETS.get(width);
        if (wide != null) return new Heads(wide, "assumed " + wide + " (the ViT-H/g/G preset of width " + width + "; --heads if not)");
        if (width % 64 != 0) {
            throw new IllegalArgumentException(file + ": width " + width + " is not a multiple of 64 and nothing in the file "
                    + "states the attention heads; give them with --heads");
        }
        return new Heads(width / 64, "assumed width / 64 = " + width / 64 + " (no --heads, metadata or relative position table)");
    }

    private static int metadataHeads(Weights w) {
        if (!(w instanceof SafeTensorsFile st)) return 0;
        String exported = st.metadata().get("mvp_vit_config");          // ./mvp export: the VitConfig as JSON
        if (exported != null) {
            try {
                JsonNode heads = JSON.readTree(exported).path("heads");
                if (heads.canConvertToInt() && heads.asInt() > 0) return heads.asInt();
            } catch (IOException e) {
                throw WeightFormatException.of(w.path(), "metadata mvp_vit_config is not JSON: " + e.getMessage());
            }
        }
        for (String key : List.of("num_heads", "heads")) {
            String v = st.metadata().get(key);
            if (v != null) {
                try {
                    return Integer.parseInt(v.trim());
                } catch (NumberFormatException e) {
                    throw WeightFormatException.of(w.path(), "metadata " + key + " '" + v + "' is not a number");
                }
            }
        }
        return 0;
    }

    /**
     * The number of transformer blocks: {@code blocks.0} to the highest {@code blocks.N}, every one holding each
     * tensor {@code blocks.0} holds (a gap in the numbering, or a block with a tensor removed, is an error naming the
     * first missing tensor rather than a model quietly left with its initial weights or cut short).
     */
    static int blockDepth(Weights w, String prefix) {
        java.util.TreeMap<Integer, java.util.Set<String>> blocks = new java.util.TreeMap<>();
        for (String name : w.names()) {
            if (!name.startsWith(prefix + "blocks.")) continue;
            String n = name.substring(prefix.length());
            int b = blockIndex(n);
            if (b < 0) continue;
            blocks.computeIfAbsent(b, k -> new java.util.TreeSet<>()).add(n.substring(n.indexOf('.', "blocks.".length()) + 1));
        }
        if (blocks.isEmpty() || !blocks.containsKey(0)) {
            throw bad(w, prefix + "blocks.0.*", blocks.isEmpty() ? "missing: no transformer blocks"
                    : "missing (the file has blocks " + ranges(blocks.keySet()) + ")");
        }
        int depth = blocks.lastKey() + 1;
        java.util.Set<String> first = blocks.get(0);
        for (int b = 1; b < depth; b++) {
            java.util.Set<String> has = blocks.getOrDefault(b, java.util.Set.of());
            for (String t : first) {
                if (!has.contains(t)) {
                    throw bad(w, prefix + "blocks." + b + "." + t, "missing (the file has blocks " + ranges(blocks.keySet())
                            + (has.isEmpty() ? "" : "; block " + b + " lacks a tensor block 0 has") + ")");
                }
            }
        }
        return depth;
    }

    /** {@code 0..4 and 6..11}. */
    private static String ranges(java.util.Set<Integer> sorted) {
        List<String> out = new java.util.ArrayList<>();
        Integer start = null, prev = null;
        for (int b : sorted) {
            if (start == null) {
                start = prev = b;
            } else if (b == prev + 1) {
                prev = b;
            } else {
                out.add(start.equals(prev) ? "" + start : start + ".." + prev);
                start = prev = b;
            }
        }
        if (start != null) out.add(start.equals(prev) ? "" + start : start + ".." + prev);
        return String.join(" and ", out);
    }

    /**
     * The architecture the safetensors metadata states (the {@code mvp_vit_config} of {@code ./mvp export}: depth,
     * width, patchSize, imageSize; or the keys {@code depth}, {@code width}/{@code embed_dim}, {@code patch_size},
     * {@code image_size}/{@code img_size}) must be what the tensors give: a file whose last block was cut off, or whose
     * metadata belongs to another model, is refused naming both values.
     */
    private static void checkMetadata(Weights w, String prefix, int depth, int width, int patchSize, int imageSize) {
        if (!(w instanceof SafeTensorsFile st)) return;
        Map<String, String> meta = st.metadata();
        JsonNode exported = null;
        if (meta.get("mvp_vit_config") != null) {
            try {
                exported = JSON.readTree(meta.get("mvp_vit_config"));
            } catch (IOException e) {
                throw WeightFormatException.of(w.path(), "metadata mvp_vit_config is not JSON: " + e.getMessage());
            }
        }
        record Stated(String what, int inferred, String from, String[] keys, String json) {}
        List<Stated> checks = List.of(
                new Stated("depth", depth, prefix + "blocks.0.." + prefix + "blocks." + (depth - 1), new String[] {"depth"}, "depth"),
                new Stated("width", width, prefix + "cls_token", new String[] {"width", "embed_dim"}, "width"),
                new Stated("patch size", patchSize, prefix + "patch_embed.proj.weight", new String[] {"patch_size"}, "patchSize"),
                new Stated("image size", imageSize, "the position parameters' grid", new String[] {"image_size", "img_size"}, "imageSize"));
        for (Stated c : checks) {
            if (exported != null && exported.has(c.json())) {
                JsonNode v = exported.get(c.json());
                if (!v.canConvertToInt() || v.asInt() != c.inferred()) {
                    throw WeightFormatException.of(w.path(), "metadata mvp_vit_config says " + c.what() + " " + v
                            + " but the tensors give " + c.inferred() + " (" + c.from() + "): a damaged file or metadata of another model");
                }
            }
            for (String key : c.keys()) {
                String v = meta.get(key);
                if (v == null) continue;
                int stated;
                try {
                    stated = Integer.parseInt(v.trim());
                } catch (NumberFormatException e) {
                    throw WeightFormatException.of(w.path(), "metadata " + key + " '" + v + "' is not a number");
                }
                if (stated != c.inferred()) {
                    throw WeightFormatException.of(w.path(), "metadata " + key + " says " + c.what() + " " + stated
                            + " but the tensors give " + c.inferred() + " (" + c.from() + "): a damaged file or metadata of another model");
                }
            }
        }
    }

    /**
     * The tensor {@code name} of {@code w}, refused when it holds NaN or infinite values (one {@code isfinite().all()}
     * per floating-point tensor; the counts are computed only for the message). A float8 tensor (safetensors
     * {@code F8_E4M3}, {@code F8_E5M2}), for which libtorch has no {@code isfinite}, is converted to float32 first
     * (exactly: every float8 value is a float32) and returned converted; the model's parameters are float32 anyway.
     * A dtype the check cannot handle otherwise is refused naming the file, the tensor and the dtype.
     */
    static Tensor finiteTensor(Weights w, String name) {
        Tensor t = w.tensor(name);
        if (!t.is_floating_point()) return t;
        String type = t.scalar_type().toString();
        if (type.startsWith("Float8")) t = t.to(org.bytedeco.pytorch.global.torch.ScalarType.Float);
        try (PointerScope checks = new PointerScope()) { // the bool temporaries are freed at once, not at load's end
            boolean finite;
            try {
                finite = t.isfinite().all().item_bool();
            } catch (RuntimeException e) {
                throw bad(w, name, "has dtype " + type + ", which is not supported (convert the file to float32, "
                        + "float16 or bfloat16)");
            }
            if (finite) return t;
            long nan = t.isnan().sum().item_long(), numel = t.numel();
            long inf = numel - nan - t.isfinite().sum().item_long();
            throw bad(w, name, "holds " + (nan > 0 ? nan + " NaN" : "") + (nan > 0 && inf > 0 ? " and " : "")
                    + (inf > 0 ? inf + " infinite" : "") + " value" + (nan + inf == 1 ? "" : "s") + " of " + numel
                    + ": a damaged file or a diverged run");
        }
    }

    private static long[] shape(Weights w, String prefix, String name) {
        if (!w.contains(prefix + name)) throw bad(w, prefix + name, "missing");
        TensorInfo info = w.info(prefix + name);
        return info.shape();
    }

    static int blockIndex(String name) {
        int end = name.indexOf('.', "blocks.".length());
        try {
            return Integer.parseInt(name.substring("blocks.".length(), end < 0 ? name.length() : end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static int squareRoot(long n) {
        if (n < 1) return -1;
        long r = Math.round(Math.sqrt((double) n));
        return r * r == n ? (int) r : -1;
    }

    private static WeightFormatException bad(Weights w, String tensor, String problem) {
        return WeightFormatException.of(w.path(), tensor, problem);
    }
}
