package dev.mvp.eval.finetune;

import dev.mvp.eval.optim.Param;
import org.bytedeco.pytorch.Module;
import dev.mvp.models.io.StateDict;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Layer-wise learning-rate decay for ViT fine-tuning, exactly BEiT's rule ({@code optim_factory.py}:
 * {@code get_num_layer_for_vit} and {@code LayerDecayValueAssigner}, which MAE's {@code param_groups_lrd} repeats):
 * <pre>
 * layer_id(name) = 0          for cls_token, mask_token, pos_embed, patch_embed.*
 *                  i + 1      for blocks.i.*
 *                  depth + 1  for everything else (rel_pos_bias.*, norm, fc_norm, head)
 * lr(name) = lr * decay ^ (depth + 1 - layer_id(name))
 * </pre>
 * so the head learns at the full rate and each block below it at {@code decay} times the rate of the block above.
 * Worked example (ViT-B: depth 12, decay 0.65, lr 4e-3): the head and fc_norm train at 4e-3, block 11 at
 * 4e-3 x 0.65 = 2.6e-3, block 0 at 4e-3 x 0.65^12 = 2.28e-5, the patch embedding at 4e-3 x 0.65^13 = 1.48e-5.
 *
 * <p>Weight decay follows BEiT's {@code get_parameter_groups}: none for a parameter of one dimension, a name ending
 * in {@code .bias}, or a name in the model's skip list ({@code pos_embed}, {@code cls_token}); the rest decay (BEiT
 * decays the relative position tables too, unless {@code --disable_weight_decay_on_rel_pos_bias}).
 */
public final class LayerDecay {
    /** BEiT's {@code no_weight_decay()} of its fine-tuning ViT. */
    public static final Set<String> SKIP_WEIGHT_DECAY = Set.of("pos_embed", "cls_token");

    private LayerDecay() {}

    /** BEiT's layer id of a parameter of a ViT with {@code depth} blocks. */
    public static int layerId(String name, int depth) {
        if (name.equals("cls_token") || name.equals("mask_token") || name.equals("pos_embed")) return 0;
        if (name.startsWith("patch_embed")) return 0;
        if (name.startsWith("rel_pos_bias")) return depth + 1;
        if (name.startsWith("blocks")) {
            int end = name.indexOf('.', "blocks.".length());
            return Integer.parseInt(name.substring("blocks.".length(), end < 0 ? name.length() : end)) + 1;
        }
        return depth + 1;
    }

    /** {@code decay ^ (depth + 1 - layerId)}. */
    public static double scale(int layerId, int depth, double decay) {
        return Math.pow(decay, depth + 1 - layerId);
    }

    /** Whether BEiT decays a parameter's weights (see the class comment). */
    public static boolean decays(String name, Tensor t) {
        return !(t.dim() == 1 || name.endsWith(".bias") || SKIP_WEIGHT_DECAY.contains(name));
    }

    /**
     * The optimiser's view of a model: every trainable parameter (except {@code mask_token}, which fine-tuning never
     * uses) with its lr scale and weight decay. The tensors are new handles on the model's parameters: call this
     * outside any PointerScope.
     */
    public static List<Param> params(Module model, int depth, double decay, double weightDecay) {
        List<Param> out = new ArrayList<>();
        for (var p : StateDict.parameters(model).entrySet()) {
            String name = p.getKey();
            Tensor t = p.getValue();
            if (!t.requires_grad() || name.equals("mask_token")) continue;
            out.add(new Param(name, t, scale(layerId(name, depth), depth, decay), decays(name, t) ? weightDecay : 0));
        }
        return out;
    }
}
