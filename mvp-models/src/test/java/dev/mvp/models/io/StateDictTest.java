package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StateDictTest {
    @TempDir Path dir;
    private Module module;
    private Tensor weight;
    private Tensor bias;

    /** {@code fc.weight} [2, 3] requiring grad, {@code fc.bias} [2], buffer {@code steps} (int64). */
    @BeforeEach void build() {
        Torch.init();
        module = new Module();
        Module fc = new Module();
        weight = Tensors.zeros(2, 3);
        bias = Tensors.zeros(2);
        fc.register_parameter("weight", weight);
        fc.register_parameter("bias", bias);
        module.register_module("fc", fc);
        module.register_buffer("steps", Tensors.ofLongs(new long[] {0}, 1));
    }

    @AfterEach void release() {
        module.close();
    }

    @Test void namesParametersThenBuffers() {
        try (PointerScope scope = new PointerScope()) {
            assertThat(StateDict.of(module).keySet()).containsExactly("fc.weight", "fc.bias", "steps");
        }
    }

    @Test void loadsByNameUnderAPrefixConvertingFp16AndCopying() {
        Path file = dir.resolve("m.safetensors");
        write(file, Map.of(
                "model.fc.weight", Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6.5f}, 2, 3).to(ScalarType.Half),
                "model.fc.bias", Tensors.ofFloats(new float[] {-1, 0.25f}, 2),
                "model.steps", Tensors.ofLongs(new long[] {41}, 1),
                "other.tower", Tensors.zeros(5)));
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            StateDict.load(module, f, "model.");
            assertThat(f.liveViews()).isZero(); // nothing the module owns points into the mapping
        }
        try (PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(weight)).containsExactly(1, 2, 3, 4, 5, 6.5f);
            assertThat(weight.scalar_type().intern()).isEqualTo(ScalarType.Float);
            assertThat(weight.requires_grad()).isTrue();
            assertThat(Tensors.toFloats(bias)).containsExactly(-1, 0.25f);
            assertThat(Tensors.toLongs(StateDict.of(module).get("steps"))).containsExactly(41);
        }
    }

    @Test void savesWhatItLoads() {
        Path file = dir.resolve("saved.safetensors");
        try (PointerScope scope = new PointerScope()) {
            weight.detach().copy_(Tensors.ofFloats(new float[] {6, 5, 4, 3, 2, 1}, 2, 3));
        }
        StateDict.save(module, file, Map.of("step", "3"));
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            assertThat(f.names()).containsExactlyInAnyOrder("fc.weight", "fc.bias", "steps");
            assertThat(f.metadata()).containsEntry("step", "3");
            assertThat(Tensors.toFloats(f.tensor("fc.weight"))).containsExactly(6, 5, 4, 3, 2, 1);
        }
    }

    @Test void rejectsUnexpectedMissingMisshapenAndMistypedTensors() {
        Map<String, Tensor> good = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            good.put("fc.weight", Tensors.zeros(2, 3));
            good.put("fc.bias", Tensors.zeros(2));
            good.put("steps", Tensors.ofLongs(new long[] {0}, 1));

            assertRejected(with(good, "fc.extra", Tensors.zeros(1)), "tensor 'fc.extra': unexpected: the model has no 'fc.extra'");
            Map<String, Tensor> missing = new LinkedHashMap<>(good);
            missing.remove("fc.bias");
            assertRejected(missing, "tensor 'fc.bias': missing");
            assertRejected(with(good, "fc.weight", Tensors.zeros(3, 2)), "tensor 'fc.weight': shape [3, 2] does not match the model's [2, 3]");
            assertRejected(with(good, "fc.bias", Tensors.ofLongs(new long[] {1, 2}, 2)),
                    "tensor 'fc.bias': dtype I64 cannot be loaded into the model's Float tensor");
        }
    }

    private void assertRejected(Map<String, Tensor> tensors, String problem) {
        Path file = dir.resolve("bad.safetensors");
        write(file, tensors);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertThatThrownBy(() -> StateDict.load(module, f, "")).isInstanceOf(WeightFormatException.class)
                    .hasMessageStartingWith(file + ": " + problem);
        }
    }

    private static Map<String, Tensor> with(Map<String, Tensor> base, String name, Tensor t) {
        Map<String, Tensor> out = new LinkedHashMap<>(base);
        out.put(name, t);
        return out;
    }

    private static void write(Path file, Map<String, Tensor> tensors) {
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, tensors);
        }
    }
}
