package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsWriterTest {
    @TempDir Path dir;

    /** The reference crate's test_serialization: "attn.0", F32 [1, 2, 3] holding 0..5, byte for byte. */
    @Test void writesTheReferenceBytesForOneTensor() throws IOException {
        Path file = dir.resolve("one.safetensors");
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, Map.of("attn.0", Tensors.ofFloats(new float[] {0, 1, 2, 3, 4, 5}, 1, 2, 3)));
        }
        assertThat(Files.readAllBytes(file)).containsExactly(bytes(
                64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64));
    }

    /** The reference crate's test_serialization_forced_alignement: the header is padded with spaces to 8 bytes. */
    @Test void padsTheHeaderWithSpacesToEightBytes() throws IOException {
        Path file = dir.resolve("aligned.safetensors");
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, Map.of("attn0", Tensors.ofFloats(new float[] {0, 1, 2, 3, 4, 5}, 1, 1, 2, 3)));
        }
        assertThat(Files.readAllBytes(file)).containsExactly(bytes(
                72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
                121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
                115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
                32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
                160, 64));
    }

    /** The reference crate's test_empty, with metadata {"framework": "pt"}. */
    @Test void writesTheReferenceBytesForMetadataOnly() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        SafeTensorsWriter.write(file, Map.of(), Map.of("framework", "pt"));
        assertThat(Files.readAllBytes(file)).containsExactly(bytes(
                40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                116, 34, 125, 125, 32, 32, 32, 32, 32));
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertThat(f.names()).isEmpty();
            assertThat(f.metadata()).containsExactly(Map.entry("framework", "pt"));
        }
    }

    /** Largest alignment first, then by name, so that every tensor's data is aligned to its element size. */
    @Test void ordersTensorsByAlignmentThenName() {
        Path file = dir.resolve("order.safetensors");
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("a.half", Tensors.ofFloats(new float[] {1, 2, 3}, 3).to(ScalarType.Half));
            tensors.put("b.float", Tensors.ofFloats(new float[] {1}, 1));
            tensors.put("a.float", Tensors.ofFloats(new float[] {1, 2, 3}, 3));
            tensors.put("z.long", Tensors.ofLongs(new long[] {7}, 1));
            SafeTensorsWriter.write(file, tensors);
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertThat(f.names()).containsExactly("z.long", "a.float", "b.float", "a.half");
            assertThat(f.names().stream().map(n -> f.dataOffsets(n)[0])).containsExactly(0L, 8L, 20L, 24L);
            assertThat((8 + f.headerLength()) % 8).isZero();
        }
    }

    @Test void replacesAnExistingFileAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("w.safetensors");
        Files.writeString(file, "old contents");
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, Map.of("x", Tensors.ofFloats(new float[] {2.5f}, 1)));
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(f.tensor("x"))).containsExactly(2.5f);
        }
        try (var listing = Files.list(dir)) {
            assertThat(listing.map(p -> p.getFileName().toString()).toList()).isEqualTo(List.of("w.safetensors"));
        }
    }

    /** The file gets the usual mode (0666 less the umask), as a JSON file written next to it: not a temp file's 0600. */
    @Test void theFileHasTheUsualPermissionsNotATemporaryFilesOwnerOnlyMode() throws IOException {
        Path file = dir.resolve("perm.safetensors");
        Path json = Files.writeString(dir.resolve("perm.json"), "{}");
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(file, Map.of("x", Tensors.ofFloats(new float[] {1f}, 1)));
            SafeTensorsWriter.write(file, Map.of("x", Tensors.ofFloats(new float[] {2f}, 1))); // replacing too
        }
        var mode = Files.getPosixFilePermissions(file);
        assertThat(mode).isEqualTo(Files.getPosixFilePermissions(json));
        assertThat(mode).contains(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        try (var listing = Files.list(dir)) {
            assertThat(listing.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList()).isEmpty();
        }
    }

    @Test void writesNonContiguousTensorsInLogicalOrder() {
        Path file = dir.resolve("t.safetensors");
        try (PointerScope scope = new PointerScope()) {
            Tensor m = Tensors.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            SafeTensorsWriter.write(file, Map.of("t", m.t()));
            try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
                assertThat(f.info("t").shape()).containsExactly(3, 2);
                assertThat(Tensors.toFloats(f.tensor("t"))).containsExactly(1, 4, 2, 5, 3, 6);
            }
        }
    }

    @Test void rejectsTheReservedNameAndUnsupportedDtypes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = Tensors.ofFloats(new float[] {1}, 1);
            assertThatThrownBy(() -> SafeTensorsWriter.write(dir.resolve("a"), Map.of("__metadata__", x)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
            Tensor complex = x.to(ScalarType.ComplexFloat);
            assertThatThrownBy(() -> SafeTensorsWriter.write(dir.resolve("b"), Map.of("c", complex)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'c'");
        }
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) b[i] = (byte) values[i];
        return b;
    }
}
