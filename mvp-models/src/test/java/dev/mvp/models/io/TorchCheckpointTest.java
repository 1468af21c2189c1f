package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Files written by torch.save (python3-torch 1.13) through tools/fixtures/make_checkpoint_fixtures.py. */
class TorchCheckpointTest {
    @TempDir Path dir;

    private static Path fixture(String name) {
        return TestPaths.fixture("checkpoints/" + name);
    }

    @ParameterizedTest @ValueSource(strings = {"state_dict.zip.pt", "state_dict.legacy.pt"})
    void readsEveryTensorExactlyAsSaved(String file) {
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(fixture(file));
             SafeTensorsFile reference = SafeTensorsFile.open(fixture("state_dict.reference.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(ckpt.format()).isEqualTo(file.contains("zip") ? "torch.save zip" : "torch.save legacy");
            assertThat(ckpt.keyPath()).isEmpty();
            assertThat(ckpt.names()).containsExactly("fc.weight", "fc.bias", "norm.weight", "norm.bias",
                    "norm.running_mean", "norm.running_var", "norm.num_batches_tracked", "extra.half", "extra.bf16",
                    "extra.long", "extra.bool", "extra.scalar", "extra.empty", "extra.base", "extra.transposed", "extra.slice");
            for (String name : ckpt.names()) {
                TensorInfo expected = reference.info(name);
                assertThat(ckpt.info(name)).as(name).isEqualTo(expected);
                Tensor actual = ckpt.tensor(name);
                assertThat(Tensors.shape(actual)).as(name).containsExactly(expected.shape());
                if (expected.numel() == 0) continue; // Tensors.toFloats cannot read an empty tensor (null data_ptr)
                switch (expected.dtype()) {
                    case I64 -> assertThat(Tensors.toLongs(actual)).as(name).containsExactly(Tensors.toLongs(reference.tensor(name)));
                    case BOOL -> assertThat(Tensors.toBooleans(actual)).as(name).containsExactly(true, false, true);
                    default -> assertThat(Tensors.toFloats(actual)).as(name).containsExactly(Tensors.toFloats(reference.tensor(name)));
                }
            }
            assertThat(Tensors.toLongs(ckpt.tensor("norm.num_batches_tracked"))).containsExactly(41);
            assertThat(Tensors.toFloats(ckpt.tensor("extra.slice"))).containsExactly(5 / 8f, 6 / 8f, 9 / 8f, 10 / 8f);
        }
    }

    @Test void viewsShareTheFileMemoryWithTheSavedStridesAndOffsets() {
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(fixture("state_dict.zip.pt")); PointerScope scope = new PointerScope()) {
            Tensor base = ckpt.tensor("extra.base"), transposed = ckpt.tensor("extra.transposed"), slice = ckpt.tensor("extra.slice");
            assertThat(transposed.data_ptr().address()).isEqualTo(base.data_ptr().address());
            assertThat(slice.data_ptr().address()).isEqualTo(base.data_ptr().address() + 5 * 4);
            assertThat(transposed.strides().vec().get()).containsExactly(1, 4);
            assertThat(ckpt.ref("extra.slice").offset()).isEqualTo(5);
            assertThat(ckpt.ref("extra.slice").isContiguous()).isFalse();
            // a converted copy is ordinary memory
            Tensor copy = ckpt.tensor("extra.base", ScalarType.Float);
            assertThat(copy.data_ptr().address()).isNotEqualTo(base.data_ptr().address());
        }
    }

    @Test void aViewKeepsTheFileMappedAfterClose() {
        TorchCheckpoint ckpt = TorchCheckpoint.open(fixture("state_dict.zip.pt"));
        try (PointerScope scope = new PointerScope()) {
            Tensor w = ckpt.tensor("fc.weight");
            ckpt.close();
            assertThat(ckpt.isMapped()).isTrue();
            assertThat(Tensors.toFloats(w)).hasSize(6);
        }
        assertThat(ckpt.isMapped()).isFalse();
    }

    @Test void findsTheStateDictOfATrainingCheckpointByKeyPath() {
        Path file = fixture("training.zip.pth");
        try (TorchCheckpoint auto = TorchCheckpoint.open(file)) {
            assertThat(auto.keyPath()).isEqualTo("teacher");
            assertThat(auto.names()).containsExactly("backbone.cls_token", "backbone.pos_embed", "head.mlp.0.weight");
            Map<?, ?> root = (Map<?, ?>) auto.root();
            assertThat(root.get("epoch")).isEqualTo(7L);
            Pickled.Instance args = (Pickled.Instance) root.get("args");
            assertThat(args.className()).isEqualTo("argparse.Namespace");
            @SuppressWarnings("unchecked") Map<Object, Object> state = (Map<Object, Object>) args.state();
            assertThat(state).containsEntry("arch", "vit_base").containsEntry("lr", 0.0005).containsEntry("norm_last_layer", true);
        }
        try (TorchCheckpoint student = TorchCheckpoint.open(file, "student");
             TorchCheckpoint loss = TorchCheckpoint.open(file, "dino_loss")) {
            assertThat(student.names()).containsExactly("module.backbone.cls_token");
            assertThat(loss.info("center").shape()).containsExactly(1, 4);
        }
        assertRejected(() -> TorchCheckpoint.open(file, "nothing"), file,
                "no key 'nothing' at the top level (keys: student, teacher, args, epoch, optimizer, dino_loss)");
        assertRejected(() -> TorchCheckpoint.open(file, "teacher/backbone.cls_token/x"), file, "no key 'x' at "
                + "'teacher/backbone.cls_token' (it is a tensor)");
        assertRejected(() -> TorchCheckpoint.open(file, "args"), file, "'args' is an object of argparse.Namespace "
                + "without tensors, not a state dict (keys: arch, patch_size, lr, out_dim, norm_last_layer)");
        assertRejected(() -> TorchCheckpoint.open(file, "optimizer"), file, "'optimizer' is a dict of 2 without tensors");
    }

    @Test void weightsOpenRecognisesEachFormat() throws IOException {
        try (Weights zip = Weights.open(fixture("state_dict.zip.pt"));
             Weights legacy = Weights.open(fixture("state_dict.legacy.pt"));
             Weights safetensors = Weights.open(fixture("state_dict.reference.safetensors"));
             Weights teacher = Weights.open(fixture("training.zip.pth"), "teacher")) {
            assertThat(zip).isInstanceOf(TorchCheckpoint.class);
            assertThat(legacy.format()).isEqualTo("torch.save legacy");
            assertThat(safetensors).isInstanceOf(SafeTensorsFile.class);
            assertThat(teacher.names()).hasSize(3);
        }
        Path text = dir.resolve("notes.pt");
        Files.writeString(text, "these are not the weights you are looking for");
        assertRejected(() -> Weights.open(text), text, "not a weight file: neither safetensors");
        assertRejected(() -> Weights.open(fixture("state_dict.reference.safetensors"), "model"),
                fixture("state_dict.reference.safetensors"), "a safetensors file has no nested state dicts (key path 'model')");
    }

    // ---- hostile files: one clear line each, and the JVM keeps running ---------------------------------------------

    @Test void refusesAForbiddenGlobalByName() {
        assertRejected(() -> TorchCheckpoint.open(fixture("forbidden_global.pt")), fixture("forbidden_global.pt"),
                "data.pkl byte", "forbidden global 'posix.system'", "nothing is ever executed");
        assertRejected(() -> TorchCheckpoint.open(fixture("whole_module.pt")), fixture("whole_module.pt"),
                "forbidden global 'torch.nn.modules.linear.Linear'");
    }

    @Test void refusesATensorReachingOutsideItsStorage() {
        assertRejected(() -> TorchCheckpoint.open(fixture("tensor_outside_storage.pt")), fixture("tensor_outside_storage.pt"),
                "tensor 'w' of size [100], stride [1] at offset 0 reaches element 99 of storage 0, which has 4");
    }

    @Test void refusesAStorageRecordOfTheWrongSize() {
        assertRejected(() -> TorchCheckpoint.open(fixture("storage_too_short.pt")), fixture("storage_too_short.pt"),
                "storage 0 holds 6 F32 elements (24 bytes) but its record data/0 has 4 bytes");
    }

    @Test void refusesTruncatedFiles() throws IOException {
        byte[] zip = Files.readAllBytes(fixture("state_dict.zip.pt"));
        Path cutZip = dir.resolve("cut.pt");
        Files.write(cutZip, Arrays.copyOf(zip, zip.length - 100));
        assertRejected(() -> TorchCheckpoint.open(cutZip), cutZip, "zip archive without an end-of-central-directory record: truncated");

        byte[] legacy = Files.readAllBytes(fixture("state_dict.legacy.pt"));
        Path cutLegacy = dir.resolve("cut-legacy.pt");
        Files.write(cutLegacy, Arrays.copyOf(legacy, legacy.length - 30));
        assertRejected(() -> TorchCheckpoint.open(cutLegacy), cutLegacy, "is missing: the file is truncated");

        Path cutPickle = dir.resolve("cut-pickle.pt");
        Files.write(cutPickle, Arrays.copyOf(legacy, 700));
        assertRejected(() -> TorchCheckpoint.open(cutPickle), cutPickle, "pickle byte", "truncated");
    }

    @Test void refusesPickleOpcodesThatRunCode() throws IOException {
        // protocol 2 pickle of the magic number, then INST (protocol 0 object creation): refused by opcode
        Path file = dir.resolve("inst.pt");
        Files.write(file, new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20,
                0x6a, (byte) 0xa8, 0x50, 0x19, '.', (byte) 0x80, 2, 'i', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'});
        assertRejected(() -> TorchCheckpoint.open(file), file, "pickle byte 2: pickle opcode 0x69 ('i') is not allowed");
    }

    private static void assertRejected(org.assertj.core.api.ThrowableAssert.ThrowingCallable open, Path file, String... fragments) {
        assertThatThrownBy(open).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContainingAll(fragments)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        try (PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(Tensors.ofFloats(new float[] {1, 2}, 2).sum())).containsExactly(3f);
        }
    }
}
