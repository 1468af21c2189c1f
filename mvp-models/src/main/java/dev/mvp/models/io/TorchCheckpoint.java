package dev.mvp.models.io;

import dev.mvp.models.io.Pickled.Global;
import dev.mvp.models.io.Pickled.Instance;
import dev.mvp.models.io.Pickled.Storage;
import dev.mvp.models.io.Pickled.TensorRef;
import dev.mvp.models.io.Pickled.Tuple;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code torch.save} checkpoint ({@code .pt}, {@code .pth}, {@code .bin}) read without executing anything: the
 * file is memory-mapped, its pickle is run by a restricted virtual machine that admits only the globals of a
 * {@link PickleAllowlist} (any other is refused with its name), and its tensors are zero-copy views of the storages.
 *
 * <p>Both formats are read:
 * <ul>
 *   <li><b>zip</b> (PyTorch 1.6 and later): {@code <archive>/data.pkl} and one record {@code <archive>/data/<key>} per
 *       storage. The zip directory is parsed in Java ({@link ZipDirectory}); storages must be stored uncompressed, as
 *       {@code torch.save} writes them.</li>
 *   <li><b>legacy</b> (before 1.6, or {@code _use_new_zipfile_serialization=False}): pickles of the magic number,
 *       protocol version and system info, the object, and the storage keys, then each storage as an 8-byte element
 *       count and its bytes. Big-endian files are refused.</li>
 * </ul>
 * Every storage reference is checked before any tensor is made: the record exists and holds exactly
 * {@code numel * element size} bytes, and every tensor's elements lie inside its storage.
 *
 * <p><b>The state dict.</b> The tensors this {@link Weights} exposes are one dict of the pickled object, chosen by a
 * key path ({@code teacher}, {@code model/state_dict}: keys joined by {@code /}). Empty, it picks the top level if
 * that is a state dict, else the first of {@link #USUAL_KEYS} that holds one. A pickled {@code nn.Module} (an
 * {@link Pickled.Instance} with {@code _parameters}, {@code _buffers} and {@code _modules}) is flattened as
 * {@code state_dict()} would: parameters, then persistent buffers, then children, names joined by dots.
 *
 * <p>Views are read-only memory and keep the file mapped until they are freed, as with {@link SafeTensorsFile}.
 */
public final class TorchCheckpoint implements Weights {

    /** Where state dicts live in the usual training checkpoints, tried in this order. */
    public static final List<String> USUAL_KEYS = List.of("state_dict", "model", "teacher", "module");

    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long LEGACY_PROTOCOL = 1001;
    private static final long MAX_PICKLE_BYTES = 1L << 30;
    private static final int MAX_DEPTH = 100;

    private final Path path;
    private final String format;
    private final MappedData data;
    private final Object root;
    private final String keyPath;
    private final Map<String, TensorRef> tensors;
    /** File offset of each storage's first byte, by storage key. */
    private final Map<String, Long> storageOffsets;

    private TorchCheckpoint(Path path, String format, MappedData data, Object root, String keyPath,
                            Map<String, TensorRef> tensors, Map<String, Long> storageOffsets) {
        this.path = path;
        this.format = format;
        this.data = data;
        this.root = root;
        this.keyPath = keyPath;
        this.tensors = tensors;
        this.storageOffsets = storageOffsets;
    }

    /** {@link #open(Path, String, PickleAllowlist)} with the state dict found automatically and the default allowlist. */
    public static TorchCheckpoint open(Path path) {
        return open(path, "");
    }

    /** {@link #open(Path, String, PickleAllowlist)} with {@link PickleAllowlist#STATE_DICTS}. */
    public static TorchCheckpoint open(Path path, String keyPath) {
        return open(path, keyPath, PickleAllowlist.STATE_DICTS);
    }

    /**
     * Opens, checks and maps a {@code torch.save} file and selects its state dict.
     *
     * @param keyPath   where the state dict is ({@code teacher}, {@code model/state_dict}); empty to search (see the
     *                  class comment)
     * @param allowlist the globals the pickle may reference
     * @throws WeightFormatException one line naming the file and the problem: a forbidden global, a corrupt or
     *                               truncated file, a storage of the wrong size, no state dict at the key path
     */
    public static TorchCheckpoint open(Path path, String keyPath, PickleAllowlist allowlist) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MappedData data = MappedData.map(path, channel, 0, channel.size());
            try {
                MemorySegment file = data.segment();
                boolean zip = file.byteSize() >= 4 && file.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0) == 0x04034b50;
                Parsed parsed = zip ? readZip(path, file, allowlist) : readLegacy(path, file, allowlist);
                Selected selected = select(path, parsed.root, keyPath);
                return new TorchCheckpoint(path, zip ? "torch.save zip" : "torch.save legacy", data, parsed.root,
                        selected.keyPath, selected.tensors, parsed.storageOffsets);
            } catch (RuntimeException e) {
                data.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", path, e), e);
        }
    }

    /** The whole pickled object, as {@link Pickled} describes. */
    public Object root() {
        return root;
    }

    /** The key path of the state dict this exposes ({@code ""}: the top level). */
    public String keyPath() {
        return keyPath;
    }

    @Override public Path path() {
        return path;
    }

    @Override public String format() {
        return format;
    }

    @Override public Set<String> names() {
        return tensors.keySet();
    }

    @Override public TensorInfo info(String name) {
        TensorRef t = ref(name);
        return new TensorInfo(name, t.storage().dtype(), t.shape());
    }

    /** How tensor {@code name} lies in its storage. */
    public TensorRef ref(String name) {
        TensorRef t = tensors.get(name);
        if (t == null) {
            throw WeightFormatException.of(path, name, "missing (the state dict" + (keyPath.isEmpty() ? "" : " at '" + keyPath + "'")
                    + " has " + tensors.size() + " tensors)");
        }
        return t;
    }

    /**
     * A zero-copy view of tensor {@code name} (with its saved strides), or a copy when its storage is misaligned or it
     * has no elements. Read-only memory: see the class comment.
     */
    @Override public Tensor tensor(String name) {
        TensorRef t = ref(name);
        Dtype dtype = t.storage().dtype();
        long offset = storageOffsets.get(t.storage().key()) + t.offset() * dtype.size();
        return data.view(offset, dtype, t.shape(), t.strides());
    }

    /** Requests the unmap: done now if no view is alive, else when the last one is freed. Idempotent. */
    @Override public void close() {
        data.close();
    }

    /** Whether the file is still mapped. */
    public boolean isMapped() {
        return data.isMapped();
    }

    @Override public String toString() {
        return "TorchCheckpoint(" + path + (keyPath.isEmpty() ? "" : " at '" + keyPath + "'") + ", " + tensors.size() + " tensors)";
    }

    // ---- zip format ---------------------------------------------------------------------------------------------------

    private record Parsed(Object root, Map<String, Long> storageOffsets) {}

    private static Parsed readZip(Path path, MemorySegment file, PickleAllowlist allowlist) {
        ZipDirectory zip = ZipDirectory.read(path, file);
        String first = zip.entries().keySet().stream().findFirst().orElseThrow(
                () -> WeightFormatException.of(path, "empty zip archive: not a torch.save checkpoint"));
        String prefix = first.contains("/") ? first.substring(0, first.indexOf('/') + 1) : "";
        ZipDirectory.Entry pickle = zip.entries().get(prefix + "data.pkl");
        if (pickle == null) {
            throw WeightFormatException.of(path, "zip archive without " + prefix + "data.pkl: not a torch.save checkpoint");
        }
        ZipDirectory.Entry byteorder = zip.entries().get(prefix + "byteorder");
        if (byteorder != null && !new String(zip.read(byteorder, 16), StandardCharsets.US_ASCII).equals("little")) {
            throw WeightFormatException.of(path, "saved on a big-endian machine: not supported");
        }
        Map<String, Storage> storages = new HashMap<>();
        Map<String, Long> offsets = new HashMap<>();
        Unpickler.PersistentLoader loader = pid -> {
            Storage s = storageOf(pid, 5, "storage");
            ZipDirectory.Entry record = zip.entries().get(prefix + "data/" + s.key());
            if (record == null) throw new Unpickler.Refusal("storage " + s.key() + " has no record " + prefix + "data/" + s.key());
            if (record.method() != ZipDirectory.STORED) {
                throw new Unpickler.Refusal("storage record data/" + s.key() + " is compressed (torch.save stores them "
                        + "uncompressed; re-save the file with torch.save)");
            }
            if (record.size() != s.byteSize()) {
                throw new Unpickler.Refusal("storage " + s.key() + " holds " + s.numel() + " " + s.dtype() + " elements ("
                        + s.byteSize() + " bytes) but its record data/" + s.key() + " has " + record.size() + " bytes");
            }
            offsets.put(s.key(), record.dataOffset());
            return shared(storages, s);
        };
        MemorySegment bytes = MemorySegment.ofArray(zip.read(pickle, MAX_PICKLE_BYTES));
        Object root = run(path, prefix + "data.pkl", new Unpickler(bytes, 0, bytes.byteSize(), allowlist, loader));
        return new Parsed(root, Collections.unmodifiableMap(offsets));
    }

    // ---- legacy format ------------------------------------------------------------------------------------------------

    private static Parsed readLegacy(Path path, MemorySegment file, PickleAllowlist allowlist) {
        long size = file.byteSize();
        Unpickler.PersistentLoader none = pid -> {
            throw new Unpickler.Refusal("unexpected persistent id " + Unpickler.describe(pid));
        };
        Unpickler header = new Unpickler(file, 0, size, allowlist, none);
        Object magic = run(path, "pickle", header);
        if (!(magic instanceof BigInteger b && b.equals(LEGACY_MAGIC))) {
            throw WeightFormatException.of(path, "a pickle that does not start with torch.save's magic number: not a "
                    + "PyTorch checkpoint");
        }
        Unpickler protocolPickle = new Unpickler(file, header.position(), size, allowlist, none);
        Object protocol = run(path, "pickle", protocolPickle);
        if (!Long.valueOf(LEGACY_PROTOCOL).equals(protocol)) {
            throw WeightFormatException.of(path, "legacy torch.save protocol " + protocol + " (only " + LEGACY_PROTOCOL + " is read)");
        }
        Unpickler sysInfo = new Unpickler(file, protocolPickle.position(), size, allowlist, none);
        if (!(run(path, "pickle", sysInfo) instanceof Map<?, ?> info) || !Boolean.TRUE.equals(info.get("little_endian"))) {
            throw WeightFormatException.of(path, "saved on a big-endian machine (or without system info): not supported");
        }
        Map<String, Storage> storages = new LinkedHashMap<>();
        Unpickler.PersistentLoader loader = pid -> {
            if (pid instanceof Tuple t && t.size() == 4 && "module".equals(t.get(0)) && t.get(1) instanceof Global g) {
                return g; // a module class with its source code, kept for warnings by torch: the class only
            }
            Storage s = storageOf(pid, 6, "storage");
            if (((Tuple) pid).get(5) != null) {
                throw new Unpickler.Refusal("storage " + s.key() + " is a view of another storage (PyTorch 0.3 files): not supported");
            }
            return shared(storages, s);
        };
        Unpickler main = new Unpickler(file, sysInfo.position(), size, allowlist, loader);
        Object root = run(path, "pickle", main);
        Unpickler keysPickle = new Unpickler(file, main.position(), size, allowlist, none);
        if (!(run(path, "pickle", keysPickle) instanceof List<?> keys)) {
            throw WeightFormatException.of(path, "legacy checkpoint without its list of storage keys: truncated or corrupt");
        }
        Map<String, Long> offsets = new HashMap<>();
        long pos = keysPickle.position();
        for (Object k : keys) {
            Storage s = storages.get(String.valueOf(k));
            if (s == null || offsets.containsKey(s.key())) {
                throw WeightFormatException.of(path, "legacy storage list names " + Unpickler.describe(k) + ", which the "
                        + "object " + (s == null ? "never uses" : "lists twice"));
            }
            if (pos > size - 8) throw WeightFormatException.of(path, "storage " + s.key() + " is missing: the file is truncated");
            long numel = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
            if (numel != s.numel()) {
                throw WeightFormatException.of(path, "storage " + s.key() + " has " + numel + " elements in the file but "
                        + s.numel() + " in its reference");
            }
            if (s.byteSize() > size - pos - 8) {
                throw WeightFormatException.of(path, "storage " + s.key() + " (" + s.byteSize() + " bytes) runs past the "
                        + "end of the file: truncated");
            }
            offsets.put(s.key(), pos + 8);
            pos += 8 + s.byteSize();
        }
        if (offsets.size() != storages.size()) {
            throw WeightFormatException.of(path, (storages.size() - offsets.size()) + " storages have no data: truncated or corrupt");
        }
        if (pos != size) throw WeightFormatException.of(path, (size - pos) + " bytes after the last storage: corrupt");
        return new Parsed(root, Collections.unmodifiableMap(offsets));
    }

    // ---- shared -------------------------------------------------------------------------------------------------------

    private static Object run(Path path, String what, Unpickler unpickler) {
        try {
            return unpickler.load();
        } catch (Unpickler.Refusal e) {
            throw WeightFormatException.of(path, what + " byte " + unpickler.opcodeOffset() + ": " + e.getMessage());
        }
    }

    /** {@code ('storage', storage_type, key, location, numel[, view])}, checked. */
    private static Storage storageOf(Object pid, int length, String kind) {
        if (!(pid instanceof Tuple t) || t.size() != length || !kind.equals(t.get(0))) {
            throw new Unpickler.Refusal("persistent id " + Unpickler.describe(pid) + " is not a " + length + "-field storage reference");
        }
        if (!(t.get(1) instanceof Global type) || PickleAllowlist.storageDtype(type.qualifiedName()) == null) {
            throw new Unpickler.Refusal("storage type " + Unpickler.describe(t.get(1)) + " is not a known storage class");
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String location)
                || !(t.get(4) instanceof Long numel) || numel < 0) {
            throw new Unpickler.Refusal("storage reference " + Unpickler.describe(t.get(2)) + " has malformed fields");
        }
        Dtype dtype = PickleAllowlist.storageDtype(type.qualifiedName());
        try {
            Math.multiplyExact(numel, dtype.size());
        } catch (ArithmeticException e) {
            throw new Unpickler.Refusal("storage " + key + " of " + numel + " elements overflows a 64-bit byte count");
        }
        return new Storage(key, dtype, numel, location);
    }

    private static Storage shared(Map<String, Storage> storages, Storage s) {
        Storage known = storages.putIfAbsent(s.key(), s);
        if (known != null && !known.equals(s)) {
            throw new Unpickler.Refusal("storage " + s.key() + " is referenced as " + known.numel() + " " + known.dtype()
                    + " and as " + s.numel() + " " + s.dtype());
        }
        return known != null ? known : s;
    }

    // ---- selecting the state dict -------------------------------------------------------------------------------------

    private record Selected(String keyPath, Map<String, TensorRef> tensors) {}

    private static Selected select(Path path, Object root, String keyPath) {
        if (!keyPath.isEmpty()) {
            Object node = root;
            StringBuilder walked = new StringBuilder();
            for (String key : keyPath.split("/")) {
                Map<?, ?> map = attributes(node);
                if (map == null || !map.containsKey(key)) {
                    throw WeightFormatException.of(path, "no key '" + key + "' at "
                            + (walked.isEmpty() ? "the top level" : "'" + walked + "'") + " (" + keysOf(node) + ")");
                }
                node = map.get(key);
                walked.append(walked.isEmpty() ? "" : "/").append(key);
            }
            Map<String, TensorRef> tensors = stateDict(path, node);
            if (tensors == null) {
                throw WeightFormatException.of(path, "'" + keyPath + "' is " + Unpickler.describe(node) + " without tensors, not a state dict ("
                        + keysOf(node) + ")");
            }
            return new Selected(keyPath, tensors);
        }
        Map<String, TensorRef> top = stateDict(path, root);
        if (top != null) return new Selected("", top);
        if (root instanceof Map<?, ?> map) {
            for (String key : USUAL_KEYS) {
                Map<String, TensorRef> tensors = map.containsKey(key) ? stateDict(path, map.get(key)) : null;
                if (tensors != null) return new Selected(key, tensors);
            }
        }
        throw WeightFormatException.of(path, "no state dict at the top level nor under " + USUAL_KEYS + " (" + keysOf(root)
                + "): name the one to use with a key path");
    }

    /** The map a key path step looks into: a dict, or an object's attributes. */
    private static Map<?, ?> attributes(Object node) {
        if (node instanceof Map<?, ?> m) return m;
        if (node instanceof Instance i && i.state() instanceof Map<?, ?> m) return m;
        return null;
    }

    private static String keysOf(Object node) {
        Map<?, ?> map = attributes(node);
        if (map == null) return "it is " + Unpickler.describe(node);
        List<String> keys = new ArrayList<>();
        for (Object k : map.keySet()) {
            if (keys.size() == 12) {
                keys.add("...");
                break;
            }
            keys.add(String.valueOf(k));
        }
        return "keys: " + String.join(", ", keys);
    }

    /**
     * The tensors of {@code node} by name if it is a state dict (string keys, at least one tensor; other values are
     * skipped) or a pickled {@code nn.Module}; null otherwise.
     */
    private static Map<String, TensorRef> stateDict(Path path, Object node) {
        if (node instanceof Instance instance && isModule(instance)) {
            Map<String, TensorRef> out = new LinkedHashMap<>();
            flattenModule(path, instance, "", out, 0);
            return out.isEmpty() ? null : Collections.unmodifiableMap(out);
        }
        if (!(node instanceof Map<?, ?> map)) return null;
        Map<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getKey() instanceof String name)) return null;
            if (e.getValue() instanceof TensorRef t) out.put(name, t);
        }
        return out.isEmpty() ? null : Collections.unmodifiableMap(out);
    }

    private static boolean isModule(Instance i) {
        return i.state() instanceof Map<?, ?> s && s.get("_parameters") instanceof Map<?, ?>
                && s.get("_modules") instanceof Map<?, ?>;
    }

    /** {@code nn.Module.state_dict()}: parameters, persistent buffers, then children. */
    private static void flattenModule(Path path, Instance module, String prefix, Map<String, TensorRef> out, int depth) {
        if (depth > MAX_DEPTH) throw WeightFormatException.of(path, "modules nested deeper than " + MAX_DEPTH + " at '" + prefix + "'");
        Map<?, ?> state = (Map<?, ?>) module.state();
        addTensors(path, state.get("_parameters"), Set.of(), prefix, out, module);
        Set<?> transient_ = state.get("_non_persistent_buffers_set") instanceof Set<?> s ? s : Set.of();
        addTensors(path, state.get("_buffers"), transient_, prefix, out, module);
        for (Map.Entry<?, ?> e : ((Map<?, ?>) state.get("_modules")).entrySet()) {
            if (e.getValue() == null) continue;
            if (!(e.getValue() instanceof Instance child) || !isModule(child)) {
                throw WeightFormatException.of(path, "submodule '" + prefix + e.getKey() + "' of " + module.className()
                        + " is " + Unpickler.describe(e.getValue()) + ", not a module");
            }
            flattenModule(path, child, prefix + e.getKey() + ".", out, depth + 1);
        }
    }

    private static void addTensors(Path path, Object dict, Set<?> skip, String prefix, Map<String, TensorRef> out, Instance owner) {
        if (dict == null) return;
        if (!(dict instanceof Map<?, ?> map)) {
            throw WeightFormatException.of(path, owner.className() + " at '" + prefix + "' has parameters " + Unpickler.describe(dict));
        }
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (e.getValue() == null || skip.contains(e.getKey())) continue;
            if (!(e.getValue() instanceof TensorRef t)) {
                throw WeightFormatException.of(path, prefix + e.getKey(), "is " + Unpickler.describe(e.getValue()) + ", not a tensor");
            }
            out.put(prefix + e.getKey(), t);
        }
    }
}
