package dev.mvp.data;

import com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReaderSpi;
import com.twelvemonkeys.imageio.stream.ByteArrayImageInputStream;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Decodes JPEG and PNG files (and GIF, BMP, TIFF) to the pixels PIL's {@code Image.open(f).convert('RGB')} gives,
 * the decode of torchvision's ImageFolder loader. The format is decided by the file's first bytes, never by its name.
 *
 * <ul>
 *   <li>JPEG (baseline, progressive, grayscale, CMYK, YCCK) through TwelveMonkeys' reader, which tolerates broken
 *       metadata and hands over the decoded components (libjpeg, IDCT "islow", fancy upsampling, as PIL's
 *       libjpeg-turbo). The components are turned into RGB exactly as libjpeg and PIL do ({@link JpegColor}): equal
 *       to PIL bit for bit, except for the rare 4:4:0 chroma subsampling, which libjpeg-turbo upsamples smoothly and
 *       the JDK's libjpeg by replication. Embedded ICC profiles are ignored, as in PIL. A JPEG whose data ends early
 *       is an error ("truncated"), as in PIL.</li>
 *   <li>PNG through the JDK's reader: palette, grey, grey+alpha, RGB and RGBA at any bit depth. Alpha is dropped
 *       (no compositing, as PIL's {@code convert('RGB')}); 16-bit samples keep their high byte, as PIL does for
 *       RGB. Deviation: PIL clips 16-bit grey to 255 (it goes through mode "I"); here it keeps the high byte too.</li>
 *   <li>Grey images come out with three equal channels.</li>
 *   <li>The EXIF orientation of a JPEG (APP1) or PNG ({@code eXIf}) is applied, as PIL's
 *       {@code ImageOps.exif_transpose}, unless turned off: torchvision's loader itself does not apply it, so
 *       {@code new ImageIoDecoder(maxPixels, false)} gives exactly its pixels for rotated photos.</li>
 * </ul>
 * Thread-safe; each call uses its own reader.
 */
public final class ImageIoDecoder implements ImageDecoder {

    /** PIL's decompression-bomb error threshold, {@code 2 * Image.MAX_IMAGE_PIXELS}. */
    public static final long PIL_MAX_PIXELS = 2L * 89_478_485;

    private static final ImageReaderSpi JPEG = jpegReaderProvider();
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    private final long maxPixels;
    private final boolean exifOrientation;

    /** A decoder that applies EXIF orientation and refuses images larger than {@link #PIL_MAX_PIXELS}. */
    public ImageIoDecoder() {
        this(PIL_MAX_PIXELS);
    }

    /** A decoder that applies EXIF orientation and refuses images of more than {@code maxPixels} pixels. */
    public ImageIoDecoder(long maxPixels) {
        this(maxPixels, true);
    }

    /**
     * @param maxPixels       images with more pixels are refused (at most {@link #PIL_MAX_PIXELS})
     * @param exifOrientation whether to turn images upright by their EXIF orientation
     */
    public ImageIoDecoder(long maxPixels, boolean exifOrientation) {
        if (maxPixels < 1 || maxPixels > PIL_MAX_PIXELS) {
            throw new IllegalArgumentException("maxPixels must be in [1, " + PIL_MAX_PIXELS + "], got " + maxPixels);
        }
        this.maxPixels = maxPixels;
        this.exifOrientation = exifOrientation;
    }

    /** Whether EXIF orientation is applied. */
    public boolean exifOrientation() {
        return exifOrientation;
    }

    @Override public RgbImage decode(Path file) throws DecodeException {
        return decode(readFile(file), file);
    }

    /** The bytes of {@code file}, or a {@link DecodeException} saying why they cannot be read. */
    static byte[] readFile(Path file) throws DecodeException {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 16) throw new DecodeException(file, "file too large (" + size + " bytes)");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new DecodeException(file, "no such file", e);
        } catch (AccessDeniedException e) {
            throw new DecodeException(file, "permission denied", e);
        } catch (IOException e) {
            throw new DecodeException(file, "cannot read: " + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
        }
        return bytes;
    }

    /**
     * Decodes an image held in memory.
     *
     * @param source names the image in error messages
     */
    public RgbImage decode(byte[] bytes, Path source) throws DecodeException {
        if (bytes.length == 0) throw new DecodeException(source, "empty file (0 bytes)");
        try {
            if (isJpeg(bytes)) {
                RgbImage image = decodeJpeg(bytes, source);
                return exifOrientation ? ExifOrientation.apply(image, ExifOrientation.ofJpeg(bytes)) : image;
            }
            String format = otherFormat(bytes);
            if (format == null) {
                throw new DecodeException(source, "not a JPEG or PNG image (nor GIF, BMP, TIFF); it starts with "
                        + firstBytes(bytes));
            }
            RgbImage image = decodeWithImageIo(bytes, source, format);
            return exifOrientation && format.equals("PNG") ? ExifOrientation.apply(image, ExifOrientation.ofPng(bytes)) : image;
        } catch (IOException | RuntimeException e) {
            // ImageIO readers report bad data with IIOException but also with unchecked exceptions.
            throw new DecodeException(source, failure(e, bytes), e);
        }
    }

    private RgbImage decodeJpeg(byte[] bytes, Path source) throws IOException, DecodeException {
        JpegColor color = JpegColor.of(bytes);
        if (color == null) throw new DecodeException(source, "JPEG with a component count PIL cannot convert to RGB");
        ImageReader reader = JPEG.createReaderInstance();
        List<String> warnings = new ArrayList<>(2);
        reader.addIIOReadWarningListener((r, warning) -> warnings.add(warning));
        try (ImageInputStream in = new ByteArrayImageInputStream(bytes)) {
            reader.setInput(in, true, true);
            int width = reader.getWidth(0), height = reader.getHeight(0);
            checkSize(width, height, source);
            Raster raster = reader.readRaster(0, null);
            for (String warning : warnings) {
                String w = warning.toLowerCase(Locale.ROOT);
                // PIL fails when libjpeg runs out of data ("image file is truncated"), even for a missing EOI only.
                if (w.contains("missing eoi") || w.contains("premature end of jpeg file")) {
                    throw new DecodeException(source, "truncated JPEG (" + warning + ")");
                }
            }
            int bands = raster.getNumBands();
            if (bands != color.components) {
                throw new DecodeException(source, "JPEG decoded to " + bands + " components for colour space " + color);
            }
            byte[] rgb = new byte[3 * width * height];
            color.toRgb(interleavedBytes(raster), bands, width * height, rgb);
            return new RgbImage(width, height, rgb);
        } finally {
            reader.dispose();
        }
    }

    private RgbImage decodeWithImageIo(byte[] bytes, Path source, String format) throws IOException, DecodeException {
        try (ImageInputStream in = new ByteArrayImageInputStream(bytes)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new DecodeException(source, "no reader for this " + format + " file");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int width = reader.getWidth(0), height = reader.getHeight(0);
                checkSize(width, height, source);
                return new RgbImage(width, height, toRgb(reader.read(0)));
            } finally {
                reader.dispose();
            }
        }
    }

    /** True if {@code bytes} start like a JPEG file (SOI and a marker). */
    static boolean isJpeg(byte[] bytes) {
        return bytes.length >= 3 && (bytes[0] & 0xFF) == 0xFF && (bytes[1] & 0xFF) == 0xD8 && (bytes[2] & 0xFF) == 0xFF;
    }

    void checkSize(int width, int height, Path source) throws DecodeException {
        if (width < 1 || height < 1) throw new DecodeException(source, "image has no pixels (" + width + "x" + height + ")");
        long pixels = (long) width * height;
        if (pixels > maxPixels) {
            throw new DecodeException(source, "image too large: " + width + "x" + height + " = " + pixels
                    + " pixels, more than the limit of " + maxPixels);
        }
    }

    /** The raster's samples as one interleaved byte array, without a copy when already laid out that way. */
    private static byte[] interleavedBytes(Raster raster) {
        int w = raster.getWidth(), h = raster.getHeight(), bands = raster.getNumBands();
        if (raster.getDataBuffer() instanceof DataBufferByte buffer && buffer.getNumBanks() == 1
                && raster.getSampleModel() instanceof PixelInterleavedSampleModel sm
                && sm.getPixelStride() == bands && sm.getScanlineStride() == w * bands
                && raster.getSampleModelTranslateX() == 0 && raster.getSampleModelTranslateY() == 0
                && buffer.getOffset() == 0 && isIdentity(sm.getBandOffsets())) {
            return buffer.getData();
        }
        byte[] out = new byte[w * h * bands];
        int[] row = new int[w * bands];
        for (int y = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            for (int i = 0; i < row.length; i++) out[y * row.length + i] = (byte) row[i];
        }
        return out;
    }

    private static boolean isIdentity(int[] offsets) {
        for (int i = 0; i < offsets.length; i++) if (offsets[i] != i) return false;
        return true;
    }

    /** PIL's {@code convert('RGB')} of what the JDK's PNG/GIF/BMP/TIFF readers return. */
    static byte[] toRgb(BufferedImage image) {
        int w = image.getWidth(), h = image.getHeight();
        byte[] out = new byte[3 * w * h];
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        int x0 = raster.getMinX(), y0 = raster.getMinY();
        if (cm instanceof IndexColorModel icm) {
            int n = icm.getMapSize();
            byte[] r = new byte[n], g = new byte[n], b = new byte[n];
            icm.getReds(r);
            icm.getGreens(g);
            icm.getBlues(b);
            int[] row = new int[w];
            for (int y = 0, o = 0; y < h; y++) {
                raster.getSamples(x0, y0 + y, w, 1, 0, row);
                for (int x = 0; x < w; x++, o += 3) {
                    int i = row[x] < n ? row[x] : 0;
                    out[o] = r[i];
                    out[o + 1] = g[i];
                    out[o + 2] = b[i];
                }
            }
        } else if (cm instanceof ComponentColorModel && isGrayOrRgb(cm)
                && (cm.getTransferType() == DataBuffer.TYPE_BYTE || cm.getTransferType() == DataBuffer.TYPE_USHORT)) {
            // Raw samples: the colour model's getRGB would map grey through a linear-to-sRGB curve.
            int bands = raster.getNumBands();
            boolean gray = cm.getNumColorComponents() == 1;
            int shift = cm.getComponentSize(0) - 8;
            int[] row = new int[w * bands];
            for (int y = 0, o = 0; y < h; y++) {
                raster.getPixels(x0, y0 + y, w, 1, row);
                for (int x = 0, s = 0; x < w; x++, s += bands, o += 3) {
                    out[o] = (byte) (row[s] >> shift);
                    out[o + 1] = (byte) (row[gray ? s : s + 1] >> shift);
                    out[o + 2] = (byte) (row[gray ? s : s + 2] >> shift);
                }
            }
        } else {
            int[] argb = new int[w];
            for (int y = 0, o = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, argb, 0, w);
                for (int x = 0; x < w; x++, o += 3) {
                    out[o] = (byte) (argb[x] >> 16);
                    out[o + 1] = (byte) (argb[x] >> 8);
                    out[o + 2] = (byte) argb[x];
                }
            }
        }
        return out;
    }

    private static boolean isGrayOrRgb(ColorModel cm) {
        int type = cm.getColorSpace().getType();
        int bits = cm.getComponentSize(0);
        return (type == ColorSpace.TYPE_GRAY || type == ColorSpace.TYPE_RGB) && (bits == 8 || bits == 16);
    }

    static String otherFormat(byte[] b) {
        if (startsWith(b, PNG_SIGNATURE)) return "PNG";
        if (startsWith(b, "GIF8".getBytes())) return "GIF";
        if (startsWith(b, "BM".getBytes())) return "BMP";
        if (startsWith(b, "II*\0".getBytes()) || startsWith(b, "MM\0*".getBytes())) return "TIFF";
        return null;
    }

    private static boolean startsWith(byte[] data, byte[] prefix) {
        if (data.length < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if (data[i] != prefix[i]) return false;
        return true;
    }

    static String firstBytes(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) s.append(i == 0 ? "" : " ").append(String.format("%02x", b[i] & 0xFF));
        return s.toString();
    }

    /** A one-line reason for a reader's exception: "truncated" when it ran out of data. */
    private static String failure(Exception e, byte[] bytes) {
        String format = (bytes[0] & 0xFF) == 0xFF ? "JPEG" : String.valueOf(otherFormat(bytes));
        StringBuilder causes = new StringBuilder();
        boolean truncated = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            truncated |= t instanceof EOFException;
            String message = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
            if (causes.indexOf(message) < 0) causes.append(causes.isEmpty() ? "" : ": ").append(message);
        }
        return (truncated ? "truncated " : "corrupt ") + format + " (" + causes + ")";
    }

    private static ImageReaderSpi jpegReaderProvider() {
        IIORegistry registry = IIORegistry.getDefaultInstance();
        JPEGImageReaderSpi spi = registry.getServiceProviderByClass(JPEGImageReaderSpi.class);
        if (spi == null) {
            ImageIO.scanForPlugins();
            spi = registry.getServiceProviderByClass(JPEGImageReaderSpi.class);
        }
        if (spi == null) {
            throw new IllegalStateException("TwelveMonkeys' JPEG reader is not registered with ImageIO "
                    + "(is imageio-jpeg on the class path, with its META-INF/services entry?)");
        }
        return spi;
    }
}
