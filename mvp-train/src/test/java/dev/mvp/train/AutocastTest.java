package dev.mvp.train;

import dev.mvp.api.LossOutput;
import dev.mvp.api.Precision;
import dev.mvp.api.Recipe;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class AutocastTest {

    private static int dtype(Tensor t) {
        return t.scalar_type().value;
    }

    @Test
    void bf16RegionsRunMatmulsInBf16AndRestoreTheStateOnClose() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor a = Tensors.randn(8, 8), b = Tensors.randn(8, 8);
            try (Autocast none = Autocast.of(Precision.FP32)) {
                assertThat(dtype(a.matmul(b))).isEqualTo(ScalarType.Float.value);
            }
            try (Autocast outer = Autocast.of(Precision.BF16)) {
                assertThat(dtype(a.matmul(b))).isEqualTo(ScalarType.BFloat16.value);
                try (Autocast inner = Autocast.of(Precision.FP16)) {
                    assertThat(dtype(a.matmul(b))).isEqualTo(ScalarType.Half.value);
                }
                assertThat(dtype(a.matmul(b))).as("the outer region's type is back").isEqualTo(ScalarType.BFloat16.value);
            }
            assertThat(torch.is_autocast_enabled(DeviceType.CPU)).isFalse();
            assertThat(dtype(a.matmul(b))).isEqualTo(ScalarType.Float.value);
        }
    }

    @Test
    void aBf16StudentForwardGivesNearlyTheFp32LossAndFloatGradients() {
        PretrainConfig config = PretrainConfig.builder(Path.of("unused"), Path.of("unused")).imageSize(32).patchSize(8).build();
        Recipe recipe = Recipes.mvp(config);
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(1);
            Tensor student = Tensors.randn(2, 3, 32, 32), teacher = Tensors.randn(2, 3, 32, 32);
            Tensor mask = Tensors.ofBooleans(new boolean[32], 2, 16);
            Tensor targets;
            try (NoGradGuard g = new NoGradGuard()) {
                targets = recipe.tokenizer().targets(teacher);
            }
            double fp32 = recipe.forwardWithTargets(student, targets, mask).value().item_double();
            LossOutput bf16;
            try (Autocast a = Autocast.of(Precision.BF16)) {
                bf16 = recipe.forwardWithTargets(student, targets, mask);
            }
            assertThat(dtype(bf16.value())).as("the loss is computed in float32").isEqualTo(ScalarType.Float.value);
            double loss = bf16.value().item_double();
            System.out.printf("loss fp32 %.7f, bf16 autocast %.7f%n", fp32, loss);
            assertThat(loss).isCloseTo(fp32, within(2e-2)).isNotEqualTo(fp32);
            bf16.value().backward();
            Tensor w = recipe.backbone().module().named_parameters(true).get(0).value();
            assertThat(dtype(w)).as("master weights stay float32").isEqualTo(ScalarType.Float.value);
        }
        recipe.tokenizer().close();
    }
}
