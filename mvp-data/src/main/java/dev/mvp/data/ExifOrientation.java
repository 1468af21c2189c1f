package dev.mvp.data;

/**
 * The EXIF orientation tag (0x0112) of a JPEG (APP1 "Exif" segment) or PNG ({@code eXIf} chunk), and the transpose
 * that shows the picture upright, as PIL's {@code ImageOps.exif_transpose} does it: 2 mirror, 3 rotate 180,
 * 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise; 1, a missing tag and any
 * other value leave the image as it is. Parsing never reads outside the array: a damaged EXIF block counts as none.
 */
final class ExifOrientation {
    private ExifOrientation() {}

    /** The orientation of a JPEG file's first Exif segment, or 1. */
    static int ofJpeg(byte[] b) {
        int i = 2;
        while (i + 4 <= b.length) {
            if ((b[i] & 0xFF) != 0xFF) return 1;
            int marker = b[i + 1] & 0xFF;
            if (marker == 0xFF) { // fill byte
                i++;
                continue;
            }
            if (marker == 0xDA || marker == 0xD9) return 1; // start of scan / end of image: no more metadata
            if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { // markers without a length
                i += 2;
                continue;
            }
            int length = u16(b, i + 2, false);
            if (length < 2) return 1;
            int body = i + 4, end = Math.min(i + 2 + length, b.length);
            if (marker == 0xE1 && end - body >= 6 && b[body] == 'E' && b[body + 1] == 'x' && b[body + 2] == 'i'
                    && b[body + 3] == 'f' && b[body + 4] == 0 && b[body + 5] == 0) {
                return ofTiff(b, body + 6, end);
            }
            i += 2 + length;
        }
        return 1;
    }

    /** The orientation in a PNG file's {@code eXIf} chunk (before the image data), or 1. */
    static int ofPng(byte[] b) {
        int i = 8;
        while (i + 8 <= b.length) {
            long length = u32(b, i);
            if (length < 0 || length > b.length) return 1;
            int body = i + 8;
            long end = body + length;
            if (end > b.length) return 1;
            if (b[i + 4] == 'e' && b[i + 5] == 'X' && b[i + 6] == 'I' && b[i + 7] == 'f') {
                int start = body;
                // some writers keep the JPEG-style "Exif\0\0" prefix; PIL accepts it
                if (length >= 6 && b[body] == 'E' && b[body + 1] == 'x' && b[body + 2] == 'i' && b[body + 3] == 'f') start += 6;
                return ofTiff(b, start, (int) end);
            }
            if (b[i + 4] == 'I' && b[i + 5] == 'D' && b[i + 6] == 'A' && b[i + 7] == 'T') return 1;
            i = (int) end + 4; // data, then CRC
        }
        return 1;
    }

    /** The orientation in a TIFF structure at {@code [start, end)} of {@code b}: IFD0's tag 0x0112. */
    private static int ofTiff(byte[] b, int start, int end) {
        if (end - start < 8) return 1;
        boolean little;
        if (b[start] == 'I' && b[start + 1] == 'I') little = true;
        else if (b[start] == 'M' && b[start + 1] == 'M') little = false;
        else return 1;
        if (u16(b, start + 2, little) != 42) return 1;
        long ifd = u32(b, start + 4, little);
        if (ifd < 8 || start + ifd + 2 > end) return 1;
        int at = (int) (start + ifd);
        int entries = u16(b, at, little);
        for (int k = 0; k < entries; k++) {
            int e = at + 2 + 12 * k;
            if (e + 12 > end) return 1;
            if (u16(b, e, little) == 0x0112) {
                int type = u16(b, e + 2, little);
                int value = type == 3 ? u16(b, e + 8, little) : type == 4 ? (int) u32(b, e + 8, little) : 1;
                return value >= 1 && value <= 8 ? value : 1;
            }
        }
        return 1;
    }

    /** {@code image} shown upright for {@code orientation}: itself for 1, else a new image. */
    static RgbImage apply(RgbImage image, int orientation) {
        if (orientation <= 1 || orientation > 8) return image;
        int w = image.width(), h = image.height();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        byte[] in = image.pixels(), out = new byte[in.length];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int sx, sy;
                switch (orientation) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    default -> { sx = w - 1 - y; sy = x; } // 8
                }
                int s = 3 * (sy * w + sx), d = 3 * (y * ow + x);
                out[d] = in[s];
                out[d + 1] = in[s + 1];
                out[d + 2] = in[s + 2];
            }
        }
        return new RgbImage(ow, oh, out);
    }

    private static int u16(byte[] b, int i, boolean little) {
        return little ? (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 : (b[i] & 0xFF) << 8 | (b[i + 1] & 0xFF);
    }

    private static long u32(byte[] b, int i, boolean little) {
        long v = little ? (b[i] & 0xFFL) | (b[i + 1] & 0xFFL) << 8 | (b[i + 2] & 0xFFL) << 16 | (b[i + 3] & 0xFFL) << 24
                : (b[i] & 0xFFL) << 24 | (b[i + 1] & 0xFFL) << 16 | (b[i + 2] & 0xFFL) << 8 | (b[i + 3] & 0xFFL);
        return v;
    }

    private static long u32(byte[] b, int i) {
        return u32(b, i, false);
    }
}
