package dev.mvp.cli;

import dev.mvp.cli.MainTest.Result;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code mvp inspect} on the CLIP layout fixtures. Counts are PyTorch's: {@code sum(t.numel())} over the
 * floating-point tensors of {@code torch.load(file)} (or of the TorchScript module's parameters and buffers), as
 * tools/fixtures/make_clip_layout_fixtures.py wrote them.
 */
class InspectCommandTest {
    @TempDir Path tmp;

    @Test void listsATorchSaveStateDictAndDetectsHuggingFacesLayout() {
        Path file = TestPaths.fixture("clip/hf_clip_w64_p16/pytorch_model.bin");
        Result r = mvp("inspect", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith(file + ": torch.save zip, the top-level state dict\n");
        assertThat(r.out()).containsPattern("\n  vision_model\\.embeddings\\.patch_embedding\\.weight +F32 +\\[64, 3, 16, 16]\n");
        assertThat(r.out()).containsPattern("\n  visual_projection\\.weight +F32 +\\[32, 64]\n");
        assertThat(r.out()).containsPattern("\n  vision_model\\.embeddings\\.position_ids +I64 +\\[1, 17]\n");
        assertThat(r.out()).contains("45 tensors, 153,249 parameters (floating-point values), 25 integer or boolean values\n");
        assertThat(r.out()).contains("layout: clip hf: Hugging Face CLIP layout ('vision_model.*'): width 64, layers 2, "
                + "heads 1, patch 16, image 64, output 32, quick_gelu; quick_gelu from config.json hidden_act\n");
    }

    @Test void findsTheStateDictOfATrainingCheckpointAndDetectsOpenClip() {
        Path file = TestPaths.fixture("clip/open_clip_w64_p16/epoch_3.pt");
        Result r = mvp("inspect", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith(file + ": torch.save zip, state dict at 'state_dict' (top-level keys: epoch, name, "
                + "state_dict, optimizer)\n");
        assertThat(r.out()).containsPattern("\n  module\\.visual\\.proj +F32 +\\[64, 32]\n");
        assertThat(r.out()).contains("35 tensors, 152,721 parameters (floating-point values)\n");
        assertThat(r.out()).contains("layout: clip open_clip: open_clip layout ('module.visual.*')");
    }

    @Test void readsOpenAisTorchScriptRelease() {
        Path file = TestPaths.fixture("clip/clip_w64_p16.jit.pt");
        Result r = mvp("inspect", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith(file + ": TorchScript archive\n");
        assertThat(r.out()).containsPattern("\n  visual\\.conv1\\.weight +F16 +\\[64, 3, 16, 16]\n");
        assertThat(r.out()).containsPattern("\n  visual\\.class_embedding +F32 +\\[64]\n");
        assertThat(r.out()).contains("37 tensors, 153,249 parameters (floating-point values)\n",
                "layout: clip openai: OpenAI CLIP layout ('visual.*')");
    }

    /** The other kinds' fixtures (tools/fixtures/make_teacher_fixtures.py), DALL-E's pickled Encoder object included. */
    @Test void detectsDinoAndTheDalleEncoderPickle() {
        Result dino = mvp("inspect", TestPaths.fixture("dino/dino_train_w32.pth").toString());
        assertThat(dino.code()).as(dino.err()).isZero();
        assertThat(dino.out()).contains("state dict at 'teacher'", "layout: dino dino: DINO / timm ViT layout ('backbone.*')");
        Result dalle = mvp("inspect", TestPaths.fixture("dalle/encoder_w16.pkl").toString());
        assertThat(dalle.code()).as(dalle.err()).isZero();
        assertThat(dalle.out()).containsPattern("\\n  blocks\\.input\\.w +F32 +\\[16, 3, 7, 7]\\n");
        assertThat(dalle.out()).contains("layout: dalle auto: DALL-E d-VAE encoder: n_hid 16, blocks/group 2, vocab 512");
    }

    /** A file in BEiT's layout (what export --format beit, finetune and segment write) is not called a DINO teacher. */
    @Test void reportsBeitsLayoutAndTheHeadsAsTheEvaluationCommandsResolveThem() {
        dev.mvp.api.Torch.init();
        Path file = tmp.resolve("beit.safetensors");
        // width 192 with 4 heads: width / 64 would say 3; the metadata says 4, as segment reads it
        dev.mvp.models.VitConfig config = dev.mvp.models.VitConfig.timm(192, 2, 4, 8).withImageSize(32)
                .withQkvBias(dev.mvp.models.VitConfig.QkvBias.QV)
                .withRelativePosition(dev.mvp.models.VitConfig.RelativePosition.PER_BLOCK).withAbsolutePosition(false);
        try (var vit = dev.mvp.models.VisionTransformer.create(config);
             var scope = new org.bytedeco.javacpp.PointerScope()) {
            dev.mvp.models.VitCheckpoints.save(dev.mvp.models.io.StateDict.of(vit), dev.mvp.models.VitCheckpoints.Layout.BEIT,
                    file, java.util.Map.of("num_heads", "4"));
        }
        Result r = mvp("inspect", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("layout: vit beit: ViT backbone in BEiT's layout: width 192, depth 2, patch 8",
                "heads 4 from the file's metadata (4 heads)").doesNotContain("dino").doesNotContain("width / 64");
        // the same heads and source as segment prints ("attention heads 4 from ...")
        var inferred = dev.mvp.eval.BackboneFiles.describe(file, 0);
        assertThat(r.out()).contains("backbone: beit layout, width 192, depth 2, patch 8, image 32, heads 4 from "
                + inferred.headsSource());
    }

    @Test void saysWhenNoTeacherIsRecognised() {
        Path file = TestPaths.fixture("clip/clip_w64_p16.io.safetensors");
        Result r = mvp("inspect", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith(file + ": safetensors");
        assertThat(r.out()).containsPattern("\n  images +F32 +\\[2, 3, 64, 64]\n");
        assertThat(r.out()).contains("6 tensors, ", "layout: not recognised");
    }

    @Test void aMissingOrUnreadableFileIsOneLine() throws Exception {
        Result missing = mvp("inspect", tmp.resolve("none.pt").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains(tmp.resolve("none.pt") + ": no such file");
        Path garbage = Files.writeString(tmp.resolve("weights.bin"), "definitely not weights");
        Result bad = mvp("inspect", garbage.toString());
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err().strip().lines()).hasSize(1);
        assertThat(bad.err()).contains(garbage + ": not a weight file");
        Result keyPath = mvp("inspect", TestPaths.fixture("clip/open_clip_w64_p16/epoch_3.pt").toString(), "--key-path", "model");
        assertThat(keyPath.code()).isEqualTo(1);
        assertThat(keyPath.err()).contains("no key 'model' at the top level (keys: epoch, name, state_dict, optimizer)");
    }
}
