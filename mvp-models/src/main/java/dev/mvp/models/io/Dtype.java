package dev.mvp.models.io;

import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Optional;

/**
 * The element types of the safetensors format that libtorch can hold, named as in the file header.
 *
 * <p>Declared in the reference implementation's order (the Rust crate's {@code Dtype}, "increasing alignment"), which
 * {@link SafeTensorsWriter} uses to lay tensors out exactly as the reference writer does. The format's packed 4- and
 * 6-bit types and complex types have no libtorch counterpart here and are rejected as unknown.
 */
public enum Dtype {
    BOOL(1, ScalarType.Bool),
    U8(1, ScalarType.Byte),
    I8(1, ScalarType.Char),
    F8_E5M2(1, ScalarType.Float8_e5m2),
    F8_E4M3(1, ScalarType.Float8_e4m3fn),
    I16(2, ScalarType.Short),
    U16(2, ScalarType.UInt16),
    F16(2, ScalarType.Half),
    BF16(2, ScalarType.BFloat16),
    I32(4, ScalarType.Int),
    U32(4, ScalarType.UInt32),
    F32(4, ScalarType.Float),
    F64(8, ScalarType.Double),
    I64(8, ScalarType.Long),
    U64(8, ScalarType.UInt64);

    private final int size;
    private final ScalarType scalarType;

    Dtype(int size, ScalarType scalarType) {
        this.size = size;
        this.scalarType = scalarType;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether the elements are floating point numbers. */
    public boolean isFloatingPoint() {
        return switch (this) {
            case F8_E5M2, F8_E4M3, F16, BF16, F32, F64 -> true;
            default -> false;
        };
    }

    /** The libtorch element type. */
    public ScalarType scalarType() {
        return scalarType;
    }

    /** The dtype named {@code name} in a header ({@code "F32"}, {@code "BF16"}, ...), if known. */
    public static Optional<Dtype> parse(String name) {
        for (Dtype d : values()) if (d.name().equals(name)) return Optional.of(d);
        return Optional.empty();
    }

    /** The dtype that stores libtorch's {@code type}, if the format has one. */
    public static Optional<Dtype> of(ScalarType type) {
        // javacpp returns enums from native calls as fresh objects: compare canonical constants
        ScalarType canonical = type.intern();
        for (Dtype d : values()) if (d.scalarType == canonical) return Optional.of(d);
        return Optional.empty();
    }
}
