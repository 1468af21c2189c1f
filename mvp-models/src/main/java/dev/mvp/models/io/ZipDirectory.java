package dev.mvp.models.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip archive in memory (a mapped file), read and checked in Java so that a record's
 * bytes can be viewed where they lie: the end-of-central-directory record (zip64 too), every central header, and
 * every local header, with each record's data inside the file, before the central directory, and not overlapping
 * another record. Encrypted records are refused; stored and deflated ones are readable.
 */
final class ZipDirectory {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int EOCD = 0x06054b50, ZIP64_EOCD = 0x06064b50, ZIP64_LOCATOR = 0x07064b50;
    private static final int CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
    static final int STORED = 0, DEFLATED = 8;

    /** One record: its data is {@code compressedSize} bytes at {@code dataOffset} of the file. */
    record Entry(String name, int method, long compressedSize, long size, long crc, long dataOffset) {}

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Entry> entries;

    private ZipDirectory(Path path, MemorySegment file, Map<String, Entry> entries) {
        this.path = path;
        this.file = file;
        this.entries = entries;
    }

    /** The records by name, in central-directory order. */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Reads the directory of the zip archive {@code file}.
     *
     * @throws WeightFormatException naming the file and what is wrong with its structure
     */
    static ZipDirectory read(Path path, MemorySegment file) {
        long size = file.byteSize();
        long eocd = -1;
        for (long at = size - 22; at >= Math.max(0, size - 22 - 0xffff); at--) {
            if (file.get(U32, at) == EOCD) {
                eocd = at;
                break;
            }
        }
        if (eocd < 0) throw WeightFormatException.of(path, "zip archive without an end-of-central-directory record: truncated");
        long count = u16(file, eocd + 10), cdSize = u32(file, eocd + 12), cdOffset = u32(file, eocd + 16);
        long directoryEnd = eocd;
        if (eocd >= 20 && file.get(U32, eocd - 20) == ZIP64_LOCATOR) {
            long z = file.get(U64, eocd - 20 + 8);
            if (z < 0 || z > eocd - 20 - 56 || file.get(U32, z) != ZIP64_EOCD) {
                throw WeightFormatException.of(path, "zip64 end-of-central-directory record is missing or misplaced");
            }
            count = file.get(U64, z + 32);
            cdSize = file.get(U64, z + 40);
            cdOffset = file.get(U64, z + 48);
            directoryEnd = z;
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > directoryEnd || cdSize > directoryEnd - cdOffset) {
            throw WeightFormatException.of(path, "zip central directory [" + cdOffset + ", +" + cdSize
                    + ") lies outside the file: truncated or corrupt");
        }
        if (count < 0 || count > cdSize / 46) {
            throw WeightFormatException.of(path, "zip directory claims " + count + " records in " + cdSize + " bytes");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        long at = cdOffset;
        for (long i = 0; i < count; i++) {
            Entry e = central(path, file, at, cdOffset + cdSize, cdOffset);
            if (entries.put(e.name(), e) != null) throw WeightFormatException.of(path, "zip record '" + e.name() + "' appears twice");
            at += 46 + u16(file, at + 28) + u16(file, at + 30) + u16(file, at + 32);
        }
        checkNoOverlap(path, entries);
        return new ZipDirectory(path, file, Collections.unmodifiableMap(entries));
    }

    /**
     * The bytes of a (small) record, inflated if deflated, with its CRC checked.
     *
     * @throws WeightFormatException if the record is corrupt or larger than {@code limit} bytes
     */
    byte[] read(Entry e, long limit) {
        if (e.size() > limit) {
            throw WeightFormatException.of(path, "zip record '" + e.name() + "' is " + e.size() + " bytes (at most " + limit + " expected)");
        }
        MemorySegment data = file.asSlice(e.dataOffset(), e.compressedSize());
        byte[] out;
        if (e.method() == STORED) {
            out = data.toArray(ValueLayout.JAVA_BYTE);
        } else {
            out = new byte[(int) e.size()];
            Inflater inflater = new Inflater(true);
            try {
                inflater.setInput(data.asByteBuffer());
                int n = inflater.inflate(out);
                if (n != out.length || !inflater.finished()) {
                    throw WeightFormatException.of(path, "zip record '" + e.name() + "' inflates to a size other than the declared " + e.size());
                }
            } catch (DataFormatException ex) {
                throw WeightFormatException.of(path, "zip record '" + e.name() + "' is corrupt (" + ex.getMessage() + ")");
            } finally {
                inflater.end();
            }
        }
        CRC32 crc = new CRC32();
        crc.update(out);
        if (crc.getValue() != e.crc()) throw WeightFormatException.of(path, "zip record '" + e.name() + "' fails its CRC check: corrupt");
        return out;
    }

    private static Entry central(Path path, MemorySegment file, long at, long cdEnd, long dataLimit) {
        if (at > cdEnd - 46 || file.get(U32, at) != CENTRAL) {
            throw WeightFormatException.of(path, "zip central directory is corrupt at byte " + at);
        }
        int flags = u16(file, at + 8), method = u16(file, at + 10);
        long crc = u32(file, at + 16), csize = u32(file, at + 20), usize = u32(file, at + 24);
        int nameLen = u16(file, at + 28), extraLen = u16(file, at + 30), commentLen = u16(file, at + 32);
        long local = u32(file, at + 42);
        if (at + 46 + nameLen + extraLen + commentLen > cdEnd) {
            throw WeightFormatException.of(path, "zip central directory is corrupt at byte " + at);
        }
        String name = new String(file.asSlice(at + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        // zip64 extra field: the 64-bit values of the fields saturated at 0xffffffff, in this order
        for (long x = at + 46 + nameLen, xEnd = x + extraLen; x + 4 <= xEnd; ) {
            int id = u16(file, x), len = u16(file, x + 2);
            if (x + 4 + len > xEnd) break;
            if (id == 1) {
                long v = x + 4, vEnd = v + len;
                if (usize == 0xffffffffL && v + 8 <= vEnd) { usize = file.get(U64, v); v += 8; }
                if (csize == 0xffffffffL && v + 8 <= vEnd) { csize = file.get(U64, v); v += 8; }
                if (local == 0xffffffffL && v + 8 <= vEnd) local = file.get(U64, v);
            }
            x += 4 + len;
        }
        if ((flags & 1) != 0) throw WeightFormatException.of(path, "zip record '" + name + "' is encrypted");
        if (method != STORED && method != DEFLATED) {
            throw WeightFormatException.of(path, "zip record '" + name + "' uses compression method " + method + " (stored and deflate are read)");
        }
        if (csize < 0 || usize < 0 || (method == STORED && csize != usize) || usize > Integer.MAX_VALUE && method != STORED) {
            throw WeightFormatException.of(path, "zip record '" + name + "' has inconsistent sizes " + csize + " / " + usize);
        }
        if (local < 0 || local > dataLimit - 30 || file.get(U32, local) != LOCAL) {
            throw WeightFormatException.of(path, "zip record '" + name + "': local header missing at byte " + local);
        }
        long data = local + 30 + u16(file, local + 26) + u16(file, local + 28);
        if (data > dataLimit || csize > dataLimit - data) {
            throw WeightFormatException.of(path, "zip record '" + name + "' [" + data + ", +" + csize + ") runs past the "
                    + "archive's data: the file is truncated");
        }
        return new Entry(name, method, csize, usize, crc, data);
    }

    private static void checkNoOverlap(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::dataOffset));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1), b = sorted.get(i);
            if (a.dataOffset() + a.compressedSize() > b.dataOffset()) {
                throw WeightFormatException.of(path, "zip records '" + a.name() + "' and '" + b.name() + "' overlap");
            }
        }
    }

    private static int u16(MemorySegment f, long at) {
        return f.get(U16, at) & 0xffff;
    }

    private static long u32(MemorySegment f, long at) {
        return f.get(U32, at) & 0xffffffffL;
    }
}
