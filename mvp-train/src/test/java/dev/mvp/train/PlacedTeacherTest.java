package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Precision;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.ViewSpec;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import dev.mvp.tokenizers.ClipTokenizer;
import dev.mvp.tokenizers.DalleTokenizer;
import dev.mvp.tokenizers.DinoTokenizer;
import dev.mvp.tokenizers.HogTokenizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Teachers placed in reduced precision on the CPU: the weights converted once, the targets float32 (ids int64) and
 * close to the float32 teacher's, on the teacher fixtures and their real images.
 */
class PlacedTeacherTest {

    private static Tensor imageNet(SafeTensorsFile io, String name, ImageNormalization n) {
        return n.apply(io.tensor(name).to(ScalarType.Float).div(Tensors.scalar(255)));
    }

    private static void assertWeightsAre(Tokenizer teacher, ScalarType type) {
        TensorVector params = PlacedTeacher.weightsOf(teacher).parameters(true);
        assertThat(params.size()).isPositive();
        for (long i = 0; i < params.size(); i++) assertThat(params.get(i).scalar_type().value).isEqualTo(type.value);
    }

    /** Smallest cosine between corresponding tokens of the placed teacher's targets and the float32 teacher's. */
    private static double placedVsFp32(Supplier<Tokenizer> load, Supplier<Tensor> imagesOf, Precision precision) {
        try (Tokenizer fp32 = load.get(); PlacedTeacher placed = PlacedTeacher.place(load.get(), ComputeDevice.CPU, precision);
             PointerScope scope = new PointerScope()) {
            Tensor images = imagesOf.get();
            assertWeightsAre(placed.unwrap(), precision == Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Half);
            Tensor expected = fp32.targets(images), actual = placed.targets(images);
            assertThat(actual.scalar_type().value).as("targets handed on as float32").isEqualTo(ScalarType.Float.value);
            assertThat(actual.is_inference()).isFalse();
            assertThat(Tensors.shape(actual)).isEqualTo(Tensors.shape(expected));
            double cosine = torch.cosine_similarity(actual, expected, 2, 1e-8).min().item_double();
            double diff = TensorAssert.maxAbsDiff(actual, expected);
            System.out.printf("%s %s vs fp32: smallest token cosine %.6f, max |diff| %.2e%n", placed.name(), precision, cosine, diff);
            assertThat(diff).as("not the float32 computation").isPositive();
            return cosine;
        }
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void clipAndDinoTargetsInReducedPrecisionAreCloseToFloat32s(Precision precision) {
        try (SafeTensorsFile clipIo = SafeTensorsFile.open(TestPaths.fixture("clip/clip_w64_p16.images.io.safetensors"));
             SafeTensorsFile dinoIo = SafeTensorsFile.open(TestPaths.fixture("dino/dino.io.safetensors"))) {
            assertThat(placedVsFp32(() -> ClipTokenizer.load(TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors")),
                    () -> clipIo.tensor("pixels"), precision)).isGreaterThan(0.999);
            assertThat(placedVsFp32(() -> DinoTokenizer.load(TestPaths.fixture("dino/dino_w64.pth"),
                    DinoTokenizer.Options.DEFAULT.withHeads(2)), () -> imageNet(dinoIo, "images224", ImageNormalization.IMAGENET),
                    precision)).isGreaterThan(0.999);
        }
    }

    @Test
    void theDvaesTokenIdsInBf16MostlyAgreeAndStayInt64() {
        try (SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture("dalle/dalle.io.safetensors"));
             DalleTokenizer fp32 = DalleTokenizer.load(TestPaths.fixture("dalle/encoder_w16.pkl"));
             PlacedTeacher bf16 = PlacedTeacher.place(DalleTokenizer.load(TestPaths.fixture("dalle/encoder_w16.pkl")),
                     ComputeDevice.CPU, Precision.BF16);
             PointerScope scope = new PointerScope()) { // opened after the teachers: their weights are long-lived
            assertWeightsAre(bf16.unwrap(), ScalarType.BFloat16);
            Tensor views = imageNet(io, "images112", ImageNormalization.DALLE);
            long[] expected = Tensors.toLongs(fp32.targets(views));
            Tensor ids = bf16.targets(views);
            assertThat(ids.scalar_type().value).isEqualTo(ScalarType.Long.value);
            long[] actual = Tensors.toLongs(ids);
            int same = 0;
            for (int i = 0; i < expected.length; i++) if (expected[i] == actual[i]) same++;
            System.out.printf("d-VAE ids in bf16: %d of %d equal to float32's%n", same, expected.length);
            // bf16 logits move the argmax where two codes are nearly tied
            assertThat(same).isGreaterThanOrEqualTo((int) (0.8 * expected.length));
        }
    }

    @Test
    void inFloat32OnTheCpuPlacingChangesNothing() {
        try (ClipTokenizer raw = ClipTokenizer.random(0, 64, 16);
             PointerScope scope = new PointerScope()) {
            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor before = raw.targets(images);
            PlacedTeacher placed = PlacedTeacher.place(raw, ComputeDevice.CPU, Precision.FP32);
            assertThat(TensorAssert.maxAbsDiff(placed.targets(images), before)).isZero();
            assertThat(placed.name()).isEqualTo(raw.name());
            assertThat(PlacedTeacher.place(placed, ComputeDevice.CPU, Precision.FP32)).isSameAs(placed);
            assertThatThrownBy(() -> PlacedTeacher.place(placed, ComputeDevice.CPU, Precision.BF16))
                    .hasMessageContaining("placed on cpu in FP32 already");
            assertThat(PlacedTeacher.place(raw, ComputeDevice.CPU, Precision.BF16).name()).endsWith(", weights in bf16");
        }
    }

    @Test
    void teachersWithoutWeightsArePlacedAndUnknownOnesOnlyInFloat32() {
        try (PlacedTeacher hog = PlacedTeacher.place(HogTokenizer.maskFeat(32, 8), ComputeDevice.CPU, Precision.BF16);
             PointerScope scope = new PointerScope()) {
            Tensor targets = hog.targets(Tensors.randn(1, 3, 32, 32));
            assertThat(targets.scalar_type().value).isEqualTo(ScalarType.Float.value);
        }
        Tokenizer unknown = new Tokenizer() {
            @Override public String name() { return "custom"; }
            @Override public ViewSpec inputSpec() { return new ViewSpec(32, dev.mvp.api.Interpolation.BICUBIC, ImageNormalization.IMAGENET); }
            @Override public TargetSpec targetSpec() { return new TargetSpec.Features(8, true); }
            @Override public int gridSize() { return 4; }
            @Override public Tensor targets(Tensor images) { return Tensors.zeros(images.size(0), 17, 8); }
        };
        assertThat(PlacedTeacher.place(unknown, ComputeDevice.CPU, Precision.FP32).name()).isEqualTo("custom");
        assertThatThrownBy(() -> PlacedTeacher.place(unknown, ComputeDevice.CPU, Precision.BF16))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--teacher-precision bf16: cannot convert the weights of custom");
    }
}
