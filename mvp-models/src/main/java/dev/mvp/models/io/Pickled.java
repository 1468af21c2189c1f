package dev.mvp.models.io;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The Java values a restricted pickle ({@link TorchCheckpoint}) is read into. Nothing here runs Python code: a
 * pickled object is rebuilt as inert data.
 *
 * <table>
 *   <caption>Python value to Java value</caption>
 *   <tr><td>None, bool, int, float, str, bytes</td><td>{@code null}, {@link Boolean}, {@link Long} (or
 *       {@link java.math.BigInteger} beyond 64 bits), {@link Double}, {@link String}, {@code byte[]}</td></tr>
 *   <tr><td>list, dict / OrderedDict, set</td><td>mutable {@link java.util.ArrayList},
 *       {@link java.util.LinkedHashMap} (insertion order kept), {@link java.util.LinkedHashSet}</td></tr>
 *   <tr><td>tuple</td><td>{@link Tuple}</td></tr>
 *   <tr><td>tensor, parameter</td><td>{@link TensorRef} (a description; no data is read)</td></tr>
 *   <tr><td>an object of an allowlisted class</td><td>{@link Instance}: its class name, constructor arguments and
 *       {@code __dict__}</td></tr>
 * </table>
 * Pickles can share and even nest objects in cycles (a dict containing itself): walk them with a depth limit.
 */
public final class Pickled {
    private Pickled() {}

    /** A Python tuple. */
    public record Tuple(List<Object> items) {
        public Tuple {
            items = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(items));
        }

        public int size() {
            return items.size();
        }

        public Object get(int i) {
            return items.get(i);
        }
    }

    /** A reference to a module-level name ({@code collections.OrderedDict}), allowlisted, never imported. */
    public record Global(String module, String name) {
        /** {@code module.name}. */
        public String qualifiedName() {
            return module + "." + name;
        }

        @Override public String toString() {
            return qualifiedName();
        }
    }

    /**
     * An object of an allowlisted class rebuilt as data: what {@code __reduce__} gave (the class and its arguments)
     * and the state {@code BUILD} set (for ordinary objects their {@code __dict__}, a map).
     */
    public static final class Instance {
        private final String className;
        private final Tuple args;
        private Object state;

        Instance(String className, Tuple args) {
            this.className = className;
            this.args = args;
        }

        /** {@code module.Class}. */
        public String className() {
            return className;
        }

        /** The constructor arguments (often empty). */
        public Tuple args() {
            return args;
        }

        /** The state set by {@code BUILD} (usually the {@code __dict__} map), or null. */
        public Object state() {
            return state;
        }

        void setState(Object state) {
            this.state = state;
        }

        @Override public String toString() {
            return className + "(...)";
        }
    }

    /**
     * A storage: the tensor data stored under {@code key} ({@code data/<key>} in the zip format), {@code numel}
     * elements of {@code dtype}, saved from device {@code location} ({@code cpu}, {@code cuda:0}, ...).
     */
    public record Storage(String key, Dtype dtype, long numel, String location) {
        /** The storage's size in bytes (validated not to overflow when read). */
        public long byteSize() {
            return numel * dtype.size();
        }
    }

    /**
     * A tensor as {@code torch._utils._rebuild_tensor_v2} describes it: element {@code [i0, i1, ...]} is element
     * {@code offset + sum_k i_k * strides[k]} of {@code storage}. Validated when read: the dimensions and strides
     * are non-negative and every element lies inside the storage.
     */
    public record TensorRef(Storage storage, long offset, long[] shape, long[] strides, boolean requiresGrad) {
        public TensorRef {
            shape = shape.clone();
            strides = strides.clone();
        }

        @Override public long[] shape() {
            return shape.clone();
        }

        @Override public long[] strides() {
            return strides.clone();
        }

        /** Whether the elements are laid out row-major without gaps. */
        public boolean isContiguous() {
            return Arrays.equals(strides, MappedData.contiguousStrides(shape));
        }

        @Override public boolean equals(Object o) {
            return o instanceof TensorRef t && storage.equals(t.storage) && offset == t.offset
                    && Arrays.equals(shape, t.shape) && Arrays.equals(strides, t.strides) && requiresGrad == t.requiresGrad;
        }

        @Override public int hashCode() {
            return Objects.hash(storage, offset, Arrays.hashCode(shape), Arrays.hashCode(strides), requiresGrad);
        }

        @Override public String toString() {
            return "tensor " + storage.dtype() + " " + Arrays.toString(shape) + " of storage " + storage.key();
        }
    }
}
