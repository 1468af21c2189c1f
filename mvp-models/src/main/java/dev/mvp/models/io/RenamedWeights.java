package dev.mvp.models.io;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Another naming of the tensors of a {@link Weights}: what key-layout adapters produce (Hugging Face's CLIP names
 * mapped onto OpenAI's, for instance). Each entry is a source tensor under a new name, or a tensor derived from
 * several (three q, k, v projections concatenated into one) computed when asked for. Closing this closes the source.
 */
public final class RenamedWeights implements Weights {
    private final Weights source;
    private final String format;
    private final Map<String, Entry> entries;

    private record Entry(TensorInfo info, Function<Weights, Tensor> make) {}

    private RenamedWeights(Weights source, String format, Map<String, Entry> entries) {
        this.source = source;
        this.format = format;
        this.entries = entries;
    }

    /** A builder of a renaming of {@code source} (which the result owns). */
    public static Builder of(Weights source) {
        return new Builder(source);
    }

    /** The weights this renames. */
    public Weights source() {
        return source;
    }

    @Override public Path path() {
        return source.path();
    }

    @Override public String format() {
        return format;
    }

    @Override public Set<String> names() {
        return entries.keySet();
    }

    @Override public TensorInfo info(String name) {
        return entry(name).info();
    }

    @Override public Tensor tensor(String name) {
        return entry(name).make().apply(source);
    }

    @Override public void close() {
        source.close();
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw WeightFormatException.of(source.path(), name, "missing (after renaming to " + format + ")");
        return e;
    }

    /** Collects the entries, in order. */
    public static final class Builder {
        private final Weights source;
        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private String format;

        private Builder(Weights source) {
            this.source = source;
            this.format = source.format();
        }

        /**
         * Exposes source tensor {@code sourceName} as {@code name}.
         *
         * @throws WeightFormatException if the source has no such tensor
         */
        public Builder rename(String sourceName, String name) {
            TensorInfo info = source.info(sourceName);
            return put(name, new Entry(new TensorInfo(name, info.dtype(), info.shape()), w -> w.tensor(sourceName)));
        }

        /**
         * Exposes, as {@code name}, a tensor of {@code dtype} and {@code shape} that {@code make} computes from the
         * source (a new tensor in the caller's scope).
         */
        public Builder derive(String name, Dtype dtype, long[] shape, Function<Weights, Tensor> make) {
            return put(name, new Entry(new TensorInfo(name, dtype, shape), make));
        }

        /** How the result describes its format, e.g. {@code "torch.save zip, Hugging Face CLIP layout"}. */
        public Builder format(String description) {
            this.format = description;
            return this;
        }

        public RenamedWeights build() {
            return new RenamedWeights(source, format, Collections.unmodifiableMap(new LinkedHashMap<>(entries)));
        }

        private Builder put(String name, Entry e) {
            if (entries.putIfAbsent(name, e) != null) throw new IllegalArgumentException("'" + name + "' is mapped twice");
            return this;
        }
    }
}
