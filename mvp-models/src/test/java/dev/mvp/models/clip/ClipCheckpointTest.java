package dev.mvp.models.clip;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.models.clip.ClipVisionConfig.Activation;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The same CLIP vision tower (clip_w64_p16: width 64, 2 blocks, 1 head, patch 16, image 64, output 32) in every layout
 * a user may bring, against the references of tools/fixtures/make_clip_fixtures.py (OpenAI's clip/model.py) and
 * tools/fixtures/make_clip_layout_fixtures.py (Hugging Face's modeling_clip.py arithmetic, interpolate_pos_encoding).
 */
class ClipCheckpointTest {
    private static final Path OPENAI_FP32 = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors");
    private static final Path OPENAI_JIT = TestPaths.fixture("clip/clip_w64_p16.jit.pt");
    private static final Path HF_CLIP = TestPaths.fixture("clip/hf_clip_w64_p16/pytorch_model.bin");
    private static final Path HF_VISION = TestPaths.fixture("clip/hf_vision_w64_p16/model.safetensors");
    private static final Path OPEN_CLIP = TestPaths.fixture("clip/open_clip_w64_p16/epoch_3.pt");
    private static final Path IO = TestPaths.fixture("clip/clip_w64_p16.io.safetensors");
    private static final Path LAYOUTS = TestPaths.fixture("clip/clip_w64_p16.layouts.io.safetensors");
    /** The model's computation is float32 for every storage (the references too), so one tolerance fits all. */
    private static final double ATOL = 1e-4;

    @TempDir Path dir;

    @Test void detectsEachLayoutAndReadsItsConfiguration() {
        ClipVisionConfig base = new ClipVisionConfig(64, 16, 64, 2, 1, 32);
        try (ClipCheckpoint c = ClipCheckpoint.open(OPENAI_FP32)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.OPENAI);
            assertThat(c.sourcePrefix()).isEqualTo("visual.");
            assertThat(c.config()).isEqualTo(base);
        }
        try (ClipCheckpoint c = ClipCheckpoint.open(OPENAI_JIT)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.OPENAI);
            assertThat(c.weights().format()).isEqualTo("TorchScript archive");
            assertThat(c.config()).isEqualTo(base);
        }
        try (ClipCheckpoint c = ClipCheckpoint.open(HF_CLIP)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.HF);
            assertThat(c.sourcePrefix()).isEqualTo("vision_model.");
            assertThat(c.config()).isEqualTo(base);
            assertThat(c.notes()).contains("quick_gelu from config.json hidden_act");
            assertThat(c.weights().format()).isEqualTo("torch.save zip, Hugging Face CLIP layout");
        }
        try (ClipCheckpoint c = ClipCheckpoint.open(HF_VISION)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.HF);
            assertThat(c.config()).isEqualTo(new ClipVisionConfig(64, 16, 64, 2, 1, 0, Activation.GELU, 1e-5));
            assertThat(c.config().featureDim()).isEqualTo(64);
            assertThat(c.describe()).startsWith("Hugging Face CLIP layout ('vision_model.*'): width 64, layers 2, heads 1, "
                    + "patch 16, image 64, no projection, gelu; gelu from config.json hidden_act");
        }
        try (ClipCheckpoint c = ClipCheckpoint.open(OPEN_CLIP)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.OPEN_CLIP);
            assertThat(c.sourcePrefix()).isEqualTo("module.visual.");
            assertThat(c.config()).isEqualTo(base);
            assertThat(c.notes()).containsExactly("QuickGELU from open_clip_config.json (model_cfg.quick_gelu true)");
            assertThat(c.normalization()).isEqualTo(ImageNormalization.CLIP);
        }
    }

    /** OpenAI's release format, halved weights as convert_weights leaves them; reference in float32 from those. */
    @Test void openAisTorchScriptReleaseGivesTheReferenceFeatures() {
        assertFeatures(OPENAI_JIT, null, IO, "images", "features_fp16", "last_block_fp16");
    }

    @Test void huggingFaceClipModelGivesTheReferenceFeatures() {
        assertFeatures(HF_CLIP, null, LAYOUTS, null, "features_hf", null);
        assertFeatures(HF_CLIP, null, IO, "images", "features_fp32", "last_block_fp32");
    }

    /** CLIPVisionModel: no projection, so the targets are post_layernorm'd tokens (all of them); fp16, GELU. */
    @Test void huggingFaceVisionModelGivesPostLayerNormedTokens() {
        assertFeatures(HF_VISION, null, LAYOUTS, null, "tokens_gelu_fp16", "last_block_gelu_fp16");
    }

    @Test void openClipTrainingCheckpointGivesTheReferenceFeatures() {
        assertFeatures(OPEN_CLIP, null, IO, "images", "features_fp32", "last_block_fp32");
    }

    @Test void theSameWeightsInThreeLayoutsGiveIdenticalTargets() {
        ClipVisionTransformer openai = ClipVisionTransformer.load(OPENAI_FP32);
        ClipVisionTransformer hf = ClipVisionTransformer.load(HF_CLIP);
        ClipVisionTransformer openClip = ClipVisionTransformer.load(OPEN_CLIP);
        try (SafeTensorsFile io = SafeTensorsFile.open(IO); SafeTensorsFile layouts = SafeTensorsFile.open(LAYOUTS);
             PointerScope scope = new PointerScope()) {
            Map<String, Tensor> a = StateDict.of(openai), b = StateDict.of(hf), c = StateDict.of(openClip);
            assertThat(b.keySet()).isEqualTo(a.keySet());
            for (String name : a.keySet()) {
                assertThat(a.get(name).equal(b.get(name))).as("hf " + name).isTrue();
                assertThat(a.get(name).equal(c.get(name))).as("open_clip " + name).isTrue();
            }
            for (String images : new String[] {"images", "images160"}) {
                Tensor x = (images.equals("images") ? io : layouts).tensor(images, ScalarType.Float);
                Tensor expected = openai.forward(x);
                assertThat(hf.forward(x).equal(expected)).as(images).isTrue();
                assertThat(openClip.forward(x).equal(expected)).as(images).isTrue();
            }
        } finally {
            openai.close();
            hf.close();
            openClip.close();
        }
    }

    /** 160 pixels with a 64-pixel checkpoint: the 4x4 position grid resampled to 10x10 as HF's interpolate_pos_encoding. */
    @Test void anotherInputSizeInterpolatesThePositionEmbeddingsAsHuggingFaceDoes() {
        for (Path weights : new Path[] {HF_CLIP, OPENAI_FP32, OPEN_CLIP}) {
            assertFeatures(weights, null, LAYOUTS, "images160", "features160", "last_block160");
        }
        ClipVisionTransformer model = ClipVisionTransformer.load(OPENAI_FP32);
        try (SafeTensorsFile layouts = SafeTensorsFile.open(LAYOUTS); PointerScope scope = new PointerScope()) {
            Tensor x = layouts.tensor("images160", ScalarType.Float);
            assertThat(Tensors.shape(model.forward(x))).containsExactly(1, 101, 32);
            // without resampling (the 4x4 grid's embeddings repeated), the features would be far off
            assertThat(TensorAssert.maxAbsDiff(model.forward(x), layouts.tensor("features160", ScalarType.Float)))
                    .isLessThan(ATOL);
        } finally {
            model.close();
        }
    }

    /** Hugging Face's config.json decides the activation; without one, HF's default (quick_gelu) applies. */
    @Test void hiddenActComesFromTheConfigNextToTheWeights() throws Exception {
        Path gelu = Files.createDirectories(dir.resolve("gelu"));
        Files.copy(HF_CLIP, gelu.resolve("pytorch_model.bin"));
        Files.writeString(gelu.resolve("config.json"), Files.readString(HF_CLIP.resolveSibling("config.json"))
                .replace("\"hidden_act\": \"quick_gelu\"", "\"hidden_act\": \"gelu\""));
        assertFeatures(gelu.resolve("pytorch_model.bin"), null, LAYOUTS, null, "features_gelu", null);

        Path bare = Files.createDirectories(dir.resolve("bare"));
        Files.copy(HF_CLIP, bare.resolve("pytorch_model.bin"));
        try (ClipCheckpoint c = ClipCheckpoint.open(bare.resolve("pytorch_model.bin"))) {
            assertThat(c.config().activation()).isEqualTo(Activation.QUICK_GELU);
            assertThat(c.notes()).contains("quick_gelu, Hugging Face's default: no CLIP config.json next to the weights");
        }
        assertFeatures(bare.resolve("pytorch_model.bin"), null, LAYOUTS, null, "features_hf", null);
    }

    /**
     * Older CLIPModel configs carry a vision_config_dict: transformers completes it with CLIPVisionConfig's defaults
     * and lets it override vision_config (so a hidden_act it omits is quick_gelu, whatever vision_config says); the
     * projection dimension is the top-level one.
     */
    @Test void configJsonIsReadAsTransformersReadsIt() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("old"));
        Path weights = Files.copy(HF_CLIP, folder.resolve("pytorch_model.bin"));
        String sizes = "\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 1, \"image_size\": 64, "
                + "\"patch_size\": 16";
        Path json = folder.resolve("config.json");
        Files.writeString(json, "{\"model_type\": \"clip\", \"projection_dim\": 32, \"vision_config\": {" + sizes
                + ", \"hidden_act\": \"quick_gelu\"}, \"vision_config_dict\": {" + sizes + ", \"hidden_act\": \"gelu\"}}");
        assertFeatures(weights, null, LAYOUTS, null, "features_gelu", null);
        Files.writeString(json, "{\"model_type\": \"clip\", \"projection_dim\": 32, \"vision_config\": {" + sizes
                + ", \"hidden_act\": \"gelu\"}, \"vision_config_dict\": {" + sizes + "}}");
        try (ClipCheckpoint c = ClipCheckpoint.open(weights)) {
            assertThat(c.config().activation()).isEqualTo(Activation.QUICK_GELU);
            assertThat(c.notes()).contains("quick_gelu from config.json hidden_act (absent: Hugging Face's default)");
        }
        Files.writeString(json, "{\"model_type\": \"clip\", \"vision_config\": {" + sizes + ", \"projection_dim\": 32}}");
        assertThatThrownBy(() -> ClipCheckpoint.open(weights)).isInstanceOf(WeightFormatException.class)
                .hasMessage(json + ": projection_dim is 512 but the weights' shapes say 32");
    }

    /** Without open_clip_config.json, open_clip's default GELU; the openai layout reads the same file with QuickGELU. */
    @Test void openClipWithoutItsConfigUsesGeluUnlessReadAsOpenAi() throws Exception {
        Path file = Files.copy(OPEN_CLIP, dir.resolve("epoch_3.pt"));
        try (ClipCheckpoint c = ClipCheckpoint.open(file)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.OPEN_CLIP);
            assertThat(c.config().activation()).isEqualTo(Activation.GELU);
            assertThat(c.notes().get(0)).startsWith("GELU, open_clip's default: no open_clip_config.json");
        }
        try (ClipCheckpoint c = ClipCheckpoint.open(file, ClipLayout.OPENAI)) {
            assertThat(c.layout()).isEqualTo(ClipLayout.OPENAI);
            assertThat(c.config().activation()).isEqualTo(Activation.QUICK_GELU);
        }
        assertFeatures(file, ClipLayout.OPENAI, IO, "images", "features_fp32", null);
    }

    @Test void aMissingTensorIsNamedInTheFilesOwnLayout() {
        Path hf = copy(HF_VISION, dir.resolve("hf.safetensors"),
                n -> !n.equals("vision_model.encoder.layers.1.self_attn.k_proj.bias"), Map.of());
        assertThatThrownBy(() -> ClipVisionTransformer.load(hf)).isInstanceOf(WeightFormatException.class)
                .hasMessage(hf + ": tensor 'vision_model.encoder.layers.1.self_attn.k_proj.bias': missing (the file has "
                        + "38 tensors)");

        Path openClip = copy(OPEN_CLIP, dir.resolve("open_clip.safetensors"), n -> !n.equals("module.visual.ln_post.bias"),
                Map.of());
        assertThatThrownBy(() -> ClipVisionTransformer.load(openClip)).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(openClip + ": tensor 'module.visual.ln_post.bias': missing");

        Path jitLike = copy(OPENAI_JIT, dir.resolve("openai.safetensors"), n -> !n.equals("visual.proj"), Map.of());
        assertThatThrownBy(() -> ClipVisionTransformer.load(jitLike)).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(jitLike + ": tensor 'visual.proj': missing");
    }

    @Test void aWrongShapeOrAnUnexpectedTensorIsNamedInTheFilesOwnLayout() {
        Path shape = copy(HF_VISION, dir.resolve("shape.safetensors"), n -> true,
                Map.of("vision_model.encoder.layers.0.mlp.fc1.weight", new long[] {128, 64}));
        assertThatThrownBy(() -> ClipVisionTransformer.load(shape)).isInstanceOf(WeightFormatException.class)
                .hasMessage(shape + ": tensor 'vision_model.encoder.layers.0.mlp.fc1.weight': shape [128, 64] does not fit "
                        + "CLIP's vision tower (expected [256, 64])");
        Path extra = copy(HF_VISION, dir.resolve("extra.safetensors"), n -> true,
                Map.of("vision_model.encoder.layers.1.self_attn.rotary.weight", new long[] {4}));
        assertThatThrownBy(() -> ClipVisionTransformer.load(extra)).isInstanceOf(WeightFormatException.class)
                .hasMessage(extra + ": tensor 'vision_model.encoder.layers.1.self_attn.rotary.weight': unexpected: not "
                        + "part of CLIP's vision tower");
        Path layerScale = copy(OPEN_CLIP, dir.resolve("ls.safetensors"), n -> true,
                Map.of("module.visual.transformer.resblocks.0.ls_1.gamma", new long[] {64}));
        assertThatThrownBy(() -> ClipVisionTransformer.load(layerScale)).isInstanceOf(WeightFormatException.class)
                .hasMessage(layerScale + ": tensor 'module.visual.transformer.resblocks.0.ls_1.gamma': unexpected: the "
                        + "model has no 'transformer.resblocks.0.ls_1.gamma'");
    }

    @Test void sideFilesThatContradictTheWeightsAreNamed() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("hf"));
        Path weights = Files.copy(HF_VISION, folder.resolve("model.safetensors"));
        String config = Files.readString(HF_VISION.resolveSibling("config.json"));
        Path json = folder.resolve("config.json");

        Files.writeString(json, config.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 12"));
        assertThatThrownBy(() -> ClipCheckpoint.open(weights)).isInstanceOf(WeightFormatException.class)
                .hasMessage(json + ": num_hidden_layers is 12 but the weights' shapes say 2");
        Files.writeString(json, config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"silu\""));
        assertThatThrownBy(() -> ClipCheckpoint.open(weights)).isInstanceOf(WeightFormatException.class)
                .hasMessage(json + ": hidden_act is \"silu\", expected quick_gelu or gelu");
        Files.writeString(json, "{\"hidden_act\": ");
        assertThatThrownBy(() -> ClipCheckpoint.open(weights)).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(json + ": malformed JSON");

        Files.writeString(json, config);
        Files.writeString(folder.resolve("preprocessor_config.json"),
                "{\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5], \"crop_size\": 64}");
        try (ClipCheckpoint c = ClipCheckpoint.open(weights)) {
            assertThat(c.normalization()).isEqualTo(new ImageNormalization.MeanStd(new float[] {.5f, .5f, .5f},
                    new float[] {.5f, .5f, .5f}));
        }
    }

    @Test void aLayoutThatDoesNotFitOrAResNetIsRefusedClearly() {
        assertThatThrownBy(() -> ClipCheckpoint.open(OPENAI_FP32, ClipLayout.HF)).isInstanceOf(WeightFormatException.class)
                .hasMessage(OPENAI_FP32 + ": tensor 'vision_model.embeddings.patch_embedding.weight': missing: not in the "
                        + "hf layout (its tensors look like the openai layout)");
        assertThatThrownBy(() -> ClipCheckpoint.open(HF_CLIP, ClipLayout.OPEN_CLIP)).isInstanceOf(WeightFormatException.class)
                .hasMessage(HF_CLIP + ": tensor 'visual.conv1.weight': missing (nor 'conv1.weight'): not in the open_clip "
                        + "layout (its tensors look like the hf layout)");
        Path resnet = dir.resolve("rn50.safetensors");
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(resnet, Map.of("visual.conv1.weight", Tensors.zeros(32, 3, 3, 3),
                    "visual.attnpool.positional_embedding", Tensors.zeros(50, 2048)));
        }
        assertThatThrownBy(() -> ClipCheckpoint.open(resnet)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("'visual.attnpool.positional_embedding': a ResNet CLIP");
        assertThatThrownBy(() -> ClipCheckpoint.open(IO)).isInstanceOf(WeightFormatException.class)
                .hasMessage(IO + ": not a CLIP vision tower: no 'visual.conv1.weight' or 'conv1.weight' (OpenAI, "
                        + "open_clip) nor 'vision_model.embeddings.patch_embedding.weight' (Hugging Face) among its 6 tensors");
    }

    /**
     * Loads {@code weights} and compares its targets (and last block, if named) on {@code images} of {@code io} (or
     * {@code images} of clip_w64_p16.io when null) with the references.
     */
    private static void assertFeatures(Path weights, ClipLayout layout, Path io, String images, String features,
                                       String lastBlock) {
        ClipVisionTransformer model = ClipVisionTransformer.load(weights, layout);
        try (SafeTensorsFile ref = SafeTensorsFile.open(io); SafeTensorsFile inputs = SafeTensorsFile.open(images == null ? IO : io);
             PointerScope scope = new PointerScope()) {
            Tensor x = inputs.tensor(images == null ? "images" : images, ScalarType.Float);
            TensorAssert.assertClose(model.forward(x), ref.tensor(features, ScalarType.Float), ATOL);
            if (lastBlock != null) {
                TensorAssert.assertClose(model.lastBlockTokens(x), ref.tensor(lastBlock, ScalarType.Float), ATOL);
            }
        } finally {
            model.close();
        }
    }

    /** The tensors of {@code source} that {@code keep} accepts, plus zero tensors of the given shapes, as safetensors. */
    private static Path copy(Path source, Path out, Predicate<String> keep, Map<String, long[]> zeros) {
        try (Weights w = Weights.open(source); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String n : w.names()) if (keep.test(n)) tensors.put(n, w.tensor(n).contiguous());
            zeros.forEach((n, shape) -> tensors.put(n, torch.zeros(shape)));
            SafeTensorsWriter.write(out, tensors);
        }
        return out;
    }
}
