package dev.mvp.api;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TorchTest {

    @Test
    void roundTripsValuesThroughTensors() {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            assertThat(Tensors.shape(t)).containsExactly(2, 3);
            assertThat(Tensors.toFloats(t.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional())))
                    .containsExactly(6f, 15f);
            assertThat(Tensors.toLongs(Tensors.ofLongs(new long[] {7, -1}, 2))).containsExactly(7, -1);
            assertThat(Tensors.toBooleans(Tensors.ofBooleans(new boolean[] {true, false, true}, 3)))
                    .containsExactly(true, false, true);
        }
    }

    @Test
    void openMpWaitsPassivelyUnlessTheUserChoseAPolicy() throws Throwable {
        Torch.init();
        // the process environment as native code sees it (System.getenv is a copy taken at JVM start)
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        java.lang.invoke.MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.ADDRESS));
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment value = (java.lang.foreign.MemorySegment) getenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"));
            String expected = System.getenv("OMP_WAIT_POLICY") != null ? System.getenv("OMP_WAIT_POLICY") : "PASSIVE";
            assertThat(value.address()).as("OMP_WAIT_POLICY is set").isNotZero();
            assertThat(value.reinterpret(64).getString(0)).isEqualTo(expected);
        }
    }

    @Test
    void rejectsShapeThatDoesNotFitTheData() {
        assertThatThrownBy(() -> Tensors.ofFloats(new float[3], 2, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 2]");
    }

    @Test
    void normalisationMatchesTheFormula() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = Tensors.ofFloats(new float[] {0f, 0.5f, 1f}, 1, 3, 1, 1);
            float[] y = Tensors.toFloats(ImageNormalization.CLIP.apply(x));
            assertThat(y[0]).isCloseTo((0f - 0.48145466f) / 0.26862954f, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(y[1]).isCloseTo((0.5f - 0.4578275f) / 0.26130258f, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(y[2]).isCloseTo((1f - 0.40821073f) / 0.27577711f, org.assertj.core.data.Offset.offset(1e-6f));
            float[] d = Tensors.toFloats(ImageNormalization.DALLE.apply(x));
            dev.mvp.testing.TensorAssert.assertClose(d, new float[] {0.1f, 0.5f, 0.9f}, 1e-6);
        }
    }

    @Test
    void threadCountIsApplied() {
        int before = Torch.threads();
        Torch.setThreads(1);
        assertThat(Torch.threads()).isEqualTo(1);
        Torch.setThreads(before);
    }

    @Test
    void parsesDevices() {
        assertThat(ComputeDevice.parse("cpu")).isEqualTo(ComputeDevice.CPU);
        assertThat(ComputeDevice.parse("cuda:1").index()).isEqualTo(1);
        assertThatThrownBy(() -> ComputeDevice.parse("tpu")).hasMessageContaining("tpu");
    }
}
