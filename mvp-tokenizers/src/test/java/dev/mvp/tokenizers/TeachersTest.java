package dev.mvp.tokenizers;

import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.Weights;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import dev.mvp.tokenizers.Teachers.Detected;
import dev.mvp.tokenizers.Teachers.Kind;
import dev.mvp.tokenizers.Teachers.Layout;
import dev.mvp.tokenizers.Teachers.Spec;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The factory behind {@code mvp targets --tokenizer ... --weights ... --layout ... --target ...}. */
class TeachersTest {
    private static final Path OPENAI_JIT = TestPaths.fixture("clip/clip_w64_p16.jit.pt");
    private static final Path HF_CLIP = TestPaths.fixture("clip/hf_clip_w64_p16/pytorch_model.bin");
    private static final Path OPEN_CLIP = TestPaths.fixture("clip/open_clip_w64_p16/epoch_3.pt");
    private static final Path IO = TestPaths.fixture("clip/clip_w64_p16.io.safetensors");

    /** Each layout, detected or named, gives OpenAI's reference features (fp16 ones for the halved TorchScript file). */
    @Test void opensClipInEveryLayoutDetectedOrNamed() {
        assertTargets(Spec.of(Kind.CLIP, OPENAI_JIT), "features_fp16");
        assertTargets(Spec.of(Kind.CLIP, OPENAI_JIT).withLayout(Layout.OPENAI), "features_fp16");
        assertTargets(Spec.of(Kind.CLIP, HF_CLIP), "features_fp32");
        assertTargets(Spec.of(Kind.CLIP, HF_CLIP).withLayout(Layout.HF), "features_fp32");
        assertTargets(Spec.of(Kind.CLIP, OPEN_CLIP).withLayout(Layout.OPEN_CLIP), "features_fp32");
        assertTargets(Spec.of(Kind.CLIP, OPEN_CLIP).withKeyPath("state_dict"), "features_fp32");
        assertTargets(Spec.of(Kind.CLIP, HF_CLIP).withTarget(TargetChoice.LAST_BLOCK), "last_block_fp32");
    }

    @Test void choicesThatCannotBeMadeAreUsageErrorsNamingThem() {
        assertThatThrownBy(() -> Teachers.open(Spec.of(Kind.CLIP, HF_CLIP).withLayout(Layout.TIMM)))
                .isInstanceOf(InvalidChoiceException.class)
                .hasMessage("layout timm is not a CLIP layout (auto, openai, hf or open_clip)");
        assertThatThrownBy(() -> Kind.parse("beit")).isInstanceOf(InvalidChoiceException.class)
                .hasMessage("unknown tokenizer 'beit' (expected clip, dino or dalle)");
        assertThatThrownBy(() -> Layout.parse("torch")).isInstanceOf(InvalidChoiceException.class)
                .hasMessageStartingWith("unknown layout 'torch'");
        assertThat(Layout.parse("Open-CLIP")).isEqualTo(Layout.OPEN_CLIP);
        assertThat(Kind.parse("DALL-E")).isEqualTo(Kind.DALLE);
        assertThat(TargetChoice.parse("last-block")).isEqualTo(TargetChoice.LAST_BLOCK);
    }

    @Test void detectsTheTeacherAFileHolds() {
        assertThat(detect(OPENAI_JIT).orElseThrow()).satisfies(d -> {
            assertThat(d.kind()).isEqualTo(Kind.CLIP);
            assertThat(d.layout()).isEqualTo(Layout.OPENAI);
            assertThat(d.description()).isEqualTo("OpenAI CLIP layout ('visual.*'): width 64, layers 2, heads 1, "
                    + "patch 16, image 64, output 32, quick_gelu; QuickGELU (OpenAI's architecture)");
        });
        assertThat(detect(HF_CLIP).orElseThrow().layout()).isEqualTo(Layout.HF);
        assertThat(detect(OPEN_CLIP).orElseThrow().layout()).isEqualTo(Layout.OPEN_CLIP);
        assertThat(detect(IO)).isEmpty();
    }

    private static Optional<Detected> detect(Path file) {
        try (Weights w = Weights.open(file)) {
            return Teachers.detect(w);
        }
    }

    private static void assertTargets(Spec spec, String reference) {
        try (Tokenizer teacher = Teachers.open(spec); SafeTensorsFile io = SafeTensorsFile.open(IO);
             PointerScope scope = new PointerScope()) {
            assertThat(teacher).isInstanceOf(ClipTokenizer.class);
            assertThat(teacher.targetSpec()).isEqualTo(new TargetSpec.Features(reference.startsWith("last") ? 64 : 32, true));
            TensorAssert.assertClose(teacher.targets(io.tensor("images", ScalarType.Float)),
                    io.tensor(reference, ScalarType.Float), 1e-4);
        }
    }
}
