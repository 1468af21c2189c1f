package dev.mvp.models.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A safetensors file, memory-mapped read-only, whose tensors are read as zero-copy libtorch views.
 *
 * <p>The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {@code {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}}, then
 * the data area (offsets relative to its first byte, little-endian, row-major).
 *
 * <p>{@link #open} validates the whole header in Java before anything reaches native code, with the reference
 * implementation's rules (huggingface/safetensors): header at most 100 MB and inside the file, strict UTF-8 JSON,
 * no duplicate names, known dtypes, non-negative dimensions whose byte count does not overflow, each tensor's
 * {@code end - begin} equal to dtype size times element count, and the tensors, sorted by offset, tiling the data
 * area exactly: no overlap, <b>no gap</b> and no trailing bytes (what every conforming writer produces; a gap would
 * be unreadable bytes a malicious file could hide anything in). Every violation is a {@link WeightFormatException}
 * with one line naming the file, the tensor and the problem.
 *
 * <p>Lifetime: {@link #tensor(String)} returns a view over the mapping, made with {@code from_blob} and a deleter
 * that libtorch calls when the view's storage dies (the view and every tensor derived from it without copying).
 * {@link #close()} unmaps only once the last view is gone, so a view can never outlive its mapping. Release views
 * promptly (a {@link org.bytedeco.javacpp.PointerScope}): an open view keeps the whole file mapped.
 *
 * <p><b>Views are read-only memory.</b> An in-place operation on a view ({@code add_}, {@code copy_} into it, an
 * optimizer step on a parameter that shares its storage) writes into a read-only mapping and kills the JVM with
 * SIGSEGV. Views are returned with {@code requires_grad} false; copy them into parameters
 * ({@code param.copy_(view)}, as {@link StateDict#load} does) or ask for a copy with {@link #tensor(String, ScalarType)}.
 *
 * <p>Thread-safe: tensors may be read from several threads; {@link #close()} may race with view releases.
 */
public final class SafeTensorsFile implements Weights {

    /** The reference implementation's limit on the header size. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String METADATA_KEY = "__metadata__";
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final Map<String, Slot> tensors;
    private final Map<String, String> metadata;
    private final long headerLength;
    private final MappedData data;

    private SafeTensorsFile(Path path, Header header, long headerLength, MappedData data) {
        this.path = path;
        this.tensors = header.tensors;
        this.metadata = header.metadata;
        this.headerLength = headerLength;
        this.data = data;
    }

    /**
     * Opens and validates {@code path} and maps its data area.
     *
     * @throws WeightFormatException if the file is not a valid safetensors file
     * @throws UncheckedIOException  if it cannot be read
     */
    public static SafeTensorsFile open(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long fileSize = channel.size();
            if (fileSize < 8) {
                throw WeightFormatException.of(path, "only " + fileSize + " bytes, too short for a safetensors file "
                        + "(it starts with an 8-byte header length)");
            }
            long n = readFully(channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw WeightFormatException.of(path, "header length " + Long.toUnsignedString(n) + " exceeds the "
                        + "format's limit of " + MAX_HEADER_BYTES + " bytes: not a safetensors file");
            }
            if (n > fileSize - 8) {
                throw WeightFormatException.of(path, "header length " + n + " runs past the end of the file ("
                        + fileSize + " bytes): truncated, or not a safetensors file");
            }
            long dataSize = fileSize - 8 - n;
            Header header = Header.parse(path, readFully(channel, 8, (int) n), dataSize);
            return new SafeTensorsFile(path, header, n, MappedData.map(path, channel, 8 + n, dataSize));
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", path, e), e);
        }
    }

    @Override public Path path() {
        return path;
    }

    @Override public String format() {
        return "safetensors";
    }

    /** The tensor names, in data-offset order. */
    @Override public Set<String> names() {
        return tensors.keySet();
    }

    @Override public TensorInfo info(String name) {
        return slot(name).info;
    }

    /** All header entries, in data-offset order. */
    public List<TensorInfo> infos() {
        return tensors.values().stream().map(Slot::info).toList();
    }

    /**
     * Where tensor {@code name}'s bytes are: {@code [begin, end)} relative to the first byte of the data area, which
     * starts at file offset {@code 8 + headerLength()}.
     */
    public long[] dataOffsets(String name) {
        Slot slot = slot(name);
        return new long[] {slot.begin, slot.end};
    }

    /** The {@code __metadata__} map (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The size of the JSON header in bytes (the data area starts at {@code 8 + headerLength()}). */
    public long headerLength() {
        return headerLength;
    }

    /**
     * A zero-copy CPU view of tensor {@code name}, with the file's dtype and shape. Read-only memory: see the class
     * comment. The view belongs to the caller's scope; the mapping stays alive until it (and everything sharing its
     * storage) is freed. A tensor whose data is not aligned to its element size (no conforming writer produces that)
     * or that has no elements is returned as a copy.
     *
     * @throws WeightFormatException if there is no such tensor
     * @throws IllegalStateException if the file was closed
     */
    @Override public Tensor tensor(String name) {
        Slot slot = slot(name);
        return data.view(slot.begin, slot.info.dtype(), slot.info.shape(), null);
    }

    /** Requests the unmap: done now if no view is alive, else when libtorch frees the last one. Idempotent. */
    @Override public void close() {
        data.close();
    }

    /** Views currently alive (for tests and diagnostics). */
    int liveViews() {
        return data.liveViews();
    }

    /** Whether the data area is still mapped. */
    public boolean isMapped() {
        return data.isMapped();
    }

    @Override public String toString() {
        return "SafeTensorsFile(" + path + ", " + tensors.size() + " tensors)";
    }

    private Slot slot(String name) {
        Slot slot = tensors.get(name);
        if (slot == null) throw WeightFormatException.of(path, name, "missing (the file has " + tensors.size() + " tensors)");
        return slot;
    }

    /** A validated header entry: the tensor and where its bytes are in the data area. */
    private record Slot(TensorInfo info, long begin, long end) {
        String name() {
            return info.name();
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) throw new EOFException("file shrank while reading");
        }
        return buffer.flip();
    }

    /** The parsed, validated header: tensors in data-offset order, and the metadata. */
    private record Header(Map<String, Slot> tensors, Map<String, String> metadata) {

        static Header parse(Path path, ByteBuffer bytes, long dataSize) {
            JsonNode root = parseJson(path, bytes);
            if (!root.isObject()) throw WeightFormatException.of(path, "header is not a JSON object");
            Map<String, String> metadata = Map.of();
            List<Slot> infos = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                if (entry.getKey().equals(METADATA_KEY)) {
                    metadata = parseMetadata(path, entry.getValue());
                } else {
                    infos.add(parseEntry(path, entry.getKey(), entry.getValue()));
                }
            }
            infos.sort(Comparator.comparingLong(Slot::begin).thenComparingLong(Slot::end));
            Map<String, Slot> tensors = new LinkedHashMap<>();
            long expected = 0;
            Slot previous = null;
            for (Slot t : infos) {
                if (t.end() > dataSize) {
                    throw WeightFormatException.of(path, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                            + "] run past the end of the data area (" + dataSize + " bytes): the file is truncated");
                }
                if (t.begin() < expected) {
                    throw WeightFormatException.of(path, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                            + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]");
                }
                if (t.begin() > expected) {
                    throw WeightFormatException.of(path, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                            + "] leave a gap of " + (t.begin() - expected) + " bytes before it (tensors must tile the data area)");
                }
                tensors.put(t.name(), t);
                expected = t.end();
                previous = t;
            }
            if (expected != dataSize) {
                throw WeightFormatException.of(path, (dataSize - expected) + " bytes after the last tensor's data are not "
                        + "covered by any tensor (tensors must tile the data area)");
            }
            return new Header(Collections.unmodifiableMap(tensors), metadata);
        }

        private static JsonNode parseJson(Path path, ByteBuffer bytes) {
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
            } catch (CharacterCodingException e) {
                throw WeightFormatException.of(path, "header is not valid UTF-8: not a safetensors file");
            }
            try {
                return JSON.readTree(text);
            } catch (JacksonException e) {
                String reason = e.getOriginalMessage().lines().findFirst().orElse("");
                throw WeightFormatException.of(path, "header is not valid JSON (" + reason + " at character "
                        + (e.getLocation() == null ? "?" : e.getLocation().getCharOffset()) + ")");
            }
        }

        private static Map<String, String> parseMetadata(Path path, JsonNode node) {
            if (!node.isObject()) throw WeightFormatException.of(path, "__metadata__ is not a JSON object");
            Map<String, String> metadata = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    throw WeightFormatException.of(path, "__metadata__ value of '" + e.getKey() + "' is not a string");
                }
                metadata.put(e.getKey(), e.getValue().textValue());
            }
            return Collections.unmodifiableMap(metadata);
        }

        private static Slot parseEntry(Path path, String name, JsonNode node) {
            if (!node.isObject()) throw WeightFormatException.of(path, name, "entry is not a JSON object");
            JsonNode dtypeNode = node.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw WeightFormatException.of(path, name, "no \"dtype\" string");
            }
            Dtype dtype = Dtype.parse(dtypeNode.textValue()).orElseThrow(() -> WeightFormatException.of(path, name,
                    "unknown dtype \"" + dtypeNode.textValue() + "\" (known: " + Arrays.toString(Dtype.values()) + ")"));

            long[] shape = nonNegativeLongs(path, name, node.get("shape"), "shape", -1);
            long[] offsets = nonNegativeLongs(path, name, node.get("data_offsets"), "data_offsets", 2);
            long begin = offsets[0], end = offsets[1];
            if (end < begin) {
                throw WeightFormatException.of(path, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
            }
            long bytes;
            try {
                long numel = 1;
                for (long d : shape) numel = Math.multiplyExact(numel, d);
                bytes = Math.multiplyExact(numel, dtype.size());
            } catch (ArithmeticException e) {
                throw WeightFormatException.of(path, name, "shape " + Arrays.toString(shape) + " of " + dtype
                        + " overflows a 64-bit byte count");
            }
            if (end - begin != bytes) {
                throw WeightFormatException.of(path, name, "shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                        + bytes + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
            }
            return new Slot(new TensorInfo(name, dtype, shape), begin, end);
        }

        /** An array of non-negative 64-bit integers, of length {@code length} unless that is -1. */
        private static long[] nonNegativeLongs(Path path, String name, JsonNode node, String field, int length) {
            if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
                throw WeightFormatException.of(path, name, "\"" + field + "\" is not an array of "
                        + (length >= 0 ? length + " " : "") + "integers");
            }
            long[] values = new long[node.size()];
            for (int i = 0; i < values.length; i++) {
                JsonNode v = node.get(i);
                if (!v.isIntegralNumber()) {
                    throw WeightFormatException.of(path, name, "\"" + field + "\" holds " + v + ", not an integer");
                }
                if (v.canConvertToLong() && v.longValue() < 0) {
                    throw WeightFormatException.of(path, name, "\"" + field + "\" holds a negative value " + v
                            + ("shape".equals(field) ? " (negative dimension)" : ""));
                }
                if (!v.canConvertToLong()) {
                    throw WeightFormatException.of(path, name, "\"" + field + "\" value " + v + " does not fit in 64 bits");
                }
                values[i] = v.longValue();
            }
            return values;
        }
    }
}
