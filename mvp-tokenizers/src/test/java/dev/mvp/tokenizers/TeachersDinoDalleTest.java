package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.models.dalle.DalleEncoder;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.Weights;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import dev.mvp.tokenizers.Teachers.Detected;
import dev.mvp.tokenizers.Teachers.Kind;
import dev.mvp.tokenizers.Teachers.Layout;
import dev.mvp.tokenizers.Teachers.Spec;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Teachers} for the dino and dalle kinds, on the fixtures of tools/fixtures/make_teacher_fixtures.py. */
class TeachersDinoDalleTest {
    private static final Path DINO_TRAIN = TestPaths.fixture("dino/dino_train_w32.pth");
    private static final Path DINO_IO = TestPaths.fixture("dino/dino.io.safetensors");
    private static final Path DALLE_PKL = TestPaths.fixture("dalle/encoder_w16.pkl");
    private static final Path DALLE_IO = TestPaths.fixture("dalle/dalle.io.safetensors");

    @Test void opensDinoInItsLayoutsAndByKeyPath() {
        assertDino(Spec.of(Kind.DINO, DINO_TRAIN), "teacher224");
        assertDino(Spec.of(Kind.DINO, DINO_TRAIN).withLayout(Layout.TIMM), "teacher224");
        assertDino(Spec.of(Kind.DINO, DINO_TRAIN).withLayout(Layout.DINO).withKeyPath("student"), "student224");
        try (Tokenizer small = Teachers.open(Spec.of(Kind.DINO, DINO_TRAIN).withImageSize(160))) {
            assertThat(small.inputSpec().size()).isEqualTo(160);
            assertThat(small.gridSize()).isEqualTo(10);
        }
    }

    @Test void opensTheDalleEncoderPickleAndGivesItsIds() {
        try (Tokenizer dalle = Teachers.open(Spec.of(Kind.DALLE, DALLE_PKL));
             SafeTensorsFile io = SafeTensorsFile.open(DALLE_IO); PointerScope scope = new PointerScope()) {
            assertThat(dalle).isInstanceOf(DalleTokenizer.class);
            assertThat(dalle.targetSpec()).isEqualTo(new TargetSpec.TokenIds(512));
            Tensor views = ImageNormalization.DALLE.apply(io.tensor("images112").to(ScalarType.Float).div(Tensors.scalar(255)));
            assertThat(Tensors.toLongs(dalle.targets(views))).containsExactly(Tensors.toLongs(io.tensor("ids")));
        }
        try (Tokenizer dalle = Teachers.open(Spec.of(Kind.DALLE, DALLE_PKL).withImageSize(64))) {
            assertThat(dalle.gridSize()).isEqualTo(8);
        }
    }

    @Test void choicesTheseKindsDoNotHaveAreUsageErrors() {
        assertThatThrownBy(() -> Teachers.open(Spec.of(Kind.DINO, DINO_TRAIN).withLayout(Layout.HF)))
                .isInstanceOf(InvalidChoiceException.class).hasMessageStartingWith("layout hf is not a DINO layout");
        assertThatThrownBy(() -> Teachers.open(Spec.of(Kind.DINO, DINO_TRAIN).withTarget(TargetChoice.LAST_BLOCK)))
                .isInstanceOf(InvalidChoiceException.class).hasMessageContaining("final-normed tokens only");
        assertThatThrownBy(() -> Teachers.open(Spec.of(Kind.DALLE, DALLE_PKL).withLayout(Layout.OPENAI)))
                .isInstanceOf(InvalidChoiceException.class).hasMessageStartingWith("layout openai is not a d-VAE layout");
        assertThatThrownBy(() -> Teachers.open(Spec.of(Kind.DALLE, DALLE_PKL).withTarget(TargetChoice.LAST_BLOCK)))
                .isInstanceOf(InvalidChoiceException.class).hasMessageContaining("token ids only");
    }

    @Test void detectsDinoAndDalleFiles() {
        try (Weights teacher = Weights.open(DINO_TRAIN);
             Weights released = Weights.open(TestPaths.fixture("dino/dino_w64.fp16.safetensors"));
             Weights pkl = Weights.open(DALLE_PKL, "", DalleEncoder.PICKLED_ENCODER)) {
            Detected d = Teachers.detect(teacher).orElseThrow();
            assertThat(d.kind()).isEqualTo(Kind.DINO);
            assertThat(d.layout()).isEqualTo(Layout.DINO);
            assertThat(d.description()).isEqualTo("DINO / timm ViT layout ('backbone.*'): width 32, depth 1, heads 1 "
                    + "(width / 64), patch 16, image 224");
            assertThat(Teachers.detect(released).orElseThrow().description()).startsWith("DINO / timm ViT layout (no prefix): width 64, depth 2");
            Detected e = Teachers.detect(pkl).orElseThrow();
            assertThat(e.kind()).isEqualTo(Kind.DALLE);
            assertThat(e.description()).isEqualTo("DALL-E d-VAE encoder: n_hid 16, blocks/group 2, vocab 512");
        }
    }

    private static void assertDino(Spec spec, String reference) {
        try (Tokenizer teacher = Teachers.open(spec); SafeTensorsFile io = SafeTensorsFile.open(DINO_IO);
             PointerScope scope = new PointerScope()) {
            assertThat(teacher).isInstanceOf(DinoTokenizer.class);
            assertThat(teacher.targetSpec()).isEqualTo(new TargetSpec.Features(32, true));
            Tensor images = ImageNormalization.IMAGENET.apply(io.tensor("images224").to(ScalarType.Float).div(Tensors.scalar(255)));
            TensorAssert.assertClose(teacher.targets(images), io.tensor(reference), 1e-4);
        }
    }
}
