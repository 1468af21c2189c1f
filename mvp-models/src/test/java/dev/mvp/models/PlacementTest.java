package dev.mvp.models;

import dev.mvp.api.Tensors;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.nn.Placement;
import dev.mvp.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Placement} and {@link VisionTransformer#moveTo}: in-place type conversion on the CPU (a CUDA move takes the
 * same {@code set_data} path with another device, which this machine cannot run).
 */
class PlacementTest {

    @ParameterizedTest
    @EnumSource(value = VitConfig.RelativePosition.class, names = {"SHARED", "PER_BLOCK"})
    void aBeitNetworkConvertedInPlaceKeepsItsTensorsAndComputesAsBefore(VitConfig.RelativePosition relative) {
        // BEiT's options: q/v biases with the unregistered zero k bias, relative position bias and its index
        VitConfig config = VitConfig.timm(32, 2, 2, 16).withImageSize(64).beitPretraining().withRelativePosition(relative);
        torch.manual_seed(5);
        try (VisionTransformer vit = VisionTransformer.create(config); VisionTransformer reference = VisionTransformer.create(config);
             PointerScope scope = new PointerScope(); Device cpu = new Device(DeviceType.CPU)) {
            vit.eval();
            reference.eval();
            Map<String, Tensor> original = new LinkedHashMap<>();
            try (NoGradGuard noGrad = new NoGradGuard()) {
                StateDict.of(vit).forEach((name, t) -> {
                    t.copy_(Tensors.randn(Tensors.shape(t)).mul(Tensors.scalar(0.3))); // zero-initialised tables too
                    original.put(name, t.clone());
                });
                StateDict.of(reference).forEach((name, t) -> t.copy_(original.get(name)));
            }

            vit.moveTo(cpu, ScalarType.BFloat16);
            Map<String, Tensor> converted = StateDict.of(vit);
            assertThat(converted).hasSameSizeAs(original);
            converted.forEach((name, t) -> {
                assertThat(t.scalar_type().value).as(name).isEqualTo(ScalarType.BFloat16.value);
                // the module's own tensor now holds the rounded values
                assertThat(TensorAssert.maxAbsDiff(t.to(ScalarType.Float), original.get(name).to(ScalarType.BFloat16)
                        .to(ScalarType.Float))).as(name).isZero();
            });

            Tensor images = Tensors.randn(2, 3, 64, 64);
            Tensor expected = reference.forward(images, null);
            Tensor actual;
            torch.set_autocast_dtype(DeviceType.CPU, ScalarType.BFloat16);
            torch.set_autocast_enabled(DeviceType.CPU, true);
            try {
                actual = vit.forward(images, null).to(ScalarType.Float);  // forward uses the fields' handles
            } finally {
                torch.set_autocast_enabled(DeviceType.CPU, false);
                torch.clear_cache();
            }
            double cosine = torch.cosine_similarity(actual, expected, 2, 1e-8).min().item_double();
            System.out.printf("bf16 ViT vs fp32 (%s): smallest token cosine %.6f%n", relative, cosine);
            assertThat(cosine).isGreaterThan(0.99).isLessThan(1.0);

            vit.moveTo(cpu, ScalarType.Float);
            StateDict.of(vit).forEach((name, t) -> {
                assertThat(t.scalar_type().value).as(name).isEqualTo(ScalarType.Float.value);
                assertThat(TensorAssert.maxAbsDiff(t, original.get(name).to(ScalarType.BFloat16).to(ScalarType.Float)))
                        .as(name).isZero();
            });
            Placement.move(vit, cpu, null); // already there: nothing changes
            assertThat(TensorAssert.maxAbsDiff(StateDict.of(vit).get("cls_token"),
                    original.get("cls_token").to(ScalarType.BFloat16).to(ScalarType.Float))).isZero();
        }
    }
}
