package dev.mvp.models.io;

import java.util.Arrays;

/**
 * What a weight file says about one tensor before it is read: its name, element type and shape. Safe to ask for
 * without touching native code ({@link Weights#info}).
 */
public record TensorInfo(String name, Dtype dtype, long[] shape) {

    public TensorInfo {
        shape = shape.clone();
    }

    /** A copy of the shape. */
    @Override public long[] shape() {
        return shape.clone();
    }

    /** The number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** The number of elements (the product of the shape; 1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** The number of bytes of the elements, {@code numel() * dtype().size()}. */
    public long byteSize() {
        return numel() * dtype.size();
    }

    /** Whether the elements are floating point (any width). */
    public boolean isFloatingPoint() {
        return dtype.isFloatingPoint();
    }

    @Override public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }

    /** {@code name F32 [2, 3]}. */
    @Override public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
