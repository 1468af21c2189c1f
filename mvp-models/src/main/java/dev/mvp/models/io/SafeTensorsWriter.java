package dev.mvp.models.io;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes tensors to a safetensors file, atomically, laid out byte for byte as the reference writer
 * (huggingface/safetensors {@code serialize_to_file}) lays them out: tensors ordered by dtype alignment (largest
 * first) then name, so every tensor's data is aligned to its element size; compact JSON header with
 * {@code __metadata__} first (keys sorted), padded with spaces to a multiple of 8 bytes.
 *
 * <p>Atomic: the bytes go to a temporary file in the target's folder, which is fsynced and then renamed over the
 * target; a crash leaves either the old file or the new one, never a half-written one.
 */
public final class SafeTensorsWriter {
    private static final JsonMapper JSON = new JsonMapper();
    private static final int CHUNK = 1 << 30;

    private SafeTensorsWriter() {}

    /** As {@link #write(Path, Map, Map)} without metadata. */
    public static void write(Path path, Map<String, Tensor> tensors) {
        write(path, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (any device, any layout: copied to contiguous CPU memory as needed; the caller keeps
     * ownership) and {@code metadata} to {@code path}, replacing it atomically.
     *
     * @throws IllegalArgumentException if a tensor's dtype has no safetensors equivalent, or a name is reserved
     * @throws UncheckedIOException     if the file cannot be written
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Objects.requireNonNull(path, "path");
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            List<Entry> entries = new ArrayList<>();
            tensors.forEach((name, t) -> entries.add(Entry.of(name, t)));
            entries.sort(Comparator.comparing((Entry e) -> e.dtype).reversed().thenComparing(e -> e.name));
            byte[] header = header(entries, metadata);
            writeAtomically(path, header, entries);
        }
    }

    /** The JSON header, space-padded to a multiple of 8 bytes, as the reference writer produces it. */
    static byte[] header(List<Entry> entries, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode info = root.putObject(e.name);
            info.put("dtype", e.dtype.name());
            ArrayNode shape = info.putArray("shape");
            for (long d : e.shape) shape.add(d);
            info.putArray("data_offsets").add(offset).add(offset + e.bytes);
            offset += e.bytes;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeAtomically(Path path, byte[] header, List<Entry> entries) {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IOException(dir + " is not a folder");
            Files.createDirectories(dir);
            FileChannel created = null;
            // not Files.createTempFile: its file is 0600 whatever the umask, and the move keeps that mode; a file
            // created here gets the usual mode (0666 less the umask, e.g. 0644), as the run's JSON files do
            java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
            for (int attempt = 0; created == null; attempt++) {
                Path candidate = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(random.nextLong(), 36) + ".tmp");
                try {
                    created = FileChannel.open(candidate, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW);
                    tmp = candidate;
                } catch (java.nio.file.FileAlreadyExistsException e) {
                    if (attempt >= 100) throw e;
                }
            }
            try (FileChannel out = created) {
                writeAll(out, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
                writeAll(out, ByteBuffer.wrap(header));
                for (Entry e : entries) {
                    if (e.bytes == 0) continue;
                    MemorySegment bytes = MemorySegment.ofAddress(e.data.data_ptr().address()).reinterpret(e.bytes);
                    for (long at = 0; at < e.bytes; at += CHUNK) {
                        writeAll(out, bytes.asSlice(at, Math.min(CHUNK, e.bytes - at)).asByteBuffer());
                    }
                }
                out.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
            syncDirectory(dir);
        } catch (IOException e) {
            String why = tmp == null ? dev.mvp.api.io.AtomicFiles.reason(e) : dev.mvp.api.io.AtomicFiles.reasonAbout(tmp, e);
            throw new UncheckedIOException("cannot write " + path + ": " + why, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more
                }
            }
        }
    }

    private static void writeAll(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) out.write(buffer);
    }

    /** Makes the rename durable (POSIX); some platforms cannot open a folder, which is harmless there. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not supported on this platform
        }
    }

    /** A tensor ready to write: contiguous CPU data (kept alive by the caller's scope) and its header fields. */
    record Entry(String name, Dtype dtype, long[] shape, long bytes, Tensor data) {
        static Entry of(String name, Tensor t) {
            Objects.requireNonNull(name, "tensor name");
            Objects.requireNonNull(t, () -> "tensor '" + name + "'");
            if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved, not a tensor name");
            Dtype dtype = Dtype.of(t.scalar_type()).orElseThrow(() -> new IllegalArgumentException(
                    "tensor '" + name + "': dtype " + t.scalar_type() + " has no safetensors equivalent"));
            Tensor data = t.detach().to(ComputeDevice.CPU.torchDevice(), t.scalar_type()).contiguous();
            return new Entry(name, dtype, Tensors.shape(t), data.nbytes(), data);
        }
    }
}
