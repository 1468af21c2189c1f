package dev.mvp.api;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Small, unambiguous helpers around the bytedeco tensor API (whose varargs overloads are easy to misuse: see
 * docs/LIBTORCH-NOTES.md). Every returned tensor is owned by the caller and lives in the caller's
 * {@link org.bytedeco.javacpp.PointerScope}, if any.
 */
public final class Tensors {
    private Tensors() {}

    /** The shape of {@code t} as a Java array. */
    public static long[] shape(Tensor t) {
        return t.sizes().vec().get();
    }

    /** A new float32 CPU tensor holding a copy of {@code data} with the given shape. */
    public static Tensor ofFloats(float[] data, long... shape) {
        Torch.init();
        checkCount(data.length, shape);
        try (FloatPointer p = new FloatPointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Float)).clone();
        }
    }

    /** A new int64 CPU tensor holding a copy of {@code data} with the given shape. */
    public static Tensor ofLongs(long[] data, long... shape) {
        Torch.init();
        checkCount(data.length, shape);
        try (LongPointer p = new LongPointer(data)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Long)).clone();
        }
    }

    /** A new bool CPU tensor with the given shape ({@code data} row-major). */
    public static Tensor ofBooleans(boolean[] data, long... shape) {
        Torch.init();
        checkCount(data.length, shape);
        byte[] bytes = new byte[data.length];
        for (int i = 0; i < data.length; i++) bytes[i] = (byte) (data[i] ? 1 : 0);
        try (org.bytedeco.javacpp.BytePointer p = new org.bytedeco.javacpp.BytePointer(bytes)) {
            return torch.from_blob(p, shape, new TensorOptions(ScalarType.Bool)).clone();
        }
    }

    /** The values of {@code t} (any float dtype, any device) as a row-major float32 Java array. */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(ComputeDevice.CPU.torchDevice(), ScalarType.Float).contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        new FloatPointer(c.data_ptr_float()).capacity(out.length).get(out);
        return out;
    }

    /** The values of {@code t} (any integer dtype) as a row-major int64 Java array. */
    public static long[] toLongs(Tensor t) {
        Tensor c = t.detach().to(ComputeDevice.CPU.torchDevice(), ScalarType.Long).contiguous();
        long[] out = new long[Math.toIntExact(c.numel())];
        new LongPointer(c.data_ptr_long()).capacity(out.length).get(out);
        return out;
    }

    /** The values of a bool tensor, row-major. */
    public static boolean[] toBooleans(Tensor t) {
        long[] v = toLongs(t);
        boolean[] out = new boolean[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] != 0;
        return out;
    }

    /** A libtorch scalar. */
    public static Scalar scalar(double v) {
        return new Scalar(v);
    }

    /** Zeros of the given shape, float32 on CPU. */
    public static Tensor zeros(long... shape) {
        Torch.init();
        return torch.zeros(shape, new TensorOptions(ScalarType.Float));
    }

    /** Standard-normal values of the given shape, float32 on CPU, from libtorch's default generator. */
    public static Tensor randn(long... shape) {
        Torch.init();
        return torch.randn(shape, new TensorOptions(ScalarType.Float));
    }

    /** The shape as {@code [a, b, c]}, for messages. */
    public static String shapeString(Tensor t) {
        return java.util.Arrays.toString(shape(t));
    }

    private static void checkCount(int n, long[] shape) {
        long prod = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + java.util.Arrays.toString(shape));
            prod = Math.multiplyExact(prod, d);
        }
        if (prod != n) {
            throw new IllegalArgumentException(n + " values do not fill shape " + java.util.Arrays.toString(shape));
        }
    }
}
