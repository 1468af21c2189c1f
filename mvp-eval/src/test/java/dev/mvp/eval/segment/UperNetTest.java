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

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** UperNet's neck and head against the transcription of BEiT's beit.py and mmseg's UPerHead (make_eval_fixtures.py). */
class UperNetTest {

    static UperNetSegmenter model() {
        Torch.init();
        torch.manual_seed(2);
        VisionTransformer vit = VisionTransformer.create(VitConfig.timm(32, 4, 2, 8).withImageSize(32));
        return new UperNetSegmenter(vit, 5, 16, new int[] {0, 1, 2, 3});
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
            Tensor x = Tensors.randn(2, 3, 32, 32);
            Tensor logits = model.forward(x);
            assertThat(Tensors.shape(logits)).containsExactly(2, 5, 32, 32);
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
