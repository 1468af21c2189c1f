package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.PositionResampling.Style;
import dev.mvp.models.VitConfig.RelativePosition;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@link VisionTransformer} weights in the layouts of timm and BEiT, as safetensors files that Python loads
 * without renaming, and back.
 *
 * <p><b>Layouts.</b> The model's own names are timm's, plus {@code mask_token} and BEiT's names for what only BEiT
 * has (see {@link VisionTransformer}). The two exchange layouts differ from them only in:
 * <pre>
 *                        TIMM (timm VisionTransformer)     BEIT (BEiT's models, timm's Beit)
 * attention input bias   blocks.N.attn.qkv.bias [3C]       blocks.N.attn.q_bias [C], blocks.N.attn.v_bias [C]
 * layer scale            blocks.N.ls1.gamma, ls2.gamma     blocks.N.gamma_1, gamma_2
 * relative position      (cannot be represented)           blocks.N.attn.relative_position_bias_table (+ _index),
 *                                                          rel_pos_bias.relative_position_bias_table (+ _index)
 * mask_token             not written                       not written
 * </pre>
 * Converting a q/v bias to timm's fused one writes {@code cat(q_bias, 0, v_bias)}, exactly what BEiT computes. The
 * other way keeps q and v and drops the k third, which changes no output: a k bias adds the same {@code q . b_k} to
 * every logit of a query's row, and softmax ignores that.
 *
 * <p><b>Loading</b> ({@link #load}) accepts any mix of the model's own, timm's and BEiT's names (they do not
 * collide), under an optional prefix ({@code backbone.} in pre-training checkpoints), and adapts them to the target
 * configuration the way timm's and BEiT's checkpoint loaders do:
 * <ul>
 *   <li>a shared relative position table is copied into every block when the model has one per block (BEiT's
 *       pre-training to fine-tuning step);</li>
 *   <li>position embeddings and relative position tables made for another grid are resampled
 *       ({@link PositionResampling});</li>
 *   <li>fused and q/v attention biases are converted to what the model has;</li>
 *   <li>{@code relative_position_index} buffers (recomputed) and BEiT's pre-training {@code lm_head.*} are ignored,
 *       and so is a classifier {@code head.*} when the model has none;</li>
 *   <li>a missing {@code mask_token} (timm and fine-tuned checkpoints have none) keeps its initial value.</li>
 * </ul>
 * Anything else missing, unexpected, of another shape or not floating point is a {@link WeightFormatException}
 * naming the file and the tensor.
 */
public final class VitCheckpoints {
    private static final String SHARED_TABLE = "rel_pos_bias." + RelativePositionBias.TABLE;

    private VitCheckpoints() {}

    /** The naming of an exported file. */
    public enum Layout {
        /** timm's {@code VisionTransformer} state dict. */
        TIMM,
        /** BEiT's (microsoft/unilm) state dict, which timm's {@code Beit} model also reads. */
        BEIT;

        /** {@code timm} or {@code beit}, case-insensitive. */
        public static Layout parse(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "timm" -> TIMM;
                case "beit" -> BEIT;
                default -> throw new IllegalArgumentException("unknown layout '" + name + "' (expected timm or beit)");
            };
        }
    }

    // ---- export ------------------------------------------------------------------------------------------------------

    /**
     * {@code weights} (the model's own names: {@link StateDict#of} of a {@link VisionTransformer}, or a pre-training
     * checkpoint's {@code backbone.*} entries with the prefix removed) renamed into {@code layout}. Unchanged tensors
     * are passed through (same handles); converted ones are new, in the caller's scope.
     *
     * @throws IllegalArgumentException if the weights hold a relative position bias and the layout is TIMM
     */
    public static Map<String, Tensor> export(Map<String, Tensor> weights, Layout layout) {
        Torch.init();
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : weights.entrySet()) {
                String name = e.getKey();
                Tensor t = e.getValue();
                if (name.equals("mask_token")) continue;
                if (layout == Layout.TIMM) {
                    if (name.endsWith(RelativePositionBias.TABLE)) {
                        throw new IllegalArgumentException("'" + name + "': timm's VisionTransformer has no relative "
                                + "position bias; export in BEiT's layout (which timm's Beit model reads)");
                    }
                    if (name.endsWith(".attn.v_bias")) continue;
                    if (name.endsWith(".attn.q_bias")) {
                        String attn = name.substring(0, name.length() - "q_bias".length());
                        out.put(attn + "qkv.bias", fusedBias(t, require(weights, attn + "v_bias")));
                        continue;
                    }
                    out.put(name, t);
                } else {
                    if (name.endsWith(".attn.qkv.bias")) {
                        String attn = name.substring(0, name.length() - "qkv.bias".length());
                        long c = t.size(0) / 3;
                        out.put(attn + "q_bias", t.narrow(0, 0, c).contiguous());
                        out.put(attn + "v_bias", t.narrow(0, 2 * c, c).contiguous());
                        continue;
                    }
                    name = name.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2");
                    out.put(name, t);
                    if (name.endsWith(RelativePositionBias.TABLE)) {
                        int grid = RelativePositionBias.gridOfTableRows(t.size(0));
                        long tokens = (long) grid * grid + 1;
                        out.put(name.replace(RelativePositionBias.TABLE, RelativePositionBias.INDEX),
                                Tensors.ofLongs(RelativePositionBias.index(grid), tokens, tokens));
                    }
                }
            }
        }
        return out;
    }

    /** Writes {@code vit}'s weights in {@code layout} to {@code file} (atomically). */
    public static void save(VisionTransformer vit, Layout layout, Path file) {
        try (PointerScope scope = new PointerScope()) {
            save(StateDict.of(vit), layout, file, Map.of());
        }
    }

    /**
     * Writes {@code weights} (the model's own names) in {@code layout} to {@code file} (atomically), with
     * {@code format: pt} (what Hugging Face's loaders look for), {@code layout} and {@code metadata} in the header.
     */
    public static void save(Map<String, Tensor> weights, Layout layout, Path file, Map<String, String> metadata) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, String> meta = new LinkedHashMap<>(metadata);
            meta.put("format", "pt");
            meta.put("layout", layout.name().toLowerCase(Locale.ROOT));
            SafeTensorsWriter.write(file, export(weights, layout), meta);
        }
    }

    /**
     * Python lines that build the matching timm model and load {@code file} into it, for users of an exported
     * backbone.
     */
    public static String pythonSnippet(VitConfig config, Layout layout, String file) {
        StringBuilder args = new StringBuilder("img_size=" + config.imageSize() + ", patch_size=" + config.patchSize()
                + ", embed_dim=" + config.width() + ", depth=" + config.depth() + ", num_heads=" + config.heads()
                + ", num_classes=" + config.numClasses());
        if (config.mlpRatio() != 4.0) args.append(", mlp_ratio=").append(config.mlpRatio());
        if (layout == Layout.TIMM) {
            args.append(", global_pool='").append(config.pooling() == VitConfig.Pooling.MEAN ? "avg" : "token").append('\'');
            if (config.qkvBias() == VitConfig.QkvBias.NONE) args.append(", qkv_bias=False");
            if (config.layerScale() > 0) args.append(", init_values=").append(config.layerScale());
            if (!config.absolutePosition()) args.append(", pos_embed='none'");
        } else {
            args.append(", global_pool='").append(config.pooling() == VitConfig.Pooling.MEAN ? "avg" : "token").append('\'');
            args.append(", qkv_bias=").append(config.qkvBias() == VitConfig.QkvBias.NONE ? "False" : "True");
            args.append(", init_values=").append(config.layerScale() > 0 ? Double.toString(config.layerScale()) : "None");
            args.append(", use_abs_pos_emb=").append(config.absolutePosition() ? "True" : "False");
            args.append(", use_rel_pos_bias=").append(config.relativePosition() == RelativePosition.PER_BLOCK ? "True" : "False");
            args.append(", use_shared_rel_pos_bias=").append(config.relativePosition() == RelativePosition.SHARED ? "True" : "False");
        }
        String model = layout == Layout.TIMM ? "timm.models.vision_transformer.VisionTransformer" : "timm.models.beit.Beit";
        return "import timm, safetensors.torch\n"
                + "model = " + model + "(" + args + ")\n"
                + "model.load_state_dict(safetensors.torch.load_file('" + file.replace("'", "\\'") + "'))";
    }

    // ---- import ------------------------------------------------------------------------------------------------------

    /** {@link #load(SafeTensorsFile, String, VitConfig, Style)} with the prefix detected and timm's resampling. */
    public static VisionTransformer load(Path file, VitConfig config) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            return load(f, prefixOf(f), config, Style.TIMM);
        }
    }

    /**
     * A new model of {@code config} holding the weights of {@code file}'s tensors under {@code prefix} (in any of the
     * layouts, adapted as the class comment says), loaded strictly. Call it outside any PointerScope.
     *
     * @throws WeightFormatException naming the file and the tensor when the weights do not fit the configuration
     */
    public static VisionTransformer load(SafeTensorsFile file, String prefix, VitConfig config, Style style) {
        VisionTransformer vit = VisionTransformer.create(config);
        try {
            copyInto(vit, file, prefix, style, true);
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
        return vit;
    }

    /** {@code backbone.} when the file is a pre-training checkpoint (it has {@code backbone.cls_token}), else none. */
    public static String prefixOf(SafeTensorsFile file) {
        if (file.contains("cls_token")) return "";
        if (file.contains("backbone.cls_token")) return "backbone.";
        throw WeightFormatException.of(file.path(), "cls_token", "missing (nor 'backbone.cls_token'): not a Vision "
                + "Transformer checkpoint in timm's, BEiT's or this library's layout");
    }

    /**
     * What a load left out: parameters of the model the weights did not have (they keep their initial values) and
     * weights the model has no parameter for (not loaded).
     */
    public record LoadReport(List<String> missing, List<String> unexpected) {
        public LoadReport {
            missing = List.copyOf(missing);
            unexpected = List.copyOf(unexpected);
        }
    }

    /** {@link #copyInto(VisionTransformer, Map, String, Style, boolean)} from {@code file}'s tensors under {@code prefix}. */
    public static LoadReport copyInto(VisionTransformer vit, SafeTensorsFile file, String prefix, Style style, boolean strict) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (String name : file.names()) {
                if (name.startsWith(prefix)) weights.put(name.substring(prefix.length()), file.tensor(name));
            }
            if (weights.isEmpty()) throw WeightFormatException.of(file.path(), "no tensor named '" + prefix + "...'");
            return copyInto(vit, weights, file.path() + (prefix.isEmpty() ? "" : " (" + prefix + "*)"), style, strict);
        }
    }

    /**
     * Copies {@code weights} (any layout, no prefix) into {@code vit}, adapted to its configuration. {@code source}
     * names where they come from, for error messages. Strict: a missing parameter (other than {@code mask_token}) or
     * an unexpected weight is an error. Not strict, as BEiT's fine-tuning loads a pre-trained checkpoint: they are
     * reported instead (a pre-trained model's {@code norm}, say, when fine-tuning with {@code fc_norm}). A weight of
     * the wrong shape or dtype is an error either way.
     */
    public static LoadReport copyInto(VisionTransformer vit, Map<String, Tensor> weights, String source, Style style,
                                      boolean strict) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> adapted = adapt(weights, vit.config(), source, style);
            Map<String, Tensor> targets = StateDict.of(vit);
            List<String> unexpected = new ArrayList<>(), missing = new ArrayList<>();
            for (String name : adapted.keySet()) {
                if (targets.containsKey(name)) continue;
                if (strict) throw error(source, name, "unexpected: the model (" + vit.description() + ") has no such parameter");
                unexpected.add(name);
            }
            for (Map.Entry<String, Tensor> e : targets.entrySet()) {
                Tensor t = adapted.get(e.getKey());
                if (t == null) {
                    if (strict && !e.getKey().equals("mask_token")) throw error(source, e.getKey(), "missing");
                    missing.add(e.getKey());
                    continue;
                }
                if (!Arrays.equals(Tensors.shape(t), Tensors.shape(e.getValue()))) {
                    throw error(source, e.getKey(), "shape " + Tensors.shapeString(t) + " does not match the model's "
                            + Tensors.shapeString(e.getValue()));
                }
                if (!t.is_floating_point()) throw error(source, e.getKey(), "is " + t.scalar_type() + ", not floating point");
            }
            for (Map.Entry<String, Tensor> e : targets.entrySet()) {
                Tensor t = adapted.get(e.getKey());
                if (t != null) e.getValue().copy_(t);
            }
            return new LoadReport(missing, unexpected);
        }
    }

    /** A new model of {@code config} holding {@code vit}'s weights, resampled to its grid. */
    static VisionTransformer resized(VisionTransformer vit, VitConfig config, Style style) {
        VisionTransformer out = VisionTransformer.create(config);
        try (PointerScope scope = new PointerScope()) {
            copyInto(out, StateDict.of(vit), "the weights of " + vit.description(), style, true);
        }
        return out;
    }

    /**
     * {@code weights} in any layout renamed to the model's names for {@code config}, with biases converted, a shared
     * relative position table expanded when the model has one per block, and position parameters resampled to its
     * grid. Entries the loaders ignore are dropped; checks of presence and shape are left to the caller.
     */
    static Map<String, Tensor> adapt(Map<String, Tensor> weights, VitConfig config, String source, Style style) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            String name = e.getKey();
            if (name.endsWith(RelativePositionBias.INDEX) || name.startsWith("lm_head.")) continue;
            if (name.startsWith("head.") && config.numClasses() == 0) continue;
            w.put(name.replace(".gamma_1", ".ls1.gamma").replace(".gamma_2", ".ls2.gamma"), e.getValue());
        }
        for (int i = 0; i < config.depth(); i++) adaptAttentionBias(w, "blocks." + i + ".attn.", config, source);
        adaptRelativePosition(w, config, source);
        Tensor pos = w.get("pos_embed");
        if (pos != null && config.absolutePosition() && pos.dim() == 3 && pos.size(1) != config.numTokens()) {
            if (PositionResampling.squareRoot(pos.size(1) - 1) < 1) {
                throw error(source, "pos_embed", "shape " + Tensors.shapeString(pos) + " is not [1, 1 + g*g, C]");
            }
            w.put("pos_embed", PositionResampling.absolute(pos, config.gridSize(), style));
        }
        return w;
    }

    private static void adaptAttentionBias(Map<String, Tensor> w, String attn, VitConfig config, String source) {
        Tensor fused = w.remove(attn + "qkv.bias");
        Tensor q = w.remove(attn + "q_bias"), v = w.remove(attn + "v_bias");
        if (q != null || v != null) {
            if (q == null || v == null) throw error(source, attn + (q == null ? "q_bias" : "v_bias"), "missing (its pair is there)");
            if (fused != null) throw error(source, attn + "qkv.bias", "unexpected next to q_bias and v_bias");
            fused = fusedBias(q, v);
        }
        int c = config.width();
        if (fused != null && (fused.dim() != 1 || fused.size(0) != 3L * c)) {
            throw error(source, attn + (q == null ? "qkv.bias" : "q_bias"), "shape " + Tensors.shapeString(fused)
                    + " does not fit width " + c);
        }
        switch (config.qkvBias()) {
            case NONE -> {
                if (fused != null) throw error(source, attn + (q == null ? "qkv.bias" : "q_bias"),
                        "unexpected: the model has no attention bias (QkvBias.NONE)");
            }
            case QKV -> {
                if (fused == null) throw error(source, attn + "qkv.bias", "missing (nor q_bias and v_bias)");
                w.put(attn + "qkv.bias", fused);
            }
            case QV -> {
                if (fused == null) throw error(source, attn + "q_bias", "missing (nor qkv.bias)");
                w.put(attn + "q_bias", fused.narrow(0, 0, c));
                w.put(attn + "v_bias", fused.narrow(0, 2L * c, c));
            }
        }
    }

    private static void adaptRelativePosition(Map<String, Tensor> w, VitConfig config, String source) {
        Tensor shared = w.remove(SHARED_TABLE);
        if (shared != null) {
            switch (config.relativePosition()) {
                case SHARED -> w.put(SHARED_TABLE, shared);
                case PER_BLOCK -> {
                    // BEiT's run_class_finetuning.py: "Expand the shared relative position embedding to each block"
                    for (int i = 0; i < config.depth(); i++) {
                        String name = "blocks." + i + ".attn." + RelativePositionBias.TABLE;
                        if (w.containsKey(name)) throw error(source, name, "unexpected next to a shared table");
                        w.put(name, shared);
                    }
                }
                case NONE -> throw error(source, SHARED_TABLE, "unexpected: the model has no relative position bias");
            }
        }
        for (Map.Entry<String, Tensor> e : w.entrySet()) {
            if (!e.getKey().endsWith(RelativePositionBias.TABLE)) continue;
            Tensor table = e.getValue();
            int grid = table.dim() == 2 ? RelativePositionBias.gridOfTableRows(table.size(0)) : -1;
            if (grid < 1) throw error(source, e.getKey(), "shape " + Tensors.shapeString(table) + " is not [(2g-1)^2 + 3, heads]");
            if (grid != config.gridSize()) e.setValue(PositionResampling.relativeTable(table, config.gridSize()));
        }
    }

    /** BEiT's {@code cat(q_bias, zeros_like(v_bias), v_bias)}. */
    private static Tensor fusedBias(Tensor q, Tensor v) {
        return torch.cat(new TensorVector(q, torch.zeros_like(v), v), 0);
    }

    private static Tensor require(Map<String, Tensor> weights, String name) {
        Tensor t = weights.get(name);
        if (t == null) throw new IllegalArgumentException("'" + name + "' is missing (its pair is there)");
        return t;
    }

    private static WeightFormatException error(String source, String tensor, String problem) {
        return new WeightFormatException(source + ": tensor '" + tensor + "': " + problem);
    }
}
