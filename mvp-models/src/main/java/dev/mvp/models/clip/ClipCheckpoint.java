package dev.mvp.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.ImageNormalization;
import dev.mvp.models.clip.ClipVisionConfig.Activation;
import dev.mvp.models.io.Dtype;
import dev.mvp.models.io.RenamedWeights;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A CLIP vision tower's weights in whichever layout the file has ({@link ClipLayout}), seen under OpenAI's names,
 * with the configuration that runs them: what {@link ClipVisionTransformer#load(ClipCheckpoint)} reads.
 *
 * <p><b>Detection</b> ({@link #detect}) looks at the tensor names only: a tensor ending in
 * {@code embeddings.patch_embedding.weight} means Hugging Face; {@code conv1.weight} under no prefix or a prefix
 * ending in {@code visual.} (with a {@code positional_embedding} or {@code class_embedding} next to it) means OpenAI,
 * or open_clip when the prefix starts with DistributedDataParallel's {@code module.}, the file name starts with
 * {@code open_clip}, or an {@code open_clip_config.json} lies next to the file. Nested state dicts
 * ({@code {"state_dict": ...}} of open_clip's training checkpoints) are found by {@link Weights#open(Path)}.
 *
 * <p><b>Configuration.</b> Sizes come from the shapes (as OpenAI's {@code build_model} reads them); the rest from the
 * files Hugging Face and open_clip keep next to the weights, when present:
 * <pre>
 *                OPENAI        HF (config.json)                              OPEN_CLIP (open_clip_config.json)
 * activation     QuickGELU     hidden_act: quick_gelu | gelu                 model_cfg.quick_gelu (false: GELU)
 * eps            1e-5          layer_norm_eps                                1e-5
 * heads          width / 64    num_attention_heads                           width / vision_cfg.head_width (64)
 * normalisation  CLIP's        preprocessor_config.json image_mean/std       preprocess_cfg mean/std (CLIP's)
 * </pre>
 * Hugging Face's {@code config.json} is read as transformers reads it ({@code vision_config}, overridden by an old
 * file's {@code vision_config_dict}; missing keys take {@code CLIPVisionConfig}'s defaults: quick_gelu, eps 1e-5, 12
 * heads); without the file, quick_gelu, eps 1e-5 and width / 64 heads. The sizes the side files state (hidden size,
 * layers, patch, image size, projection dimension) must agree with the shapes.
 *
 * <p><b>Hugging Face's tensors</b> are renamed ({@link RenamedWeights}): q, k and v projections are concatenated into
 * {@code in_proj_weight}/{@code in_proj_bias} (the order {@code nn.MultiheadAttention} uses), {@code visual_projection.weight}
 * [output, width] is transposed into {@code proj}. Every tensor is checked here, by its Hugging Face name, for presence
 * and shape; a vision tensor nothing maps is refused as unexpected; {@code position_ids} buffers and the text tower are
 * ignored.
 *
 * <p>Owns the opened weights: {@link #close()} closes them (tensors already loaded into a model are copies).
 */
public final class ClipCheckpoint implements AutoCloseable {
    private static final String HF_PATCH = "embeddings.patch_embedding.weight";
    private static final String HF_VISION = "vision_model.";
    private static final Pattern HF_LAYER = Pattern.compile("encoder\\.layers\\.(\\d+)\\..*");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Weights source;
    private final Weights weights;
    private final String prefix;
    private final String sourcePrefix;
    private final ClipLayout layout;
    private final ClipVisionConfig config;
    private final ImageNormalization normalization;
    private final List<String> notes;

    private ClipCheckpoint(Weights source, Weights weights, String prefix, String sourcePrefix, ClipLayout layout,
                           ClipVisionConfig config, ImageNormalization normalization, List<String> notes) {
        this.source = source;
        this.weights = weights;
        this.prefix = prefix;
        this.sourcePrefix = sourcePrefix;
        this.layout = layout;
        this.config = config;
        this.normalization = normalization;
        this.notes = List.copyOf(notes);
    }

    /** {@link #open(Path, ClipLayout)} with the layout detected. */
    public static ClipCheckpoint open(Path path) {
        return open(path, null);
    }

    /**
     * Opens a weight file ({@link Weights#open(Path)}: safetensors, {@code torch.save}, TorchScript) and adapts it.
     *
     * @param layout the layout to read it as; null to detect it
     * @throws WeightFormatException one line naming the file (and tensor, or side file) and the problem
     */
    public static ClipCheckpoint open(Path path, ClipLayout layout) {
        Weights weights = Weights.open(path);
        try {
            return of(weights, layout);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /**
     * Adapts open weights, which the result owns from now on (they are left open if this throws).
     *
     * @param layout the layout to read them as; null to detect it
     */
    public static ClipCheckpoint of(Weights weights, ClipLayout layout) {
        ClipLayout detected = detect(weights).orElse(null);
        ClipLayout chosen = layout != null ? layout : detected;
        if (chosen == null) {
            throw WeightFormatException.of(weights.path(), "not a CLIP vision tower: no 'visual.conv1.weight' or "
                    + "'conv1.weight' (OpenAI, open_clip) nor 'vision_model." + HF_PATCH + "' (Hugging Face) among its "
                    + weights.names().size() + " tensors");
        }
        return switch (chosen) {
            case HF -> hf(weights, detected);
            case OPENAI, OPEN_CLIP -> openAi(weights, chosen, detected);
        };
    }

    /** The CLIP layout the tensor names (and side files) indicate; empty if the file holds no CLIP vision tower. */
    public static Optional<ClipLayout> detect(Weights weights) {
        if (!hfPrefixes(weights).isEmpty()) return Optional.of(ClipLayout.HF);
        String p = openAiPrefix(weights);
        if (p == null) return Optional.empty();
        return Optional.of(isOpenClip(weights, p) ? ClipLayout.OPEN_CLIP : ClipLayout.OPENAI);
    }

    /** The layout the weights were read as. */
    public ClipLayout layout() {
        return layout;
    }

    /** The tower's configuration (sizes from the shapes, the rest as the class comment says). */
    public ClipVisionConfig config() {
        return config;
    }

    /** The normalisation the checkpoint's preprocessing declares (CLIP's mean and std unless a side file says else). */
    public ImageNormalization normalization() {
        return normalization;
    }

    /** The tensors under OpenAI's vision-tower names, each prefixed by {@link #prefix()}. */
    public Weights weights() {
        return weights;
    }

    /** The prefix of the tower's tensors in {@link #weights()} ({@code visual.}, {@code module.visual.} or empty). */
    public String prefix() {
        return prefix;
    }

    /** Where the tower's tensors are in the file itself ({@code visual.}, {@code vision_model.}, ...). */
    public String sourcePrefix() {
        return sourcePrefix;
    }

    /** Where the activation, heads and normalisation came from, one line each. */
    public List<String> notes() {
        return notes;
    }

    /**
     * One line: e.g. {@code Hugging Face CLIP layout ('vision_model.*'): width 64, ..., quick_gelu; activation from
     * config.json hidden_act}.
     */
    public String describe() {
        String name = switch (layout) {
            case OPENAI -> "OpenAI CLIP layout";
            case HF -> "Hugging Face CLIP layout";
            case OPEN_CLIP -> "open_clip layout";
        };
        return name + " ('" + sourcePrefix + "*'): " + config + (notes.isEmpty() ? "" : "; " + String.join("; ", notes));
    }

    @Override public void close() {
        source.close();
    }

    // ---- OpenAI and open_clip -----------------------------------------------------------------------------------------

    private static ClipCheckpoint openAi(Weights weights, ClipLayout layout, ClipLayout detected) {
        String p = openAiPrefix(weights);
        if (p == null) {
            throw WeightFormatException.of(weights.path(), "visual.conv1.weight", "missing (nor 'conv1.weight'): not "
                    + "in the " + layout + " layout" + (detected == null ? "" : " (its tensors look like the " + detected + " layout)"));
        }
        if (weights.contains(p + "attnpool.positional_embedding")) {
            throw WeightFormatException.of(weights.path(), p + "attnpool.positional_embedding", "a ResNet CLIP (modified "
                    + "ResNet with attention pooling): only the vision-transformer towers are supported");
        }
        ClipVisionConfig config = ClipVisionConfig.inferFrom(weights, p);
        List<String> notes = new ArrayList<>();
        ImageNormalization normalization = ImageNormalization.CLIP;
        if (layout == ClipLayout.OPENAI) {
            notes.add("QuickGELU (OpenAI's architecture)");
        } else {
            Path side = sideFile(weights, "open_clip_config.json");
            if (side == null) {
                config = config.withActivation(Activation.GELU);
                notes.add("GELU, open_clip's default: no open_clip_config.json next to the weights (read OpenAI-trained "
                        + "or -quickgelu weights with the openai layout)");
            } else {
                JsonNode root = readJson(side);
                JsonNode model = root.has("model_cfg") ? root.get("model_cfg") : root;
                JsonNode vision = model.path("vision_cfg");
                JsonNode quick = model.path("quick_gelu");
                if (!quick.isMissingNode() && !quick.isBoolean()) throw sideError(side, "model_cfg.quick_gelu", quick, "true or false");
                boolean quickGelu = quick.asBoolean(false);
                config = config.withActivation(quickGelu ? Activation.QUICK_GELU : Activation.GELU);
                notes.add((quickGelu ? "QuickGELU" : "GELU") + " from " + side.getFileName() + " (model_cfg.quick_gelu "
                        + (quick.isMissingNode() ? "absent" : quickGelu) + ")");
                int headWidth = intField(side, vision, "head_width", 64);
                long[] conv = weights.info(p + "conv1.weight").shape();
                config = config.withHeads(ClipVisionConfig.headsOf(weights, p + "conv1.weight", conv, headWidth));
                agree(side, vision, "width", config.width(), "vision_cfg.");
                agree(side, vision, "layers", config.layers(), "vision_cfg.");
                agree(side, vision, "patch_size", config.patchSize(), "vision_cfg.");
                agree(side, vision, "image_size", config.imageSize(), "vision_cfg.");
                if (config.hasProjection()) agree(side, model, "embed_dim", config.outputDim(), "model_cfg.");
                ImageNormalization declared = meanStd(side, root.path("preprocess_cfg"), "mean", "std");
                if (declared != null) {
                    normalization = declared;
                    notes.add("normalisation from " + side.getFileName() + " preprocess_cfg");
                }
            }
        }
        return new ClipCheckpoint(weights, weights, p, p, layout, config, normalization, notes);
    }

    /**
     * The prefix {@code P} of OpenAI-named tensors: {@code P + "conv1.weight"} exists with {@code P} empty or ending in
     * {@code visual.}, and a position or class embedding (or ResNet's attention pool) next to it. Null if none.
     */
    private static String openAiPrefix(Weights weights) {
        String found = null;
        for (String name : weights.names()) {
            if (!name.endsWith("conv1.weight")) continue;
            String p = name.substring(0, name.length() - "conv1.weight".length());
            if (!p.isEmpty() && !p.endsWith("visual.")) continue;
            if (!weights.contains(p + "positional_embedding") && !weights.contains(p + "class_embedding")
                    && !weights.contains(p + "attnpool.positional_embedding")) continue;
            if (found == null || p.length() < found.length()) found = p;
        }
        return found;
    }

    private static boolean isOpenClip(Weights weights, String prefix) {
        String file = weights.path().getFileName().toString().toLowerCase(Locale.ROOT);
        return prefix.startsWith("module.") || file.startsWith("open_clip")
                || sideFile(weights, "open_clip_config.json") != null;
    }

    // ---- Hugging Face -------------------------------------------------------------------------------------------------

    private static List<String> hfPrefixes(Weights weights) {
        List<String> prefixes = new ArrayList<>();
        for (String name : weights.names()) {
            if (name.endsWith(HF_PATCH)) prefixes.add(name.substring(0, name.length() - HF_PATCH.length()));
        }
        return prefixes;
    }

    private static ClipCheckpoint hf(Weights weights, ClipLayout detected) {
        List<String> prefixes = hfPrefixes(weights);
        if (prefixes.isEmpty()) {
            throw WeightFormatException.of(weights.path(), HF_VISION + HF_PATCH, "missing: not in the hf layout"
                    + (detected == null ? "" : " (its tensors look like the " + detected + " layout)"));
        }
        if (prefixes.size() > 1) {
            throw WeightFormatException.of(weights.path(), "several Hugging Face vision towers (" + prefixes + "): "
                    + "not a CLIP checkpoint");
        }
        String p = prefixes.get(0);
        String parent = p.endsWith(HF_VISION) ? p.substring(0, p.length() - HF_VISION.length()) : p;
        String projName = parent + "visual_projection.weight";

        long[] conv = ClipVisionConfig.shape(weights, p + HF_PATCH, 4);
        if (conv[1] != 3 || conv[2] != conv[3]) {
            throw ClipVisionConfig.inconsistent(weights, p + HF_PATCH, conv, "expected [width, 3, patch, patch]");
        }
        int width = Math.toIntExact(conv[0]), patch = Math.toIntExact(conv[2]);
        int grid = ClipVisionConfig.grid(weights, p + "embeddings.position_embedding.weight", width);
        int layers = 0;
        for (String name : weights.names()) {
            if (!name.startsWith(p)) continue;
            Matcher m = HF_LAYER.matcher(name.substring(p.length()));
            if (m.matches()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        if (layers == 0) {
            throw WeightFormatException.of(weights.path(), p + "encoder.layers.0.self_attn.q_proj.weight",
                    "missing: the checkpoint has no encoder layers");
        }
        int outputDim = 0;
        if (weights.contains(projName)) {
            long[] proj = ClipVisionConfig.shape(weights, projName, 2);
            if (proj[1] != width) throw ClipVisionConfig.inconsistent(weights, projName, proj, "expected [output dim, " + width + "]");
            outputDim = Math.toIntExact(proj[0]);
        }

        List<String> notes = new ArrayList<>();
        Activation activation = Activation.QUICK_GELU;
        double eps = ClipVisionConfig.DEFAULT_LAYER_NORM_EPS;
        Integer heads = null;
        Path side = sideFile(weights, "config.json");
        HfConfig hf = side == null ? null : HfConfig.read(side);
        if (hf != null && hf.vision() == null) notes.add("config.json ignored (model_type '" + hf.type() + "')");
        if (hf != null && hf.vision() != null) {
            JsonNode vision = hf.vision();
            JsonNode act = vision.path("hidden_act");
            activation = Activation.ofHfName(act.asText()).orElseThrow(() -> sideError(side, "hidden_act", act,
                    "quick_gelu or gelu"));
            notes.add(activation + " from config.json hidden_act" + (hf.stated().contains("hidden_act") ? ""
                    : " (absent: Hugging Face's default)"));
            JsonNode e = vision.path("layer_norm_eps");
            if (!e.isNumber() || !(e.asDouble() > 0)) throw sideError(side, "layer_norm_eps", e, "a positive number");
            eps = e.asDouble();
            heads = intField(side, vision, "num_attention_heads", 0);
            agree(side, vision, "hidden_size", width, "");
            agree(side, vision, "num_hidden_layers", layers, "");
            agree(side, vision, "patch_size", patch, "");
            agree(side, vision, "image_size", grid * patch, "");
            if (outputDim > 0) agree(side, hf.projection(), "projection_dim", outputDim, "");
        } else {
            notes.add("quick_gelu, Hugging Face's default: no CLIP config.json next to the weights");
        }
        if (heads == null) heads = ClipVisionConfig.headsOf(weights, p + HF_PATCH, conv, 64);
        if (width % heads != 0) {
            throw WeightFormatException.of(side, "num_attention_heads " + heads + " does not divide the width " + width);
        }
        ClipVisionConfig config = new ClipVisionConfig(grid * patch, patch, width, layers, heads, outputDim, activation, eps);

        ImageNormalization normalization = ImageNormalization.CLIP;
        Path pre = sideFile(weights, "preprocessor_config.json");
        if (pre != null) {
            ImageNormalization declared = meanStd(pre, readJson(pre), "image_mean", "image_std");
            if (declared != null) {
                normalization = declared;
                notes.add("normalisation from preprocessor_config.json");
            }
        }
        RenamedWeights renamed = hfRenaming(weights, p, projName, config);
        return new ClipCheckpoint(weights, renamed, "", p, ClipLayout.HF, config, normalization, notes);
    }

    /** Hugging Face's names onto OpenAI's, every source tensor checked for presence and shape by its own name. */
    private static RenamedWeights hfRenaming(Weights w, String p, String projName, ClipVisionConfig c) {
        long width = c.width(), g = c.gridSize();
        Set<String> used = new HashSet<>();
        RenamedWeights.Builder b = RenamedWeights.of(w).format(w.format() + ", Hugging Face CLIP layout");
        String e = p + "embeddings.";
        rename(w, b, used, e + "patch_embedding.weight", "conv1.weight", width, 3, c.patchSize(), c.patchSize());
        rename(w, b, used, e + "class_embedding", "class_embedding", width);
        rename(w, b, used, e + "position_embedding.weight", "positional_embedding", 1 + g * g, width);
        rename(w, b, used, p + "pre_layrnorm.weight", "ln_pre.weight", width);
        rename(w, b, used, p + "pre_layrnorm.bias", "ln_pre.bias", width);
        for (int i = 0; i < c.layers(); i++) {
            String l = p + "encoder.layers." + i + ".", o = "transformer.resblocks." + i + ".";
            fuse(w, b, used, l + "self_attn.", "weight", o + "attn.in_proj_weight", width, width);
            fuse(w, b, used, l + "self_attn.", "bias", o + "attn.in_proj_bias", width);
            rename(w, b, used, l + "self_attn.out_proj.weight", o + "attn.out_proj.weight", width, width);
            rename(w, b, used, l + "self_attn.out_proj.bias", o + "attn.out_proj.bias", width);
            rename(w, b, used, l + "layer_norm1.weight", o + "ln_1.weight", width);
            rename(w, b, used, l + "layer_norm1.bias", o + "ln_1.bias", width);
            rename(w, b, used, l + "mlp.fc1.weight", o + "mlp.c_fc.weight", 4 * width, width);
            rename(w, b, used, l + "mlp.fc1.bias", o + "mlp.c_fc.bias", 4 * width);
            rename(w, b, used, l + "mlp.fc2.weight", o + "mlp.c_proj.weight", width, 4 * width);
            rename(w, b, used, l + "mlp.fc2.bias", o + "mlp.c_proj.bias", width);
            rename(w, b, used, l + "layer_norm2.weight", o + "ln_2.weight", width);
            rename(w, b, used, l + "layer_norm2.bias", o + "ln_2.bias", width);
        }
        rename(w, b, used, p + "post_layernorm.weight", "ln_post.weight", width);
        rename(w, b, used, p + "post_layernorm.bias", "ln_post.bias", width);
        if (c.hasProjection()) {
            TensorInfo info = checked(w, projName, c.outputDim(), width);
            used.add(projName);
            b.derive("proj", info.dtype(), new long[] {width, c.outputDim()}, src -> src.tensor(projName).t());
        }
        Set<String> unexpected = new TreeSet<>();
        for (String name : w.names()) {
            if (name.startsWith(p) && !used.contains(name) && !name.equals(e + "position_ids")) unexpected.add(name);
        }
        if (!unexpected.isEmpty()) {
            String first = unexpected.iterator().next();
            throw WeightFormatException.of(w.path(), first, "unexpected: not part of CLIP's vision tower"
                    + (unexpected.size() > 1 ? " (nor " + (unexpected.size() - 1) + " other tensors under '" + p + "')" : ""));
        }
        return b.build();
    }

    private static void rename(Weights w, RenamedWeights.Builder b, Set<String> used, String hfName, String name,
                               long... shape) {
        checked(w, hfName, shape);
        used.add(hfName);
        b.rename(hfName, name);
    }

    /** {@code q_proj}, {@code k_proj} and {@code v_proj}'s {@code kind} ("weight" or "bias") concatenated, in that order. */
    private static void fuse(Weights w, RenamedWeights.Builder b, Set<String> used, String attn, String kind, String name,
                             long... shape) {
        String[] parts = {attn + "q_proj." + kind, attn + "k_proj." + kind, attn + "v_proj." + kind};
        Dtype dtype = null;
        for (String part : parts) {
            TensorInfo info = checked(w, part, shape);
            if (dtype != null && info.dtype() != dtype) {
                throw WeightFormatException.of(w.path(), part, "dtype " + info.dtype() + " differs from "
                        + parts[0] + "'s " + dtype);
            }
            dtype = info.dtype();
            used.add(part);
        }
        long[] fused = shape.clone();
        fused[0] *= 3;
        // views of the file, in the caller's scope like the result
        b.derive(name, dtype, fused, src -> torch.cat(new TensorVector(src.tensor(parts[0]), src.tensor(parts[1]),
                src.tensor(parts[2])), 0));
    }

    private static TensorInfo checked(Weights w, String name, long... shape) {
        TensorInfo info = w.info(name);
        if (!Arrays.equals(info.shape(), shape)) {
            throw ClipVisionConfig.inconsistent(w, name, info.shape(), "expected " + Arrays.toString(shape));
        }
        return info;
    }

    /**
     * A Hugging Face {@code config.json} read as transformers reads it: for a {@code CLIPModel} config (model_type
     * {@code clip}, or a {@code vision_config}), {@code vision_config} overridden by {@code vision_config_dict}
     * completed with {@code CLIPVisionConfig}'s defaults (as {@code CLIPConfig.__init__} does), the projection dimension
     * at the top level; for a {@code CLIPVisionModel} config, the top level. Keys it lacks take
     * {@code CLIPVisionConfig}'s defaults.
     *
     * @param vision     the vision tower's settings, defaults filled in; null if the file is not a CLIP config
     * @param projection where {@code projection_dim} is (defaults filled in)
     * @param stated     the vision keys the file states itself
     */
    private record HfConfig(String type, ObjectNode vision, ObjectNode projection, Set<String> stated) {
        /** transformers' {@code CLIPVisionConfig} defaults, for the keys read here. */
        private static final String DEFAULTS = "{\"hidden_size\": 768, \"num_hidden_layers\": 12, \"num_attention_heads\": 12, "
                + "\"image_size\": 224, \"patch_size\": 32, \"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-05, "
                + "\"projection_dim\": 512}";

        static HfConfig read(Path file) {
            JsonNode root = readJson(file);
            String type = root.path("model_type").asText("");
            boolean full = type.equals("clip") || root.has("vision_config") || root.has("vision_config_dict");
            if (!full && !type.isEmpty() && !type.equals("clip_vision_model")) return new HfConfig(type, null, null, Set.of());
            ObjectNode vision = defaults();
            Set<String> stated = new HashSet<>();
            if (full) {
                for (String key : new String[] {"vision_config", "vision_config_dict"}) {
                    JsonNode part = root.path(key);
                    if (part.isMissingNode() || part.isNull()) continue;
                    if (!part.isObject()) throw sideError(file, key, part, "an object");
                    if (key.equals("vision_config_dict")) { // completed with the defaults, it overrides vision_config
                        vision = defaults();
                        stated.clear();
                    }
                    vision.setAll((ObjectNode) part);
                    part.fieldNames().forEachRemaining(stated::add);
                }
                ObjectNode projection = JSON.createObjectNode().put("projection_dim", 512);
                if (root.has("projection_dim")) projection.set("projection_dim", root.get("projection_dim"));
                return new HfConfig(type, vision, projection, stated);
            }
            vision.setAll((ObjectNode) root);
            root.fieldNames().forEachRemaining(stated::add);
            return new HfConfig(type, vision, vision, stated);
        }

        private static ObjectNode defaults() {
            try {
                return (ObjectNode) JSON.readTree(DEFAULTS);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    // ---- side files ---------------------------------------------------------------------------------------------------

    /** {@code name} in the weights' folder, if it is a file. */
    private static Path sideFile(Weights weights, String name) {
        Path parent = weights.path().toAbsolutePath().getParent();
        Path side = parent == null ? null : parent.resolve(name);
        return side != null && Files.isRegularFile(side) ? side : null;
    }

    private static JsonNode readJson(Path file) {
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) throw WeightFormatException.of(file, "not a JSON object");
            return node;
        } catch (IOException e) {
            throw WeightFormatException.of(file, "malformed JSON: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
    }

    private static int intField(Path file, JsonNode node, String field, int absent) {
        JsonNode v = node.path(field);
        if (v.isMissingNode()) return absent;
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 1) throw sideError(file, field, v, "a positive integer");
        return v.asInt();
    }

    /** The side file's {@code field}, when present, must equal {@code actual} (read from the tensor shapes). */
    private static void agree(Path file, JsonNode node, String field, int actual, String path) {
        if (!node.has(field)) return;
        int stated = intField(file, node, field, actual);
        if (stated != actual) {
            throw WeightFormatException.of(file, path + field + " is " + stated + " but the weights' shapes say " + actual);
        }
    }

    private static ImageNormalization meanStd(Path file, JsonNode node, String meanField, String stdField) {
        JsonNode mean = node.path(meanField), std = node.path(stdField);
        if (mean.isMissingNode() && std.isMissingNode()) return null;
        float[] m = floats3(file, mean, meanField), s = floats3(file, std, stdField);
        try {
            return new ImageNormalization.MeanStd(m, s);
        } catch (IllegalArgumentException e) {
            throw WeightFormatException.of(file, stdField + ": " + e.getMessage());
        }
    }

    private static float[] floats3(Path file, JsonNode node, String field) {
        if (!node.isArray() || node.size() != 3) throw sideError(file, field, node, "3 numbers");
        float[] out = new float[3];
        for (int i = 0; i < 3; i++) {
            if (!node.get(i).isNumber()) throw sideError(file, field, node, "3 numbers");
            out[i] = (float) node.get(i).asDouble();
        }
        return out;
    }

    private static WeightFormatException sideError(Path file, String field, JsonNode value, String expected) {
        return WeightFormatException.of(file, field + " is " + value + ", expected " + expected);
    }
}
