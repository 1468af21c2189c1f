package dev.mvp.data;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Decodes JPEGs with the system's libjpeg-turbo through its TurboJPEG API ({@code libturbojpeg.so.0}, Debian's
 * {@code libturbojpeg0}), called with {@code java.lang.foreign}; every other format goes to {@link ImageIoDecoder}.
 *
 * <p>PIL decodes JPEGs with libjpeg-turbo too (Debian's PIL with the same library build), with the same settings
 * TurboJPEG uses by default (accurate integer IDCT, fancy upsampling), so the pixels equal PIL's
 * {@code convert('RGB')} bit for bit, 4:4:0 chroma subsampling included (where {@link ImageIoDecoder}, on the JDK's
 * libjpeg 6b, differs by a few levels). CMYK and YCCK JPEGs are decoded to CMYK by libjpeg and converted as PIL does
 * ({@link JpegColor}). A JPEG whose data ends early is an error ("truncated"), as in PIL; other libjpeg warnings are
 * ignored, as PIL ignores them. EXIF orientation is applied unless turned off, as in {@link ImageIoDecoder}.
 *
 * <p>Measured on imagenet-sample (docs/DATA.md): three times the images per CPU-second of {@link ImageIoDecoder}.
 * The library is a system package, not a Maven artifact: {@link #available()} says whether it could be loaded, and
 * {@link ImageDecoders#fastest()} falls back to {@link ImageIoDecoder} without it.
 *
 * <p>Thread-safe: each call makes its own TurboJPEG handle and frees it before returning. The file's bytes and the
 * pixels stay on the Java heap and are handed to libjpeg-turbo directly ({@link Linker.Option#critical} downcalls:
 * the garbage collector waits for the few milliseconds of a decode).
 */
public final class TurboJpegDecoder implements ImageDecoder {
    private static final int TJPF_RGB = 0, TJPF_CMYK = 11;
    private static final int TJERR_WARNING = 0;

    private final ImageIoDecoder others;
    private final long maxPixels;
    private final boolean exifOrientation;

    /** A decoder with {@link ImageIoDecoder}'s defaults (EXIF orientation applied, PIL's pixel limit). */
    public TurboJpegDecoder() {
        this(ImageIoDecoder.PIL_MAX_PIXELS, true);
    }

    /**
     * @param maxPixels       images with more pixels are refused (at most {@link ImageIoDecoder#PIL_MAX_PIXELS})
     * @param exifOrientation whether to turn images upright by their EXIF orientation
     * @throws IllegalStateException if libturbojpeg cannot be loaded (see {@link #unavailableReason()})
     */
    public TurboJpegDecoder(long maxPixels, boolean exifOrientation) {
        this.others = new ImageIoDecoder(maxPixels, exifOrientation);
        this.maxPixels = maxPixels;
        this.exifOrientation = exifOrientation;
        if (Native.PROBLEM != null) throw new IllegalStateException("libjpeg-turbo is not usable: " + Native.PROBLEM);
    }

    /** True if libturbojpeg was found and loaded. */
    public static boolean available() {
        return Native.PROBLEM == null;
    }

    /** Why libturbojpeg cannot be used, if it cannot. */
    public static Optional<String> unavailableReason() {
        return Optional.ofNullable(Native.PROBLEM);
    }

    @Override public RgbImage decode(Path file) throws DecodeException {
        return decode(ImageIoDecoder.readFile(file), file);
    }

    /**
     * Decodes an image held in memory.
     *
     * @param source names the image in error messages
     */
    public RgbImage decode(byte[] bytes, Path source) throws DecodeException {
        if (!ImageIoDecoder.isJpeg(bytes)) return others.decode(bytes, source);
        RgbImage image = decodeJpeg(bytes, source);
        return exifOrientation ? ExifOrientation.apply(image, ExifOrientation.ofJpeg(bytes)) : image;
    }

    private RgbImage decodeJpeg(byte[] bytes, Path source) throws DecodeException {
        JpegColor color = JpegColor.of(bytes);
        if (color == null) throw new DecodeException(source, "JPEG with a component count PIL cannot convert to RGB");
        try {
            MemorySegment handle = (MemorySegment) Native.INIT_DECOMPRESS.invokeExact();
            if (handle.equals(MemorySegment.NULL)) throw new DecodeException(source, "libjpeg-turbo could not make a decompressor");
            try {
                // heap memory handed to libjpeg-turbo directly (critical downcalls): no native copies of the file or
                // the pixels; the calls are short and never call back into Java
                MemorySegment jpeg = MemorySegment.ofArray(bytes);
                int[] dimsArray = new int[4];
                MemorySegment dims = MemorySegment.ofArray(dimsArray);
                int rc = (int) Native.DECOMPRESS_HEADER.invokeExact(handle, jpeg, (long) bytes.length,
                        dims, dims.asSlice(4), dims.asSlice(8), dims.asSlice(12));
                if (rc != 0) throw new DecodeException(source, failure(handle, "corrupt JPEG"));
                int width = dimsArray[0], height = dimsArray[1];
                if (width < 1 || height < 1) throw new DecodeException(source, "image has no pixels (" + width + "x" + height + ")");
                long pixels = (long) width * height;
                if (pixels > maxPixels) {
                    throw new DecodeException(source, "image too large: " + width + "x" + height + " = " + pixels
                            + " pixels, more than the limit of " + maxPixels);
                }
                boolean cmyk = color == JpegColor.CMYK || color == JpegColor.YCCK;
                int bands = cmyk ? 4 : 3;
                byte[] samples = new byte[Math.multiplyExact(bands, Math.toIntExact(pixels))];
                MemorySegment out = MemorySegment.ofArray(samples);
                rc = (int) Native.DECOMPRESS.invokeExact(handle, jpeg, (long) bytes.length, out, width, 0, height,
                        cmyk ? TJPF_CMYK : TJPF_RGB, 0);
                if (rc != 0) {
                    String message = errorString(handle);
                    boolean warning = (int) Native.GET_ERROR_CODE.invokeExact(handle) == TJERR_WARNING;
                    String m = message.toLowerCase(Locale.ROOT);
                    if (!warning) throw new DecodeException(source, (m.contains("premature end") ? "truncated" : "corrupt") + " JPEG (" + message + ")");
                    // PIL fails when libjpeg runs out of data ("image file is truncated") and ignores other warnings.
                    if (m.contains("premature end")) throw new DecodeException(source, "truncated JPEG (" + message + ")");
                }
                if (!cmyk) return new RgbImage(width, height, samples);
                byte[] rgb = new byte[Math.multiplyExact(3, Math.toIntExact(pixels))];
                JpegColor.CMYK.toRgb(samples, 4, (int) pixels, rgb);
                return new RgbImage(width, height, rgb);
            } finally {
                int ignored = (int) Native.DESTROY.invokeExact(handle);
            }
        } catch (DecodeException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("libjpeg-turbo call failed", t);
        }
    }

    private static String failure(MemorySegment handle, String what) throws Throwable {
        return what + " (" + errorString(handle) + ")";
    }

    private static String errorString(MemorySegment handle) throws Throwable {
        MemorySegment s = (MemorySegment) Native.GET_ERROR_STR.invokeExact(handle);
        if (s.equals(MemorySegment.NULL)) return "unknown error";
        return s.reinterpret(1024).getString(0).strip();
    }

    @Override public String toString() {
        return "TurboJpegDecoder[libturbojpeg.so.0, exif " + exifOrientation + "]";
    }

    /** The TurboJPEG functions, bound once; {@link #PROBLEM} says why not when the library is missing. */
    private static final class Native {
        static final String PROBLEM;
        static final MethodHandle INIT_DECOMPRESS, DECOMPRESS_HEADER, DECOMPRESS, GET_ERROR_STR, GET_ERROR_CODE, DESTROY;

        static {
            String problem = null;
            MethodHandle init = null, header = null, decompress = null, errorStr = null, errorCode = null, destroy = null;
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup lib = SymbolLookup.libraryLookup("libturbojpeg.so.0", Arena.global());
                ValueLayout ptr = ValueLayout.ADDRESS, i32 = ValueLayout.JAVA_INT, ulong = ValueLayout.JAVA_LONG;
                Linker.Option heap = Linker.Option.critical(true);
                init = linker.downcallHandle(lib.findOrThrow("tjInitDecompress"), FunctionDescriptor.of(ptr));
                header = linker.downcallHandle(lib.findOrThrow("tjDecompressHeader3"),
                        FunctionDescriptor.of(i32, ptr, ptr, ulong, ptr, ptr, ptr, ptr), heap);
                decompress = linker.downcallHandle(lib.findOrThrow("tjDecompress2"),
                        FunctionDescriptor.of(i32, ptr, ptr, ulong, ptr, i32, i32, i32, i32, i32), heap);
                errorStr = linker.downcallHandle(lib.findOrThrow("tjGetErrorStr2"), FunctionDescriptor.of(ptr, ptr));
                errorCode = linker.downcallHandle(lib.findOrThrow("tjGetErrorCode"), FunctionDescriptor.of(i32, ptr));
                destroy = linker.downcallHandle(lib.findOrThrow("tjDestroy"), FunctionDescriptor.of(i32, ptr));
            } catch (IllegalArgumentException | java.util.NoSuchElementException | IllegalCallerException e) {
                problem = "libturbojpeg.so.0 not found or incomplete (" + e.getMessage()
                        + "); on Debian: apt-get install libturbojpeg0";
            }
            PROBLEM = problem;
            INIT_DECOMPRESS = init;
            DECOMPRESS_HEADER = header;
            DECOMPRESS = decompress;
            GET_ERROR_STR = errorStr;
            GET_ERROR_CODE = errorCode;
            DESTROY = destroy;
        }
    }
}
