package dev.mvp.tokenizers;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.PositionResampling;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.TorchCheckpoint;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * DINO backbones in the released, timm and training-checkpoint layouts against DINO's own code, re-implemented in
 * tools/fixtures/make_teacher_fixtures.py (torch 1.13), on real ImageNet images.
 */
class DinoTokenizerTest {
    private static final DinoTokenizer.Options TWO_HEADS = DinoTokenizer.Options.DEFAULT.withHeads(2);
    private static SafeTensorsFile io;

    @BeforeAll static void open() {
        io = SafeTensorsFile.open(TestPaths.fixture("dino/dino.io.safetensors"));
    }

    @AfterAll static void close() {
        io.close();
    }

    /** DINO's eval preprocessing of the stored uint8 views: x / 255, then ImageNet's mean and std. */
    private static Tensor images(String name) {
        return ImageNormalization.IMAGENET.apply(io.tensor(name).to(ScalarType.Float).div(Tensors.scalar(255)));
    }

    @Test void theReleasedLayoutGivesDinosFinalNormedTokens() {
        Path file = TestPaths.fixture("dino/dino_w64.pth");
        try (DinoTokenizer dino = DinoTokenizer.load(file, TWO_HEADS); PointerScope scope = new PointerScope()) {
            assertThat(dino.inputSpec()).isEqualTo(new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.IMAGENET));
            assertThat(dino.targetSpec()).isEqualTo(new TargetSpec.Features(64, true));
            assertThat(dino.gridSize()).isEqualTo(14);
            assertThat(dino.name()).isEqualTo("dino-vit(width 64, depth 2, heads 2, patch 16, image 224) from " + file);
            assertThat(dino.model().config().layerNormEps()).isEqualTo(1e-6);

            Tensor targets = dino.targets(images("images224"));
            assertThat(targets.requires_grad()).isFalse();
            assertThat(targets.is_inference()).isFalse();
            TensorAssert.assertClose(targets, io.tensor("tokens224"), 1e-4);
        }
    }

    @Test void timmsLayoutStoredInFp16() {
        try (DinoTokenizer dino = DinoTokenizer.load(TestPaths.fixture("dino/dino_w64.fp16.safetensors"), TWO_HEADS);
             PointerScope scope = new PointerScope()) {
            Tensor targets = dino.targets(images("images224"));
            // the exact function of the fp16-rounded weights, and within fp16 storage's effect of the fp32 model
            TensorAssert.assertClose(targets, io.tensor("tokens224_fp16"), 1e-4);
            TensorAssert.assertClose(targets, io.tensor("tokens224"), 2e-3);
        }
    }

    @Test void anotherInputSizeInterpolatesThePositionEmbeddingAsDinoDoes() {
        Path file = TestPaths.fixture("dino/dino_w64.pth");
        try (DinoTokenizer dino = DinoTokenizer.load(file, TWO_HEADS.withImageSize(160));
             PointerScope scope = new PointerScope()) {
            assertThat(dino.inputSpec().size()).isEqualTo(160);
            assertThat(dino.gridSize()).isEqualTo(10);
            Tensor pos = StateDict.of(dino.model()).get("pos_embed");
            TensorAssert.assertClose(pos, io.tensor("pos_embed160"), 1e-6);
            TensorAssert.assertClose(dino.targets(images("images160")), io.tensor("tokens160"), 1e-4);

            // DINO's + 0.1 moves the sampling grid: plain bicubic to the new size (BEiT's, DeiT's) is another function
            try (TorchCheckpoint ckpt = TorchCheckpoint.open(file)) {
                Tensor plain = PositionResampling.absolute(ckpt.tensor("pos_embed"), 10, PositionResampling.Style.BEIT);
                assertThat(TensorAssert.maxAbsDiff(plain, io.tensor("pos_embed160"))).isGreaterThan(1e-3);
            }
        }
    }

    @Test void aTrainingCheckpointGivesItsTeacherOrByKeyPathItsStudent() {
        Path file = TestPaths.fixture("dino/dino_train_w32.pth");
        try (DinoTokenizer teacher = DinoTokenizer.load(file);
             DinoTokenizer student = DinoTokenizer.load(file, DinoTokenizer.Options.DEFAULT.withKeyPath("student"));
             PointerScope scope = new PointerScope()) {
            assertThat(teacher.name()).isEqualTo("dino-vit(width 32, depth 1, heads 1, patch 16, image 224) from "
                    + file + " (backbone.*)");
            assertThat(student.name()).endsWith(file + " (module.backbone.*)");
            Tensor x = images("images224");
            TensorAssert.assertClose(teacher.targets(x), io.tensor("teacher224"), 1e-4);
            TensorAssert.assertClose(student.targets(x), io.tensor("student224"), 1e-4);
        }
    }

    @Test void targetsCanBeUsedInALossThatIsDifferentiated() {
        try (DinoTokenizer dino = DinoTokenizer.load(TestPaths.fixture("dino/dino_train_w32.pth"));
             PointerScope scope = new PointerScope()) {
            Tensor targets = dino.targets(images("images224"));
            Tensor predictions = Tensors.randn(2, 197, 32).requires_grad_(true);
            torch.cosine_similarity(predictions, targets, 2, 1e-8).sum().backward();
            assertThat(Tensors.shape(predictions.grad())).containsExactly(2, 197, 32);
        }
    }

    @Test void badFilesAndOptionsAreNamed() {
        Path dalle = TestPaths.fixture("dalle/encoder_w16.pt");
        assertThatThrownBy(() -> DinoTokenizer.load(dalle)).isInstanceOf(WeightFormatException.class)
                .hasMessage(dalle + ": no tensor 'cls_token': not a DINO / timm Vision Transformer");
        Path train = TestPaths.fixture("dino/dino_train_w32.pth");
        assertThatThrownBy(() -> DinoTokenizer.load(train, DinoTokenizer.Options.DEFAULT.withKeyPath("args")))
                .isInstanceOf(WeightFormatException.class).hasMessageContaining("'args' is an object of argparse.Namespace");
        Path file = TestPaths.fixture("dino/dino_w64.pth");
        assertThatThrownBy(() -> DinoTokenizer.load(file, TWO_HEADS.withImageSize(100)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("image size 100 is not a multiple of patch size 16");
        assertThatThrownBy(() -> DinoTokenizer.load(file, TWO_HEADS.withHeads(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("width 64 is not divisible by 3 heads");
    }

    @Test void aClosedTokenizerSaysSo() {
        DinoTokenizer dino = DinoTokenizer.load(TestPaths.fixture("dino/dino_train_w32.pth"));
        dino.close();
        dino.close();
        try (PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> dino.targets(Tensors.zeros(1, 3, 224, 224)))
                    .isInstanceOf(IllegalStateException.class).hasMessageEndingWith("is closed");
        }
    }
}
