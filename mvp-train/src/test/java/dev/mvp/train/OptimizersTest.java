package dev.mvp.train;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.LinearHead;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class OptimizersTest {

    /** A module with one decaying matrix parameter and one non-decaying bias. */
    static final class Tiny extends Module {
        final Tensor weight = Tensors.ofFloats(new float[] {1f, -2f, 0.5f, 3f}, 2, 2);
        final Tensor bias = Tensors.ofFloats(new float[] {0.25f, -0.75f}, 2);

        Tiny() {
            weight.set_requires_grad(true);
            bias.set_requires_grad(true);
            register_parameter("weight", weight);
            register_parameter("bias", bias);
        }
    }

    @Test
    void adamWMatchesTheClosedFormWithBeitsBetas() {
        Torch.init();
        Tiny m = new Tiny();
        ParameterGroups groups = ParameterGroups.of(Map.of("", m));
        double lr = 0.1, wd = 0.05, b1 = 0.9, b2 = 0.98, eps = 1e-8;
        AdamW opt = Optimizers.adamW(groups, lr, wd, b1, b2);
        assertThat(Optimizers.groupOptions(opt, 0)).containsExactly(lr, wd, b1, b2, eps);
        assertThat(Optimizers.groupOptions(opt, 1)).containsExactly(lr, 0.0, b1, b2, eps);

        double[] w = {1, -2, 0.5, 3}, bias = {0.25, -0.75};
        double[] mw = new double[4], vw = new double[4], mb = new double[2], vb = new double[2];
        // gradients that change every step, so the result depends on both betas
        float[][] coefW = {{1, 2, -1, 0.5f}, {-3, 0.1f, 2, 1}, {0.5f, -0.5f, 4, -2}};
        float[][] coefB = {{1, -1}, {0.2f, 3}, {-2, 0.7f}};
        for (int t = 1; t <= 3; t++) {
            try (PointerScope scope = new PointerScope()) {
                opt.zero_grad();
                Tensor loss = m.weight.mul(Tensors.ofFloats(coefW[t - 1], 2, 2)).sum()
                        .add(m.bias.mul(Tensors.ofFloats(coefB[t - 1], 2)).sum());
                loss.backward();
                opt.step();
            }
            adamW(w, coefW[t - 1], mw, vw, t, lr, wd, b1, b2, eps);
            adamW(bias, coefB[t - 1], mb, vb, t, lr, 0.0, b1, b2, eps);
        }
        float[] gotW = Tensors.toFloats(m.weight), gotB = Tensors.toFloats(m.bias);
        for (int i = 0; i < 4; i++) assertThat((double) gotW[i]).isCloseTo(w[i], within(1e-6));
        for (int i = 0; i < 2; i++) assertThat((double) gotB[i]).isCloseTo(bias[i], within(1e-6));
    }

    /** PyTorch's AdamW, in double precision. */
    private static void adamW(double[] p, float[] g, double[] m, double[] v, int t, double lr, double wd, double b1,
                              double b2, double eps) {
        for (int i = 0; i < p.length; i++) {
            p[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.pow(b1, t)), vHat = v[i] / (1 - Math.pow(b2, t));
            p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }

    @Test
    void learningRateAndWeightDecayAreSetPerStep() {
        Tiny m = new Tiny();
        AdamW opt = Optimizers.adamW(ParameterGroups.of(Map.of("", m)), 1e-3, 0.05, 0.9, 0.98);
        Optimizers.setLearningRate(opt, 4e-4);
        Optimizers.setWeightDecay(opt, 0.02);
        assertThat(Optimizers.groupOptions(opt, 0)[0]).isEqualTo(4e-4);
        assertThat(Optimizers.groupOptions(opt, 1)[0]).isEqualTo(4e-4);
        assertThat(Optimizers.groupOptions(opt, 0)[1]).isEqualTo(0.02);
        assertThat(Optimizers.groupOptions(opt, 1)[1]).isEqualTo(0.0);
    }

    @Test
    void noDecayGroupHoldsExactlyBiasesNormsAndTokensOfVitB() {
        VisionTransformer vit = VisionTransformer.create(VitConfig.base(16));
        LinearHead head = new LinearHead(768, 512);
        Map<String, Module> modules = new LinkedHashMap<>();
        modules.put("backbone.", vit);
        modules.put("head.", head);
        ParameterGroups g = ParameterGroups.of(modules);
        assertThat(g.noDecay().keySet()).allSatisfy(name -> assertThat(
                name.endsWith(".bias") || name.endsWith("norm1.weight") || name.endsWith("norm2.weight")
                        || name.equals("backbone.norm.weight") || name.equals("backbone.pos_embed")
                        || name.equals("backbone.cls_token") || name.equals("backbone.mask_token")).as(name).isTrue());
        assertThat(g.noDecay()).containsKeys("backbone.pos_embed", "backbone.cls_token", "backbone.mask_token",
                "backbone.patch_embed.proj.bias", "backbone.blocks.11.norm2.weight", "head.bias");
        // 12 blocks x (2 norms x 2 + qkv, proj, fc1, fc2 biases = 8) + patch bias + final norm 2 + 3 tokens + head bias
        assertThat(g.noDecay()).hasSize(12 * 8 + 1 + 2 + 3 + 1);
        // decays: patch-embedding weight, 4 matrices per block, head weight
        assertThat(g.decay().keySet()).containsExactlyInAnyOrderElementsOf(expectedDecay());
        vit.close();
    }

    /**
     * The groups hold handles of their own: the elements of {@code named_parameters(true)} point into a dictionary the
     * garbage collector frees, and the optimiser built from them after a collection once read freed memory (a JVM crash,
     * SIGBUS in {@code TensorVector.push_back}, in one CI run of ResumeTeacherTest).
     */
    @Test
    void groupsOutliveTheParameterDictionaryAcrossGarbageCollections() throws Exception {
        VisionTransformer vit = VisionTransformer.create(VitConfig.tiny(16));
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, Long> addresses = new LinkedHashMap<>();
        for (var e : dev.mvp.models.io.StateDict.parameters(vit).entrySet()) {
            shapes.put(e.getKey(), Tensors.shape(e.getValue()));
            addresses.put(e.getKey(), e.getValue().data_ptr().address());
        }
        ParameterGroups groups = ParameterGroups.of(Map.of("", vit));
        for (int i = 0; i < 5; i++) { // let the deallocator thread free whatever is unreachable
            System.gc();
            Thread.sleep(50);
        }
        Map<String, Tensor> all = new LinkedHashMap<>(groups.decay());
        all.putAll(groups.noDecay());
        assertThat(all.keySet()).containsExactlyInAnyOrderElementsOf(shapes.keySet());
        all.forEach((name, t) -> {
            assertThat(Tensors.shape(t)).as(name).containsExactly(shapes.get(name));
            assertThat(t.data_ptr().address()).as(name).isEqualTo(addresses.get(name));
        });
        AdamW opt = Optimizers.adamW(groups, 1e-3, 0.05, 0.9, 0.98);
        assertThat(opt.param_groups().get(0).params().size() + opt.param_groups().get(1).params().size())
                .isEqualTo(shapes.size());
        vit.close();
    }

    private static java.util.List<String> expectedDecay() {
        java.util.List<String> names = new java.util.ArrayList<>();
        names.add("backbone.patch_embed.proj.weight");
        for (int i = 0; i < 12; i++) {
            for (String s : new String[] {"attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"}) {
                names.add("backbone.blocks." + i + "." + s);
            }
        }
        names.add("head.weight");
        return names;
    }
}
