package dev.mvp.train;

import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The device paths of the engine that a CPU-only machine can run: the refusal of an unavailable CUDA device, the
 * zero-copy CPU batches, CUDA autocast regions (their thread-local state only), and the CPU twin through which a CUDA
 * run writes its optimiser state.
 */
class DevicesTest {

    @Test
    void cudaWithoutCudaIsRefusedInOneLineNamingTheFlag() {
        Torch.init();
        assumeFalse(torch.cuda_is_available(), "this machine has CUDA");
        Devices.requireAvailable(ComputeDevice.CPU);
        assertThatThrownBy(() -> Devices.requireAvailable(ComputeDevice.parse("cuda")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("--device cuda:0: CUDA is not available")
                .hasMessageContaining("--device cpu")
                .satisfies(e -> assertThat(e.getMessage().lines()).hasSize(1));
    }

    @Test
    void onTheCpuABatchIsHandedOnWithoutACopy() {
        Torch.init();
        try (PointerScope scope = new PointerScope(); Device cpu = ComputeDevice.CPU.torchDevice()) {
            Tensor batch = Tensors.randn(2, 3, 4, 4);
            assertThat(Devices.onDevice(batch, ComputeDevice.CPU, cpu)).isSameAs(batch);
            assertThat(Devices.onDevice(null, ComputeDevice.CPU, cpu)).isNull();
        }
    }

    @Test
    void aCudaAutocastRegionSetsCudasStateAndLeavesCpuTensorsAlone() {
        Torch.init();
        ComputeDevice cuda = ComputeDevice.parse("cuda:0");
        try (PointerScope scope = new PointerScope()) {
            Tensor a = Tensors.randn(4, 4);
            try (Autocast region = Autocast.of(Precision.BF16, cuda)) {
                assertThat(torch.is_autocast_enabled(DeviceType.CUDA)).isTrue();
                assertThat(torch.get_autocast_dtype(DeviceType.CUDA).value).isEqualTo(ScalarType.BFloat16.value);
                assertThat(torch.is_autocast_enabled(DeviceType.CPU)).isFalse();
                assertThat(a.matmul(a).scalar_type().value).isEqualTo(ScalarType.Float.value);
            }
            assertThat(torch.is_autocast_enabled(DeviceType.CUDA)).isFalse();
            try (Autocast region = Autocast.of(Precision.BF16, ComputeDevice.CPU)) {
                assertThat(a.matmul(a).scalar_type().value).isEqualTo(ScalarType.BFloat16.value);
            }
        }
    }

    /** Two parameters in two groups (as the engine's decay and no-decay groups), AdamW stepped on fixed gradients. */
    private static final class Model {
        final Tensor w = Tensors.ofFloats(new float[] {0.5f, -1f, 2f, 0.25f}, 2, 2).requires_grad_(true);
        final Tensor b = Tensors.ofFloats(new float[] {0.1f, -0.2f}, 2).requires_grad_(true);
        final AdamW optimizer;

        Model() {
            AdamWOptions decay = new AdamWOptions(1e-2);
            decay.weight_decay().put(0.05);
            optimizer = new AdamW(new TensorVector(w), decay);
            AdamWOptions noDecay = new AdamWOptions(1e-2);
            noDecay.weight_decay().put(0.0);
            optimizer.add_param_group(new OptimizerParamGroup(new TensorVector(b), noDecay));
        }

        void step(int k) {
            try (PointerScope scope = new PointerScope()) {
                optimizer.zero_grad();
                Tensor x = Tensors.ofFloats(new float[] {1f + k, -0.5f * k}, 2);
                w.matmul(x).add(b).pow(Tensors.scalar(2)).sum().backward();
                optimizer.step();
            }
        }

        void copyFrom(Model other) {
            try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
                w.copy_(other.w);
                b.copy_(other.b);
            }
        }
    }

    @Test
    void optimiserStateWrittenThroughTheCpuTwinContinuesExactlyAsTheDirectlyWrittenOne(@TempDir Path tmp) throws Exception {
        Torch.init();
        Model trained = new Model();
        for (int k = 0; k < 3; k++) trained.step(k);
        Path direct = tmp.resolve("direct.pt"), twin = tmp.resolve("twin.pt");
        Checkpoints.saveOptimizer(trained.optimizer, direct, false);
        Checkpoints.saveOptimizer(trained.optimizer, twin, true);
        assertThat(tmp.resolve("twin.pt.device")).as("the intermediate file is removed").doesNotExist();
        assertThat(Files.size(twin)).isPositive();

        Model fromDirect = new Model(), fromTwin = new Model();
        for (Model m : new Model[] {fromDirect, fromTwin}) {
            m.copyFrom(trained);
            try (PointerScope scope = new PointerScope()) {
                InputArchive archive = new InputArchive();
                archive.load_from((m == fromDirect ? direct : twin).toString());
                m.optimizer.load(archive);
            }
        }
        for (int k = 3; k < 6; k++) {
            trained.step(k);
            fromDirect.step(k);
            fromTwin.step(k);
        }
        try (PointerScope scope = new PointerScope()) {
            assertThat(TensorAssert.maxAbsDiff(fromDirect.w, trained.w)).isZero();
            assertThat(TensorAssert.maxAbsDiff(fromTwin.w, trained.w)).isZero();
            assertThat(TensorAssert.maxAbsDiff(fromTwin.b, trained.b)).isZero();
            // a fresh optimiser (no state) would have moved differently: the state was really carried
            Model fresh = new Model();
            fresh.copyFrom(fromTwin);
            fresh.step(6);
            fromTwin.step(6);
            assertThat(TensorAssert.maxAbsDiff(fresh.w, fromTwin.w)).isPositive();
        }
    }
}
