package dev.mvp.train;

import dev.mvp.models.io.StateDict;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits trainable parameters into the weight-decay group and the no-decay group the way BEiT's
 * {@code get_parameter_groups} does: a parameter skips weight decay when it is one-dimensional (every bias and
 * LayerNorm weight), its name ends with {@code .bias}, or it is one of the tokens and tables listed in
 * {@link #NO_DECAY_NAMES} (position embedding, CLS and mask tokens, relative-position bias tables).
 *
 * @param decay   name to tensor, in registration order
 * @param noDecay name to tensor, in registration order
 */
public record ParameterGroups(Map<String, Tensor> decay, Map<String, Tensor> noDecay) {

    /** Parameter names (last path element) that never decay, whatever their shape. */
    public static final Set<String> NO_DECAY_NAMES =
            Set.of("pos_embed", "cls_token", "mask_token", "relative_position_bias_table");

    /** Groups the parameters of each module, prefixing their names with the map's keys (e.g. {@code backbone.}). */
    public static ParameterGroups of(Map<String, Module> modules) {
        Map<String, Tensor> decay = new LinkedHashMap<>();
        Map<String, Tensor> noDecay = new LinkedHashMap<>();
        for (var e : modules.entrySet()) {
            // handles of our own: the optimiser is built from them after named_parameters' dictionary is gone
            for (var p : StateDict.parameters(e.getValue()).entrySet()) {
                Tensor t = p.getValue();
                if (!t.requires_grad()) continue;
                String name = e.getKey() + p.getKey();
                (skipsDecay(name, t) ? noDecay : decay).put(name, t);
            }
        }
        return new ParameterGroups(decay, noDecay);
    }

    /** Whether a parameter is exempt from weight decay (see the class comment). */
    public static boolean skipsDecay(String name, Tensor t) {
        String last = name.substring(name.lastIndexOf('.') + 1);
        return t.dim() <= 1 || name.endsWith(".bias") || NO_DECAY_NAMES.contains(last);
    }

    /** All parameters, decay group first. */
    public List<Tensor> all() {
        List<Tensor> out = new ArrayList<>(decay.values());
        out.addAll(noDecay.values());
        return out;
    }
}
