package dev.mvp.models.clip;

import dev.mvp.api.Tensors;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Checked against tools/fixtures/make_clip_fixtures.py: OpenAI's clip/model.py VisionTransformer (with
 * torch.nn.MultiheadAttention) run by PyTorch 1.13 on the same weights and images.
 */
class ClipVisionTransformerTest {
    private static final String W64 = "clip/clip_w64_p16";   // width 64, 1 head, patch 16, OpenAI "visual." keys + text tower
    private static final String W128 = "clip/clip_w128_p8";  // width 128, 2 heads, patch 8, vision-only keys in fp32

    @TempDir Path dir;

    @Test void infersTheConfigurationFromTheShapes() {
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture(W64 + ".fp32.safetensors"))) {
            assertThat(ClipVisionConfig.inferFrom(f, ClipVisionTransformer.keyPrefix(f)))
                    .isEqualTo(new ClipVisionConfig(64, 16, 64, 2, 1, 32));
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture(W128 + ".fp32.safetensors"))) {
            assertThat(ClipVisionTransformer.keyPrefix(f)).isEmpty();
            assertThat(ClipVisionConfig.inferFrom(f, "")).isEqualTo(new ClipVisionConfig(32, 8, 128, 2, 2, 48));
        }
    }

    @Test void registersOpenAisStateDictNames() {
        ClipVisionTransformer model = ClipVisionTransformer.create(new ClipVisionConfig(64, 16, 64, 2, 1, 32));
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture(W64 + ".fp16.safetensors"));
             PointerScope scope = new PointerScope()) {
            Map<String, Tensor> params = StateDict.of(model);
            assertThat(params.keySet()).containsExactlyInAnyOrderElementsOf(
                    f.names().stream().map(n -> n.substring("visual.".length())).collect(Collectors.toSet()));
            assertThat(params.keySet()).contains("conv1.weight", "class_embedding", "positional_embedding",
                    "ln_pre.weight", "transformer.resblocks.1.attn.in_proj_weight",
                    "transformer.resblocks.1.attn.out_proj.bias", "transformer.resblocks.0.mlp.c_fc.weight",
                    "transformer.resblocks.0.ln_2.bias", "ln_post.bias", "proj");
            assertThat(params.values()).noneMatch(Tensor::requires_grad);
        } finally {
            model.close();
        }
    }

    /** Measured: max |difference| 1.2e-6 (features) and 9.5e-7 (last block) on both fixtures. */
    @Test void matchesOpenAisVisionTransformerWithFp32Weights() {
        assertMatchesReference(W64, "fp32", 1e-4);
        assertMatchesReference(W128, "fp32", 1e-4);
    }

    /**
     * OpenAI's fp16 release layout (halved conv/linear/attention/proj weights, fp32 embeddings and LayerNorms). The
     * reference ran in float32 on the same fp16-rounded weights, so the fp32 tolerance applies (measured: 1.2e-6);
     * fp16 rounding itself moves the features by about 1.2e-3, which this tolerance would catch.
     */
    @Test void matchesOpenAisVisionTransformerWithFp16Weights() {
        assertMatchesReference(W64, "fp16", 1e-4);
        assertMatchesReference(W128, "fp16", 1e-4);
    }

    @Test void randomTowersAreReproducibleFromTheirSeed() {
        ClipVisionConfig config = new ClipVisionConfig(32, 16, 128, 2, 2, 64);
        ClipVisionTransformer a = ClipVisionTransformer.random(config, 7);
        ClipVisionTransformer b = ClipVisionTransformer.random(config, 7);
        ClipVisionTransformer c = ClipVisionTransformer.random(config, 8);
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> pa = StateDict.of(a), pb = StateDict.of(b), pc = StateDict.of(c);
            for (String name : pa.keySet()) {
                assertThat(Tensors.toFloats(pa.get(name))).as(name).containsExactly(Tensors.toFloats(pb.get(name)));
            }
            assertThat(Tensors.toFloats(pa.get("proj"))).isNotEqualTo(Tensors.toFloats(pc.get("proj")));
            // CLIP's scales: proj ~ N(0, width^-0.5)
            float[] proj = Tensors.toFloats(pa.get("proj"));
            double var = 0;
            for (float v : proj) var += v * v;
            assertThat(Math.sqrt(var / proj.length)).isCloseTo(Math.pow(128, -0.5), org.assertj.core.data.Offset.offset(0.01));
        } finally {
            a.close();
            b.close();
            c.close();
        }
    }

    @Test void namesTheFileAndTensorOfAMissingTensor() {
        Path file = copyOf(W64 + ".fp32.safetensors", "missing.safetensors", "visual.transformer.resblocks.1.mlp.c_fc.bias", null);
        assertThatThrownBy(() -> ClipVisionTransformer.load(file)).isInstanceOf(WeightFormatException.class)
                .hasMessage(file + ": tensor 'visual.transformer.resblocks.1.mlp.c_fc.bias': missing (the file has 35 tensors)");
    }

    @Test void namesTheTensorWhoseShapeDoesNotFitTheInferredConfiguration() {
        Path file = copyOf(W64 + ".fp32.safetensors", "shape.safetensors", "visual.transformer.resblocks.0.mlp.c_fc.weight",
                new long[] {128, 64});
        assertThatThrownBy(() -> ClipVisionTransformer.load(file)).isInstanceOf(WeightFormatException.class)
                .hasMessage(file + ": tensor 'visual.transformer.resblocks.0.mlp.c_fc.weight': shape [128, 64] does not "
                        + "match the model's [256, 64]");
        Path pos = copyOf(W64 + ".fp32.safetensors", "pos.safetensors", "visual.positional_embedding", new long[] {16, 64});
        assertThatThrownBy(() -> ClipVisionTransformer.load(pos)).isInstanceOf(WeightFormatException.class)
                .hasMessage(pos + ": tensor 'visual.positional_embedding': shape [16, 64] does not fit CLIP's vision "
                        + "tower (expected [1 + grid^2, 64])");
    }

    @Test void rejectsATruncatedArchiveAndAFileWithoutClipTensors() throws Exception {
        Path file = dir.resolve("ViT-B-16.pt");
        Files.write(file, new byte[] {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); // the start of a zip archive
        assertThatThrownBy(() -> ClipVisionTransformer.load(file)).isInstanceOf(WeightFormatException.class)
                .hasMessage(file + ": zip archive without an end-of-central-directory record: truncated");
        Path other = copyOf(W64 + ".io.safetensors", "io.safetensors", "nothing", null);
        assertThatThrownBy(() -> ClipVisionTransformer.load(other)).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(other + ": not a CLIP vision tower: no 'visual.conv1.weight' or 'conv1.weight'");
    }

    @Test void rejectsImagesOfTheWrongShapeOrType() {
        ClipVisionTransformer model = ClipVisionTransformer.create(new ClipVisionConfig(32, 16, 64, 1, 1, 8));
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> model.forward(Tensors.zeros(2, 3, 40, 40)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("CLIP vision tower expects float32 images [B, 3, S, S] with S a multiple of the patch "
                            + "size 16 (the checkpoint's is 32), got Float [2, 3, 40, 40]");
            assertThatThrownBy(() -> model.forward(Tensors.zeros(2, 1, 32, 32))).hasMessageEndingWith("got Float [2, 1, 32, 32]");
            assertThatThrownBy(() -> model.forward(Tensors.zeros(2, 3, 32, 48))).hasMessageEndingWith("got Float [2, 3, 32, 48]");
            assertThatThrownBy(() -> model.forward(Tensors.zeros(2, 3, 32, 32).to(ScalarType.Half)))
                    .hasMessageEndingWith("got Half [2, 3, 32, 32]");
            // another multiple of the patch runs, with resampled position embeddings
            assertThat(Tensors.shape(model.forward(Tensors.zeros(2, 3, 64, 64)))).containsExactly(2, 17, 8);
        } finally {
            model.close();
        }
    }

    @Test void refusesToBeBuiltInsideAPointerScope() {
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> ClipVisionTransformer.create(new ClipVisionConfig(32, 16, 64, 1, 1, 8)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("outside any PointerScope");
        }
    }

    private static void assertMatchesReference(String fixture, String storage, double atol) {
        ClipVisionTransformer model = ClipVisionTransformer.load(TestPaths.fixture(fixture + "." + storage + ".safetensors"));
        try (SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture(fixture + ".io.safetensors"));
             PointerScope scope = new PointerScope()) {
            Tensor images = io.tensor("images", ScalarType.Float);
            Tensor features = model.forward(images);
            TensorAssert.assertClose(features, io.tensor("features_" + storage, ScalarType.Float), atol);
            TensorAssert.assertClose(model.lastBlockTokens(images), io.tensor("last_block_" + storage, ScalarType.Float), atol);
            if (storage.equals("fp32")) {
                TensorAssert.assertClose(features.select(1, 0), io.tensor("cls_openai_fp32", ScalarType.Float), atol);
            } else {
                // the fp16 weights really were read as such: the fp32 reference is out of tolerance
                assertThat(TensorAssert.maxAbsDiff(features, io.tensor("features_fp32", ScalarType.Float))).isGreaterThan(10 * atol);
            }
        } finally {
            model.close();
        }
    }

    /** A copy of a fixture without {@code name} (replacement null) or with {@code name} replaced by zeros of a shape. */
    private Path copyOf(String fixture, String target, String name, long[] replacement) {
        Path out = dir.resolve(target);
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture(fixture)); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String n : f.names()) tensors.put(n, f.tensor(n));
            tensors.remove(name);
            if (replacement != null) tensors.put(name, Tensors.zeros(replacement));
            SafeTensorsWriter.write(out, tensors, f.metadata());
        }
        return out;
    }
}
