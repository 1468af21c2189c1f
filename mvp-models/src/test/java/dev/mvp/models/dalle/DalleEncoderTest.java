package dev.mvp.models.dalle;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.TorchCheckpoint;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * DALL-E's d-VAE encoder against openai/DALL-E's code, re-implemented in tools/fixtures/make_teacher_fixtures.py
 * (torch 1.13), on real ImageNet images: n_hid 16, 2 blocks per group, vocabulary 512.
 */
class DalleEncoderTest {
    private static SafeTensorsFile io;

    @BeforeAll static void open() {
        io = SafeTensorsFile.open(TestPaths.fixture("dalle/dalle.io.safetensors"));
    }

    @AfterAll static void close() {
        io.close();
    }

    /** BEiT's view: x / 255, then map_pixels. */
    static Tensor views() {
        return ImageNormalization.DALLE.apply(io.tensor("images112").to(ScalarType.Float).div(Tensors.scalar(255)));
    }

    /**
     * The state dict (torch.save zip, what docs/TEACHERS.md's conversion writes) and a whole pickled Encoder, like
     * DALL-E's encoder.pkl, read by the restricted reader: the same logits and ids as the reference.
     */
    @ParameterizedTest @ValueSource(strings = {"encoder_w16.pt", "encoder_w16.pkl"})
    void logitsAndIdsMatchTheReference(String file) {
        try (DalleEncoder encoder = DalleEncoder.load(TestPaths.fixture("dalle/" + file));
             PointerScope scope = new PointerScope()) {
            assertThat(encoder.config()).isEqualTo(new DalleEncoderConfig(16, 2, 3, 512));
            assertThat(encoder.config().postGain()).isEqualTo(1.0 / 64);
            Tensor logits = encoder.logits(views());
            assertThat(Tensors.shape(logits)).containsExactly(2, 512, 14, 14);
            TensorAssert.assertClose(logits.narrow(1, 0, 64), io.tensor("logits_head"), 1e-4);
            T_TensorTensor_T top = logits.flatten(2, 3).transpose(1, 2).topk(2);
            TensorAssert.assertClose(top.get0(), io.tensor("top2"), 1e-4);
            Tensor ids = encoder.tokenIds(views());
            assertThat(ids.scalar_type().intern()).isEqualTo(ScalarType.Long);
            assertThat(Tensors.toLongs(ids)).containsExactly(Tensors.toLongs(io.tensor("ids")));
        }
    }

    @Test void fp16StorageIsConvertedToFloat32() {
        try (DalleEncoder encoder = DalleEncoder.load(TestPaths.fixture("dalle/encoder_w16.fp16.safetensors"));
             PointerScope scope = new PointerScope()) {
            Tensor logits = encoder.logits(views());
            assertThat(logits.scalar_type().intern()).isEqualTo(ScalarType.Float);
            T_TensorTensor_T top = logits.flatten(2, 3).transpose(1, 2).topk(2);
            TensorAssert.assertClose(top.get0(), io.tensor("top2_fp16"), 1e-4);
            // fp16 storage moves the fp32 model's logits (up to 18.5 here) by at most 2e-3 of their scale
            double scale = Tensors.toFloats(io.tensor("top2").abs().max())[0];
            TensorAssert.assertClose(top.get0(), io.tensor("top2"), 2e-3 * scale);
            assertThat(Tensors.toLongs(encoder.tokenIds(views()))).containsExactly(Tensors.toLongs(io.tensor("ids_fp16")));
        }
    }

    @Test void thePickledEncoderNamesItsParametersAsTheStateDictDoes() {
        try (Weights pkl = Weights.open(TestPaths.fixture("dalle/encoder_w16.pkl"), "", DalleEncoder.PICKLED_ENCODER);
             Weights sd = Weights.open(TestPaths.fixture("dalle/encoder_w16.pt"));
             DalleEncoder encoder = DalleEncoder.create(new DalleEncoderConfig(16, 2, 3, 512));
             PointerScope scope = new PointerScope()) {
            assertThat(pkl.names()).containsExactlyElementsOf(sd.names());
            assertThat(StateDict.of(encoder).keySet()).containsExactlyElementsOf(sd.names());
            assertThat(sd.names()).contains("blocks.input.w", "blocks.group_1.block_1.res_path.conv_1.w",
                    "blocks.group_2.block_1.id_path.w", "blocks.group_4.block_2.res_path.conv_4.b", "blocks.output.conv.w")
                    .doesNotContain("blocks.group_1.block_1.id_path.w", "blocks.group_2.block_2.id_path.w");
            for (String name : sd.names()) {
                assertThat(Tensors.toFloats(pkl.tensor(name))).as(name).containsExactly(Tensors.toFloats(sd.tensor(name)));
            }
        }
    }

    /** Virtual module calls reach every child's Java peer: the encoder keeps all of them reachable. */
    @Test void virtualModuleCallsSurviveGarbageCollection() {
        try (DalleEncoder encoder = DalleEncoder.create(new DalleEncoderConfig(4, 1, 3, 8))) {
            for (int i = 0; i < 3; i++) System.gc();
            encoder.eval();
            assertThat(encoder.is_training()).isFalse();
            encoder.train(true);
            assertThat(encoder.is_training()).isTrue();
        }
    }

    @Test void withoutItsClassesTheWholeModulePickleIsRefused() {
        Path file = TestPaths.fixture("dalle/encoder_w16.pkl");
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).isInstanceOf(WeightFormatException.class)
                .hasMessageContaining("forbidden global 'dall_e.encoder.Encoder'");
    }

    @Test void otherFilesAreNamed() {
        Path dino = TestPaths.fixture("dino/dino_w64.pth");
        assertThatThrownBy(() -> DalleEncoder.load(dino)).isInstanceOf(WeightFormatException.class)
                .hasMessage(dino + ": no tensor 'blocks.input.w': not a DALL-E d-VAE encoder (dall_e.encoder.Encoder's naming)");
        try (DalleEncoder encoder = DalleEncoder.load(TestPaths.fixture("dalle/encoder_w16.pt"));
             PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> encoder.logits(Tensors.zeros(1, 3, 100, 100)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiples of 8, got Float [1, 3, 100, 100]");
        }
    }
}
