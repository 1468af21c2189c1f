package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** BEiT's d-VAE tokenizer on the fixtures of tools/fixtures/make_teacher_fixtures.py (DalleEncoderTest has the logits). */
class DalleTokenizerTest {

    @Test void targetsAreBeitsCodebookIndicesOfThe112View() {
        Path file = TestPaths.fixture("dalle/encoder_w16.pkl");
        try (DalleTokenizer dalle = DalleTokenizer.load(file);
             SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("dalle/dalle.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            // BEiT's second view: 112 pixels, --second_interpolation lanczos, map_pixels
            assertThat(dalle.inputSpec()).isEqualTo(new ViewSpec(112, Interpolation.LANCZOS, ImageNormalization.DALLE));
            assertThat(dalle.targetSpec()).isEqualTo(new TargetSpec.TokenIds(512));
            assertThat(dalle.gridSize()).isEqualTo(14);
            assertThat(dalle.name()).isEqualTo("dalle-dvae(n_hid 16, blocks/group 2, vocab 512, view 112) from " + file);

            Tensor views = dalle.inputSpec().normalization().apply(io.tensor("images112").to(ScalarType.Float)
                    .div(Tensors.scalar(255)));
            Tensor ids = dalle.targets(views);
            assertThat(Tensors.shape(ids)).containsExactly(2, 196);
            assertThat(ids.is_inference()).isFalse();
            long[] expected = Tensors.toLongs(io.tensor("ids"));
            assertThat(Tensors.toLongs(ids)).containsExactly(expected);
            assertThat(java.util.Arrays.stream(expected).distinct().count()).isGreaterThanOrEqualTo(10);

            // the ids are what BEiT's cross-entropy reads: usable as a target outside inference mode
            Tensor logits = Tensors.randn(2 * 196, 512).requires_grad_(true);
            torch.cross_entropy(logits, ids.flatten(0, 1)).backward();
            assertThat(Tensors.shape(logits.grad())).containsExactly(392, 512);
        }
    }

    @Test void anotherViewSizeGivesAnotherGrid() {
        try (DalleTokenizer dalle = DalleTokenizer.load(TestPaths.fixture("dalle/encoder_w16.pt"), 64);
             PointerScope scope = new PointerScope()) {
            assertThat(dalle.gridSize()).isEqualTo(8);
            assertThat(Tensors.shape(dalle.targets(Tensors.zeros(1, 3, 64, 64)))).containsExactly(1, 64);
            assertThatThrownBy(() -> dalle.targets(Tensors.zeros(1, 3, 112, 112))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageEndingWith("expects [B, 3, 64, 64] views, got [1, 3, 112, 112]");
        }
        assertThatThrownBy(() -> DalleTokenizer.load(TestPaths.fixture("dalle/encoder_w16.pt"), 100))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("d-VAE view size must be a positive multiple of 8, got 100");
    }
}
