package dev.mvp.eval.segment;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.StateDict;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * UperNet's necks and heads against the transcriptions of BEiT's beit.py and mmseg's UPerHead / FCNHead / loss
 * (tools/fixtures/make_eval_fixtures.py: upernet.safetensors; make_seg_fixtures.py: seg_upernet.safetensors).
 */
class UperNetTest {

    /** Width 32, patch {@code patch}, a 4x4 (patch 16) or 8x8 (patch 8) grid at 64 pixels. */
    static UperNetSegmenter model(int patch, int auxChannels) {
        Torch.init();
        Torch.setThreads(1);
        torch.manual_seed(2);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(32, 4, 2, patch).withImageSize(64));
        return new UperNetSegmenter(vit, 5, 16, new int[] {0, 1, 2, 3},
                auxChannels == 0 ? UperNetSegmenter.Auxiliary.NONE : new UperNetSegmenter.Auxiliary(auxChannels, 1, 0.4));
    }

    static UperNetSegmenter model() {
        return model(16, 0);
    }

    /** Copies every {@code prefix + name} tensor of the file into the model and checks both name sets match. */
    static void load(UperNetSegmenter model, SafeTensorsFile f, String prefix) {
        Map<String, Tensor> ours = StateDict.of(model);
        Set<String> loaded = new HashSet<>();
        for (String full : f.names()) {
            if (!full.startsWith(prefix)) continue;
            String name = full.substring(prefix.length());
            if (name.startsWith("feat") || name.startsWith("logits") || name.startsWith("aux_logits") || name.startsWith("loss")
                    || name.equals("labels")) {
                continue;
            }
            Tensor target = ours.get(name);
            assertThat(target).as("the model has %s", name).isNotNull();
            assertThat(Tensors.shape(target)).as(name).containsExactly(Tensors.shape(f.tensor(full)));
            target.copy_(f.tensor(full));
            loaded.add(name);
        }
        for (String name : ours.keySet()) {
            if (!name.startsWith("backbone.")) assertThat(loaded).as("the reference has %s", name).contains(name);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 8})
    void bothNecksTheAuxiliaryHeadAndTheLossEqualTheReference(int patch) {
        String p = "p" + patch + ".";
        try (UperNetSegmenter model = model(patch, 8);
             SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/seg_upernet.safetensors"));
             PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            load(model, f, p);
            model.eval();
            List<Tensor> feats = List.of(f.tensor(p + "feat0"), f.tensor(p + "feat1"), f.tensor(p + "feat2"), f.tensor(p + "feat3"));
            List<Tensor> levels = model.neck(feats);
            Tensor logits = model.decodeHead(levels), aux = model.auxHead(levels);
            double dMain = TensorAssert.maxAbsDiff(logits, f.tensor(p + "logits")), dAux = TensorAssert.maxAbsDiff(aux, f.tensor(p + "aux_logits"));
            Tensor labels = f.tensor(p + "labels");
            double main = SegLoss.crossEntropy(logits, labels).item_double();
            double auxLoss = SegLoss.crossEntropy(aux, labels).item_double();
            double total = model.loss(feats, labels).item_double();
            double refMain = f.tensor(p + "loss_main").item_double(), refAux = f.tensor(p + "loss_aux").item_double();
            System.out.printf("patch %d: logits max |diff| %.2e, aux logits %.2e; loss %.7f (reference %.7f = %.7f + %.7f)%n",
                    patch, dMain, dAux, total, f.tensor(p + "loss").item_double(), refMain, refAux);
            TensorAssert.assertClose(logits, f.tensor(p + "logits"), 1e-4);
            TensorAssert.assertClose(aux, f.tensor(p + "aux_logits"), 1e-4);
            assertThat(main).isCloseTo(refMain, within(1e-5));
            assertThat(0.4 * auxLoss).isCloseTo(refAux, within(1e-5));
            assertThat(total).isCloseTo(f.tensor(p + "loss").item_double(), within(1e-5));
            assertThat(total).as("1.0 main + 0.4 aux").isCloseTo(main + 0.4 * auxLoss, within(1e-6));
            // mmseg's mean runs over every pixel: PyTorch's valid-pixel mean would be about 1 / 0.7 larger here
            assertThat(main).isLessThan(0.8 * torch.cross_entropy_loss(
                    torch.upsample_bilinear2d(logits, new long[] {64, 64}, false), labels, new org.bytedeco.pytorch.TensorOptional(), 1,
                    255, 0.0).item_double());
        }
    }

    @Test
    void otherPatchSizesAreRefusedInOneLine() {
        Torch.init();
        Torch.setThreads(1);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(32, 4, 2, 4).withImageSize(32));
        try {
            assertThatThrownBy(() -> new UperNetSegmenter(vit, 5, 16, new int[] {0, 1, 2, 3}))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("UperNet's neck (BEiT's beit.py) exists for patch sizes 16 and 8; the backbone has patch size 4");
        } finally {
            vit.close();
        }
    }

    @Test
    void theTrainingLossIsTheMainPlusPointFourTimesTheAuxiliaryOnTheSameDropoutDraws() {
        try (UperNetSegmenter model = model(8, 8); PointerScope scope = new PointerScope()) {
            model.module().train(true);
            Tensor x = Tensors.randn(2, 3, 64, 64);
            long[] y = new long[2 * 64 * 64];
            java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
            for (int i = 0; i < y.length; i++) y[i] = rng.nextInt(10) < 3 ? 255 : rng.nextInt(5);
            Tensor labels = Tensors.ofLongs(y, 2, 64, 64);
            torch.manual_seed(7);
            double total = model.loss(x, labels).item_double();
            torch.manual_seed(7);
            List<Tensor> levels = model.neck(featuresOf(model, x));
            double main = SegLoss.crossEntropy(model.decodeHead(levels), labels).item_double();
            double aux = SegLoss.crossEntropy(model.auxHead(levels), labels).item_double();
            assertThat(total).isCloseTo(main + 0.4 * aux, within(1e-5));
            assertThat(aux).isPositive();
        }
    }

    static List<Tensor> featuresOf(UperNetSegmenter model, Tensor x) {
        int g = model.backbone().config().gridSize();
        List<Tensor> out = new java.util.ArrayList<>();
        for (Tensor t : model.backbone().blockOutputs(x, model.outIndices())) {
            out.add(t.narrow(1, 1, t.size(1) - 1).transpose(1, 2).reshape(new long[] {x.size(0), 32, g, g}));
        }
        return out;
    }

    @Test
    void evalForwardEqualsTheReferenceWithItsNames() {
        try (UperNetSegmenter model = model();
             SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/upernet.safetensors"));
             PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> ours = StateDict.of(model);
            Set<String> loaded = new HashSet<>();
            for (String name : f.names()) {
                if (name.startsWith("feat") || name.equals("logits")) continue;
                Tensor target = ours.get(name);
                assertThat(target).as("the model has %s", name).isNotNull();
                assertThat(Tensors.shape(target)).as(name).containsExactly(Tensors.shape(f.tensor(name)));
                target.copy_(f.tensor(name));
                loaded.add(name);
            }
            for (String name : ours.keySet()) {
                if (!name.startsWith("backbone.")) assertThat(loaded).as("the reference has %s", name).contains(name);
            }
            model.eval();
            Tensor logits = model.decode(List.of(f.tensor("feat0"), f.tensor("feat1"), f.tensor("feat2"), f.tensor("feat3")));
            System.out.println("upernet max |diff| " + TensorAssert.maxAbsDiff(logits, f.tensor("logits")));
            TensorAssert.assertClose(logits, f.tensor("logits"), 1e-4);
        }
    }

    @Test
    void trainModeForwardOnImagesGivesFullSizeLogitsAndGradients() {
        try (UperNetSegmenter model = model(); PointerScope scope = new PointerScope()) {
            model.module().train(true);
            Tensor x = Tensors.randn(2, 3, 64, 64);
            Tensor logits = model.forward(x);
            assertThat(Tensors.shape(logits)).containsExactly(2, 5, 64, 64);
            logits.sum().backward();
            for (var p : model.headParams(0.01)) {
                assertThat(p.tensor().grad().defined()).as("gradient of %s", p.name()).isTrue();
            }
            assertThat(UperNetSegmenter.defaultIndices(12)).containsExactly(3, 5, 7, 11);
            assertThat(UperNetSegmenter.defaultIndices(24)).containsExactly(7, 11, 15, 23);
        }
    }

    @Test
    void blockOutputsAreTheTokensBetweenBlocks() {
        Torch.init();
        torch.manual_seed(4);
        // mean pooling: no final norm, so forward() is the last block's output
        try (VisionTransformer vit = VisionTransformer.create(VitConfig.timm(32, 3, 2, 8).withImageSize(32).withPooling(VitConfig.Pooling.MEAN));
             PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            vit.eval();
            Tensor x = Tensors.randn(2, 3, 32, 32);
            List<Tensor> outs = vit.blockOutputs(x, 0, 0, 2);
            assertThat(outs).hasSize(3);
            TensorAssert.assertClose(outs.get(2), vit.forward(x, null), 0);
            TensorAssert.assertClose(outs.get(0), outs.get(1), 0);
            assertThat(TensorAssert.maxAbsDiff(outs.get(0), outs.get(2))).isGreaterThan(1e-3);
        }
    }
}
