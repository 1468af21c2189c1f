package dev.mvp.models.io;

import java.util.Arrays;

/**
 * One tensor's header entry, validated: its dtype, its shape and where its bytes are in the data area
 * ({@code [begin, end)}, relative to the first byte after the header; {@code end - begin = dtype size * numel}).
 */
public record TensorInfo(String name, Dtype dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    /** A copy of the shape. */
    @Override public long[] shape() {
        return shape.clone();
    }

    /** The number of elements (the product of the shape; 1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** The number of bytes, {@code end - begin}. */
    public long byteSize() {
        return end - begin;
    }

    @Override public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }

    @Override public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
