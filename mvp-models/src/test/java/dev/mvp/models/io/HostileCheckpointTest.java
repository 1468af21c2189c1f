package dev.mvp.models.io;

import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Crafted {@code torch.save} zip files that torch itself would never write (TorchCheckpointTest has the ones it
 * writes): each is refused with one line naming the file, the tensor or record, and the problem; the JVM and libtorch
 * keep working. The pickles are assembled opcode by opcode below, as torch's protocol-2 pickler lays out a state dict.
 */
class HostileCheckpointTest {
    @TempDir Path dir;

    private static final byte[] FOUR_FLOATS = floats(1, 2, 3, 4);

    @Test void theCraftedFormatIsReadWhenItIsValid() throws IOException {
        // guards the builders below: the same file with sane values opens and reads back
        Path file = torchZip("valid.pt", stateDict(tensor("w", "FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {2, 1})),
                Map.of("0", FOUR_FLOATS));
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(file); PointerScope scope = new PointerScope()) {
            assertThat(ckpt.info("w").shape()).containsExactly(2, 2);
            assertThat(Tensors.toFloats(ckpt.tensor("w"))).containsExactly(1, 2, 3, 4);
        }
    }

    @Test void aNegativeDimensionIsNamed() throws IOException {
        Path file = torchZip("negative.pt", stateDict(tensor("blocks.0.attn.qkv.weight", "FloatStorage", "0", 4, 0,
                new long[] {-1, 4}, new long[] {4, 1})), Map.of("0", FOUR_FLOATS));
        assertRejected(file, "tensor 'blocks.0.attn.qkv.weight' size [-1, 4] has a negative entry -1 (negative dimension)");
    }

    @Test void dimensionsWhoseProductOverflowsAreNamed() throws IOException {
        long big = 1L << 40;
        Path file = torchZip("overflow.pt", stateDict(tensor("w", "FloatStorage", "0", 4, 0, new long[] {big, big},
                new long[] {big, 1})), Map.of("0", FOUR_FLOATS));
        assertRejected(file, "tensor 'w' of size [1099511627776, 1099511627776] and stride [1099511627776, 1] overflows 64-bit indexing");
        // a dimension beyond 64 bits (a 9-byte LONG1)
        Pickle huge = new Pickle().proto().emptyDict().mark().unicode("w")
                .global("torch._utils", "_rebuild_tensor_v2").mark()
                .storage("FloatStorage", "0", 4).integer(0)
                .mark().bigInteger(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 1}).op('t')
                .mark().integer(1).op('t')
                .op(0x89).global("collections", "OrderedDict").op(')').op('R')
                .op('t').op('R').op('u').op('.');
        Path file2 = torchZip("overflow2.pt", huge.bytes(), Map.of("0", FOUR_FLOATS));
        assertRejected(file2, "tensor 'w' size entry 0 is 18446744073709551616, which does not fit in 64 bits");
    }

    @Test void aStorageReadAsTwoDtypesIsNamed() throws IOException {
        byte[] pickle = stateDict(tensor("a", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}),
                tensor("b", "HalfStorage", "0", 8, 0, new long[] {8}, new long[] {1}));
        Path file = torchZip("two-dtypes.pt", pickle, Map.of("0", FOUR_FLOATS));
        assertRejected(file, "storage 0 is referenced as 4 F32 and as 8 F16");
    }

    @Test void aStorageWithoutItsRecordIsNamed() throws IOException {
        Path file = torchZip("no-record.pt", stateDict(tensor("w", "FloatStorage", "7", 4, 0, new long[] {4}, new long[] {1})),
                Map.of("0", FOUR_FLOATS));
        assertRejected(file, "storage 7 has no record archive/data/7");
    }

    @Test void aRecordRunningPastTheEndOfTheArchiveIsTruncatedData() throws IOException {
        Path file = torchZip("past-end.pt", stateDict(tensor("w", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})),
                Map.of("0", FOUR_FLOATS));
        byte[] zip = Files.readAllBytes(file);
        int central = centralHeader(zip, "archive/data/0");
        putInt(zip, central + 20, 1 << 20); // compressed size
        putInt(zip, central + 24, 1 << 20); // uncompressed size
        Files.write(file, zip);
        assertRejected(file, "zip record 'archive/data/0'", "runs past the archive's data: the file is truncated");
    }

    @Test void overlappingRecordsAreRefused() throws IOException {
        byte[] pickle = stateDict(tensor("a", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}),
                tensor("b", "FloatStorage", "1", 4, 0, new long[] {4}, new long[] {1}));
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("0", FOUR_FLOATS);
        records.put("1", floats(5, 6, 7, 8));
        Path file = torchZip("overlap.pt", pickle, records);
        byte[] zip = Files.readAllBytes(file);
        // the directory entry of data/1 points at data/0's local header: two names for the same bytes
        int local0 = getInt(zip, centralHeader(zip, "archive/data/0") + 42);
        putInt(zip, centralHeader(zip, "archive/data/1") + 42, local0);
        Files.write(file, zip);
        assertRejected(file, "zip records 'archive/data/0' and 'archive/data/1' overlap");
    }

    @Test void aCompressedStorageIsRefused() throws IOException {
        Path file = torchZip("deflated.pt", stateDict(tensor("w", "FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})),
                Map.of("0", FOUR_FLOATS), true);
        assertRejected(file, "storage record data/0 is compressed");
    }

    @Test void forbiddenGlobalsAreNamedWhateverOpcodeBringsThem() throws IOException {
        // STACK_GLOBAL (protocol 4's way) with builtins.eval, called on a string
        Pickle stackGlobal = new Pickle().proto().unicode("builtins").unicode("eval").op(0x93)
                .unicode("__import__('os').system('true')").op(0x85).op('R').op('.');
        Path file = torchZip("eval.pt", stackGlobal.bytes(), Map.of());
        assertRejected(file, "forbidden global 'builtins.eval'", "nothing is ever executed");
        // protocol 2's GLOBAL naming Python 2's builtins module
        Pickle global = new Pickle().proto().global("__builtin__", "getattr").op('.');
        Path file2 = torchZip("getattr.pt", global.bytes(), Map.of());
        assertRejected(file2, "forbidden global 'builtins.getattr'");
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    private static void assertRejected(Path file, String... fragments) {
        assertThatThrownBy(() -> TorchCheckpoint.open(file).close()).isInstanceOf(WeightFormatException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContainingAll(fragments)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        try (PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toFloats(Tensors.ofFloats(new float[] {1, 2}, 2).sum())).containsExactly(3f);
        }
    }

    /** One {@code key: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())} dict entry. */
    private record Entry(String key, String storageType, String storageKey, long numel, long offset, long[] size, long[] stride) {}

    private static Entry tensor(String key, String storageType, String storageKey, long numel, long offset, long[] size, long[] stride) {
        return new Entry(key, storageType, storageKey, numel, offset, size, stride);
    }

    /** {@code {key: tensor, ...}} as torch.save pickles a dict, protocol 2. */
    private static byte[] stateDict(Entry... entries) {
        Pickle p = new Pickle().proto().emptyDict().mark();
        for (Entry e : entries) {
            p.unicode(e.key).global("torch._utils", "_rebuild_tensor_v2").mark()
                    .storage(e.storageType, e.storageKey, e.numel).integer(e.offset)
                    .tuple(e.size).tuple(e.stride).op(0x89)
                    .global("collections", "OrderedDict").op(')').op('R')
                    .op('t').op('R');
        }
        return p.op('u').op('.').bytes();
    }

    private Path torchZip(String name, byte[] pickle, Map<String, byte[]> storages) throws IOException {
        return torchZip(name, pickle, storages, false);
    }

    /** A torch.save zip: archive/data.pkl, archive/data/<key> per storage, archive/version; stored unless deflate. */
    private Path torchZip(String name, byte[] pickle, Map<String, byte[]> storages, boolean deflate) throws IOException {
        Path file = dir.resolve(name);
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            put(zip, "archive/data.pkl", pickle, false);
            for (Map.Entry<String, byte[]> s : storages.entrySet()) put(zip, "archive/data/" + s.getKey(), s.getValue(), deflate);
            put(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII), false);
        }
        return file;
    }

    private static void put(ZipOutputStream zip, String name, byte[] data, boolean deflate) throws IOException {
        ZipEntry e = new ZipEntry(name);
        if (deflate) {
            e.setMethod(ZipEntry.DEFLATED);
        } else {
            CRC32 crc = new CRC32();
            crc.update(data);
            e.setMethod(ZipEntry.STORED);
            e.setSize(data.length);
            e.setCompressedSize(data.length);
            e.setCrc(crc.getValue());
        }
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** The offset of the central directory header of {@code name}. */
    private static int centralHeader(byte[] zip, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        for (int at = 0; at + 46 + n.length <= zip.length; at++) {
            if (getInt(zip, at) != 0x02014b50) continue;
            int len = (zip[at + 28] & 0xff) | (zip[at + 29] & 0xff) << 8;
            if (len == n.length && java.util.Arrays.equals(zip, at + 46, at + 46 + len, n, 0, len)) return at;
        }
        throw new AssertionError("no central header for " + name);
    }

    private static int getInt(byte[] b, int at) {
        return ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private static void putInt(byte[] b, int at, int v) {
        ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(v);
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    /** Pickle opcodes, protocol 2, as CPython's pickler writes them. */
    private static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int code) {
            out.write(code);
            return this;
        }

        Pickle proto() {
            return op(0x80).op(2);
        }

        Pickle emptyDict() {
            return op('}');
        }

        Pickle mark() {
            return op('(');
        }

        Pickle unicode(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
            out.writeBytes(b);
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        /** BININT1 / BININT (signed 32-bit) / LONG1, whichever fits, as pickle chooses. */
        Pickle integer(long v) {
            if (v >= 0 && v < 256) return op('K').op((int) v);
            if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');
                out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
                return this;
            }
            return bigInteger(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }

        /** LONG1 of little-endian two's-complement bytes. */
        Pickle bigInteger(byte[] littleEndian) {
            op(0x8a).op(littleEndian.length);
            out.writeBytes(littleEndian);
            return this;
        }

        Pickle tuple(long[] values) {
            mark();
            for (long v : values) integer(v);
            return op('t');
        }

        /** {@code BINPERSID ('storage', torch.<type>, key, 'cpu', numel)}. */
        Pickle storage(String type, String key, long numel) {
            return mark().unicode("storage").global("torch", type).unicode(key).unicode("cpu").integer(numel).op('t').op('Q');
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
