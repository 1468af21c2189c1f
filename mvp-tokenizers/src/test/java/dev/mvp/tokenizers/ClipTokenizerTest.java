package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.clip.ClipLayout;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClipTokenizerTest {
    @TempDir Path dir;

    /** OpenAI's fp16 layout; references from tools/fixtures/make_clip_fixtures.py (OpenAI's clip/model.py, torch 1.13). */
    @Test void targetsAreOpenAisPerTokenFeaturesOfTheCheckpoint() {
        Path weights = TestPaths.fixture("clip/clip_w64_p16.fp16.safetensors");
        try (ClipTokenizer clip = ClipTokenizer.load(weights);
             SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(clip.inputSpec()).isEqualTo(new ViewSpec(64, Interpolation.BICUBIC, ImageNormalization.CLIP));
            assertThat(clip.targetSpec()).isEqualTo(new TargetSpec.Features(32, true));
            assertThat(clip.gridSize()).isEqualTo(4);
            assertThat(clip.name()).isEqualTo("clip-vit(width 64, layers 2, heads 1, patch 16, image 64, output 32, "
                    + "quick_gelu) from " + weights + " (openai layout)");

            Tensor targets = clip.targets(io.tensor("images", ScalarType.Float));
            assertThat(targets.requires_grad()).isFalse();
            assertThat(targets.is_inference()).isFalse();
            TensorAssert.assertClose(targets, io.tensor("features_fp16", ScalarType.Float), 1e-4);
        }
    }

    /**
     * Options named in the configuration: the Hugging Face layout, the last block's tokens, a 160-pixel view (position
     * embeddings interpolated as transformers' interpolate_pos_encoding); references from
     * tools/fixtures/make_clip_layout_fixtures.py.
     */
    @Test void optionsChooseTheLayoutTheTargetAndTheInputSize() {
        Path weights = TestPaths.fixture("clip/hf_clip_w64_p16/pytorch_model.bin");
        ClipTokenizer.Options options = ClipTokenizer.Options.DEFAULT.withLayout(ClipLayout.HF)
                .withTarget(TargetChoice.LAST_BLOCK).withImageSize(160);
        try (ClipTokenizer clip = ClipTokenizer.load(weights, options);
             ClipTokenizer features = ClipTokenizer.load(weights, options.withTarget(TargetChoice.FEATURES));
             SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.layouts.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(clip.inputSpec()).isEqualTo(new ViewSpec(160, Interpolation.BICUBIC, ImageNormalization.CLIP));
            assertThat(clip.targetSpec()).isEqualTo(new TargetSpec.Features(64, true));
            assertThat(features.targetSpec()).isEqualTo(new TargetSpec.Features(32, true));
            assertThat(clip.gridSize()).isEqualTo(10);
            assertThat(clip.name()).endsWith("from " + weights + " (hf layout, last_block targets, input 160 px)");
            Tensor images = io.tensor("images160", ScalarType.Float);
            TensorAssert.assertClose(clip.targets(images), io.tensor("last_block160", ScalarType.Float), 1e-4);
            TensorAssert.assertClose(features.targets(images), io.tensor("features160", ScalarType.Float), 1e-4);
            assertThatThrownBy(() -> clip.targets(Tensors.zeros(1, 3, 64, 64))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("the CLIP teacher takes [B, 3, 160, 160] images, got [1, 3, 64, 64]");
        }
        assertThatThrownBy(() -> ClipTokenizer.load(weights, options.withImageSize(100)))
                .isInstanceOf(InvalidChoiceException.class)
                .hasMessage("teacher input size 100 is not a multiple of the CLIP checkpoint's patch size 16");
    }

    /** Hugging Face's CLIPVisionModel has no projection: the features are the post_layernorm'd tokens, width 64. */
    @Test void aTowerWithoutProjectionGivesPostLayerNormedTokens() {
        try (ClipTokenizer clip = ClipTokenizer.load(TestPaths.fixture("clip/hf_vision_w64_p16/model.safetensors"));
             SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.io.safetensors"));
             SafeTensorsFile ref = SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.layouts.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(clip.targetSpec()).isEqualTo(new TargetSpec.Features(64, true));
            TensorAssert.assertClose(clip.targets(io.tensor("images", ScalarType.Float)),
                    ref.tensor("tokens_gelu_fp16", ScalarType.Float), 1e-4);
        }
    }

    /** Targets meet the student's predictions in a loss whose backward must work. */
    @Test void targetsCanBeUsedInALossThatIsDifferentiated() {
        try (ClipTokenizer clip = ClipTokenizer.random(3, 32, 16); PointerScope scope = new PointerScope()) {
            Tensor targets = clip.targets(Tensors.randn(2, 3, 32, 32));
            Tensor predictions = Tensors.randn(2, 5, 64).requires_grad_(true);
            // mul saves the targets for backward, which libtorch refuses for inference-mode tensors
            Tensor loss = predictions.mul(targets).sum().add(torch.cosine_similarity(predictions, targets, 2, 1e-8).sum());
            loss.backward();
            assertThat(Tensors.shape(predictions.grad())).containsExactly(2, 5, 64);
        }
    }

    @Test void theRandomTeacherIsReproducibleAndSaysItIsRandom() {
        try (ClipTokenizer a = ClipTokenizer.random(11); ClipTokenizer b = ClipTokenizer.random(11);
             ClipTokenizer c = ClipTokenizer.random(12); PointerScope scope = new PointerScope()) {
            assertThat(a.name()).contains("random (wiring check, no semantics)");
            assertThat(a.inputSpec()).isEqualTo(new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.CLIP));
            assertThat(a.targetSpec()).isEqualTo(new TargetSpec.Features(64, true));
            assertThat(a.gridSize()).isEqualTo(14);

            Tensor images = Tensors.randn(2, 3, 224, 224);
            float[] ta = Tensors.toFloats(a.targets(images));
            assertThat(ta).hasSize(2 * 197 * 64);
            assertThat(Tensors.toFloats(b.targets(images))).containsExactly(ta);
            assertThat(Tensors.toFloats(c.targets(images))).isNotEqualTo(ta);
        }
    }

    @Test void aFileThatIsNotSafetensorsIsNamed() throws Exception {
        Path file = dir.resolve("ViT-B-16.pt");
        Files.writeString(file, "not weights at all");
        assertThatThrownBy(() -> ClipTokenizer.load(file)).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(file + ": not a weight file: ")
                .hasMessageNotContaining("\n");
    }

    @Test void aMissingTensorIsNamed() {
        Path file = dir.resolve("partial.safetensors");
        try (PointerScope scope = new PointerScope()) {
            // enough for the configuration (width 64, patch 16, 2x2 grid, 1 block, output 8), nothing else
            SafeTensorsWriter.write(file, Map.of(
                    "visual.conv1.weight", Tensors.zeros(64, 3, 16, 16),
                    "visual.positional_embedding", Tensors.zeros(5, 64),
                    "visual.proj", Tensors.zeros(64, 8),
                    "visual.transformer.resblocks.0.attn.in_proj_weight", Tensors.zeros(192, 64)));
        }
        assertThatThrownBy(() -> ClipTokenizer.load(file)).isInstanceOf(WeightFormatException.class)
                .hasMessageMatching("\\Q" + file + ": tensor 'visual.\\E[a-z_.0-9]+\\Q': missing\\E.*");
    }

    @Test void aClosedTokenizerSaysSo() {
        ClipTokenizer clip = ClipTokenizer.random(1, 32, 16);
        clip.close();
        clip.close();
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> clip.targets(Tensors.zeros(1, 3, 32, 32)))
                    .isInstanceOf(IllegalStateException.class).hasMessageEndingWith("is closed");
        }
    }
}
