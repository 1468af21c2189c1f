package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsFileTest {
    @TempDir Path dir;

    // ---- round trips ----------------------------------------------------------------------------------------------

    @Test void roundTripsEachDtypeWithItsShapeAndMetadata() {
        Path file = dir.resolve("round.safetensors");
        float[] values = {0.5f, -1.25f, 3f, 1024f, -0f, 0.0078125f};
        long[] longs = {1L << 40, -7, 0, Long.MAX_VALUE};
        try (PointerScope scope = new PointerScope()) {
            Tensor f32 = Tensors.ofFloats(values, 2, 3);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("f32", f32);
            tensors.put("f16", f32.to(ScalarType.Half));
            tensors.put("bf16", f32.to(ScalarType.BFloat16));
            tensors.put("i64", Tensors.ofLongs(longs, 4));
            tensors.put("scalar", Tensors.ofFloats(new float[] {42f}));
            tensors.put("empty", Tensors.zeros(0, 3));
            SafeTensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "ünïcode"));
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            assertThat(f.names()).containsExactlyInAnyOrder("f32", "f16", "bf16", "i64", "scalar", "empty");
            assertThat(f.metadata()).containsExactlyInAnyOrderEntriesOf(Map.of("format", "pt", "note", "ünïcode"));
            assertThat(f.info("f16").dtype()).isEqualTo(Dtype.F16);
            assertThat(f.info("bf16").dtype()).isEqualTo(Dtype.BF16);
            assertThat(f.info("f32").shape()).containsExactly(2, 3);
            assertThat(f.info("scalar").shape()).isEmpty();

            for (String name : List.of("f32", "f16", "bf16")) {
                Tensor view = f.tensor(name);
                assertThat(view.scalar_type().intern()).isEqualTo(f.info(name).dtype().scalarType());
                assertThat(Tensors.toFloats(view)).as(name).containsExactly(values);
                Tensor converted = f.tensor(name, ScalarType.Float);
                assertThat(converted.scalar_type().intern()).isEqualTo(ScalarType.Float);
                assertThat(Tensors.toFloats(converted)).as(name).containsExactly(values);
            }
            assertThat(Tensors.toLongs(f.tensor("i64"))).containsExactly(longs);
            assertThat(Tensors.toFloats(f.tensor("scalar"))).containsExactly(42f);
            assertThat(Tensors.shape(f.tensor("empty"))).containsExactly(0, 3);
        }
    }

    @Test void viewsAreZeroCopyAndConvertedTensorsAreCopies() {
        Path file = write("z.safetensors", Map.of("w", new float[] {1, 2, 3, 4}));
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            Tensor a = f.tensor("w"), b = f.tensor("w");
            assertThat(a.data_ptr().address()).isEqualTo(b.data_ptr().address());
            assertThat(a.requires_grad()).isFalse();
            assertThat(f.liveViews()).isEqualTo(2);
            Tensor copy = f.tensor("w", ScalarType.Float);
            assertThat(copy.data_ptr().address()).isNotEqualTo(a.data_ptr().address());
            copy.add_(Tensors.scalar(1)); // a copy is ordinary writable memory
            assertThat(Tensors.toFloats(a)).containsExactly(1, 2, 3, 4);
        }
    }

    @Test void readsTensorsInAnyHeaderOrder() throws IOException {
        // offsets listed out of order and not sorted by name: readers sort by offset, as the reference does
        String json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        Path file = raw("order.safetensors", json, data.array());
        try (SafeTensorsFile f = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            assertThat(f.names()).containsExactly("a", "b");
            assertThat(Tensors.toFloats(f.tensor("a"))).containsExactly(1.5f);
            assertThat(Tensors.toFloats(f.tensor("b"))).containsExactly(-2f);
        }
    }

    @Test void copiesTensorsWhoseDataIsMisaligned() throws IOException {
        // a header of 13 bytes puts the data at file offset 21: float32 there would be misaligned for a view
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        json += " ".repeat(Math.floorMod(13 - json.length(), 8));
        assertThat((8 + json.length()) % 4).isNotZero();
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.75f).putFloat(-3f);
        try (SafeTensorsFile f = SafeTensorsFile.open(raw("misaligned.safetensors", json, data.array()));
             PointerScope scope = new PointerScope()) {
            Tensor w = f.tensor("w");
            assertThat(Tensors.toFloats(w)).containsExactly(0.75f, -3f);
            assertThat(f.liveViews()).isZero();
        }
    }

    // ---- hostile files: one clear line each, and the JVM keeps running --------------------------------------------

    @Test void rejectsTruncatedData() throws IOException {
        Path file = raw("truncated.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", new byte[12]);
        assertRejected(file, "tensor 'w'", "the file is truncated");
    }

    @Test void rejectsAHeaderLengthLargerThanTheFile() throws IOException {
        Path file = dir.resolve("long-header.safetensors");
        byte[] header = "{}      ".getBytes(StandardCharsets.US_ASCII);
        Files.write(file, concat(le(1000), header));
        assertRejected(file, "header length 1000 runs past the end of the file (16 bytes)");
    }

    @Test void rejectsAnAbsurdHeaderLength() throws IOException {
        Path file = dir.resolve("huge-header.safetensors");
        Files.write(file, concat(le(-1), new byte[64]));
        assertRejected(file, "header length 18446744073709551615 exceeds the format's limit");
    }

    @Test void rejectsAFileTooShortForTheHeaderLength() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 2, 3});
        assertRejected(file, "only 3 bytes, too short");
    }

    @Test void rejectsMalformedJson() throws IOException {
        assertRejected(raw("json.safetensors", "{\"w\":{\"dtype\":\"F32\",", new byte[0]), "header is not valid JSON");
        assertRejected(raw("json2.safetensors", "[1, 2]", new byte[0]), "header is not a JSON object");
        assertRejected(raw("json3.safetensors", "{} {}", new byte[0]), "header is not valid JSON");
    }

    @Test void rejectsAHeaderThatIsNotUtf8() throws IOException {
        Path file = dir.resolve("latin1.safetensors");
        byte[] header = {'{', '"', (byte) 0xE9, '"', ':', '1', '}', ' '};
        Files.write(file, concat(le(header.length), header));
        assertRejected(file, "header is not valid UTF-8");
    }

    @Test void rejectsDuplicateTensorNames() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertRejected(raw("dup.safetensors", json, new byte[8]), "header is not valid JSON (Duplicate field 'w'");
    }

    @Test void rejectsOverlappingOffsets() throws IOException {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}";
        assertRejected(raw("overlap.safetensors", json, new byte[24]), "tensor 'b'", "overlap tensor 'a' [0, 16]");
    }

    @Test void rejectsAGapBetweenTensorsAndUncoveredTrailingBytes() throws IOException {
        String gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}";
        assertRejected(raw("gap.safetensors", gap, new byte[24]), "tensor 'b'", "gap of 8 bytes");
        String one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertRejected(raw("trailing.safetensors", one, new byte[12]), "4 bytes after the last tensor's data are not covered");
    }

    @Test void rejectsAShapeThatDoesNotMatchTheByteCount() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}";
        assertRejected(raw("count.safetensors", json, new byte[20]), "tensor 'w'",
                "shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
    }

    @Test void rejectsANegativeDimension() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}";
        assertRejected(raw("negative.safetensors", json, new byte[16]), "tensor 'w'", "negative value -1 (negative dimension)");
    }

    @Test void rejectsADimensionProductThatOverflows() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F16\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}";
        assertRejected(raw("overflow.safetensors", json, new byte[0]), "tensor 'w'", "overflows a 64-bit byte count");
        String wrap = "{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}"; // 2^61 * 8 = 2^64
        assertRejected(raw("overflow2.safetensors", wrap, new byte[0]), "tensor 'w'", "overflows a 64-bit byte count");
        String big = "{\"w\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}";
        assertRejected(raw("overflow3.safetensors", big, new byte[0]), "tensor 'w'", "does not fit in 64 bits");
    }

    @Test void rejectsAnUnknownDtype() throws IOException {
        String json = "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}";
        assertRejected(raw("dtype.safetensors", json, new byte[16]), "tensor 'w'", "unknown dtype \"F128\"");
    }

    @Test void rejectsMalformedEntries() throws IOException {
        assertRejected(raw("e1.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
                "tensor 'w'", "no \"dtype\" string");
        assertRejected(raw("e2.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", new byte[4]),
                "tensor 'w'", "\"data_offsets\" is not an array of 2 integers");
        assertRejected(raw("e3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", new byte[4]),
                "tensor 'w'", "\"shape\" holds 1.5, not an integer");
        assertRejected(raw("e4.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", new byte[4]),
                "tensor 'w'", "end before they begin");
        assertRejected(raw("e5.safetensors", "{\"__metadata__\":{\"a\":1}}", new byte[0]),
                "__metadata__ value of 'a' is not a string");
    }

    @Test void namesTheMissingTensor() {
        Path file = write("m.safetensors", Map.of("present", new float[] {1}));
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertThatThrownBy(() -> f.tensor("absent")).isInstanceOf(WeightFormatException.class)
                    .hasMessage(file + ": tensor 'absent': missing (the file has 1 tensors)");
        }
    }

    // ---- lifetime of views ----------------------------------------------------------------------------------------

    @Test void aViewOutlivesClose_andTheUnmapWaitsForItsRelease() throws IOException {
        Path file = write("life.safetensors", Map.of("w", new float[] {1, 2, 3, 4, 5, 6}));
        SafeTensorsFile f = SafeTensorsFile.open(file);
        assertThat(mapped(file)).isTrue();
        try (PointerScope scope = new PointerScope()) {
            Tensor view = f.tensor("w");
            Tensor slice = view.narrow(0, 2, 3); // shares the view's storage
            view.close();
            f.close();
            assertThat(f.isMapped()).isTrue();
            assertThat(mapped(file)).isTrue();
            assertThatThrownBy(() -> f.tensor("w")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
            assertThat(Tensors.toFloats(slice)).containsExactly(3, 4, 5);
            assertThat(Tensors.toFloats(slice.mul(Tensors.scalar(2)))).containsExactly(6, 8, 10);
        }
        // the scope freed the slice (and the helpers' aliases): libtorch released the storage, the file is unmapped
        assertThat(f.liveViews()).isZero();
        assertThat(f.isMapped()).isFalse();
        assertThat(mapped(file)).isFalse();
    }

    @Test void closeWithoutViewsUnmapsAtOnce() throws IOException {
        Path file = write("plain.safetensors", Map.of("w", new float[] {1}));
        SafeTensorsFile f = SafeTensorsFile.open(file);
        try (PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(f.tensor("w"))).containsExactly(1f);
        }
        assertThat(f.isMapped()).isTrue();
        f.close();
        f.close();
        assertThat(f.isMapped()).isFalse();
        assertThat(mapped(file)).isFalse();
    }

    @Test void manyFilesCanHaveLiveViewsAtOnce() {
        // javacpp allows only a few live instances of a callback class: one shared deleter serves every file
        List<SafeTensorsFile> files = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> views = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                SafeTensorsFile f = SafeTensorsFile.open(write("many" + i + ".safetensors", Map.of("w", new float[] {i, -i})));
                files.add(f);
                views.add(f.tensor("w"));
                f.close();
            }
            for (int i = 0; i < views.size(); i++) assertThat(Tensors.toFloats(views.get(i))).containsExactly(i, -i);
            assertThat(files).allMatch(SafeTensorsFile::isMapped);
        }
        assertThat(files).noneMatch(SafeTensorsFile::isMapped);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private void assertRejected(Path file, String... fragments) {
        assertThatThrownBy(() -> SafeTensorsFile.open(file).close())
                .isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContainingAll(fragments)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        // the JVM is still here and libtorch still works
        try (PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(Tensors.ofFloats(new float[] {1, 2}, 2).sum())).containsExactly(3f);
        }
    }

    private Path write(String name, Map<String, float[]> tensors) {
        Path file = dir.resolve(name);
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> map = new LinkedHashMap<>();
            tensors.forEach((k, v) -> map.put(k, Tensors.ofFloats(v, v.length)));
            SafeTensorsWriter.write(file, map);
        }
        return file;
    }

    private Path raw(String name, String json, byte[] data) throws IOException {
        Path file = dir.resolve(name);
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        Files.write(file, concat(concat(le(header.length), header), data));
        return file;
    }

    private static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Whether the process has a mapping of {@code file} (Linux). */
    private static boolean mapped(Path file) throws IOException {
        String target = file.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.endsWith(target));
    }
}
