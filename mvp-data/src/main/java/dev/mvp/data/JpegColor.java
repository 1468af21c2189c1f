package dev.mvp.data;

/**
 * How PIL turns a JPEG's decoded components into RGB, reproduced exactly: libjpeg's guess of the colour space from
 * the markers ({@code jdapimin.c: default_decompress_parms}), its integer YCbCr-to-RGB tables
 * ({@code jdcolor.c}), and PIL's naive CMYK-to-RGB ({@code Convert.c: cmyk2rgb}) after reading CMYK as Adobe-inverted
 * ({@code JpegImagePlugin}: "assume adobe conventions"). Embedded ICC profiles are ignored, as PIL ignores them.
 */
enum JpegColor {
    GRAY(1), YCBCR(3), RGB(3), CMYK(4), YCCK(4);

    /** Samples per pixel. */
    final int components;

    JpegColor(int components) {
        this.components = components;
    }

    private static final int SCALE_BITS = 16;
    private static final int[] CR_R = new int[256], CB_B = new int[256], CR_G = new int[256], CB_G = new int[256];

    static {
        long oneHalf = 1L << (SCALE_BITS - 1);
        long fixCrR = fix(1.40200), fixCbB = fix(1.77200), fixCrG = fix(0.71414), fixCbG = fix(0.34414);
        for (int i = 0; i < 256; i++) {
            long x = i - 128;
            CR_R[i] = (int) ((fixCrR * x + oneHalf) >> SCALE_BITS);
            CB_B[i] = (int) ((fixCbB * x + oneHalf) >> SCALE_BITS);
            CR_G[i] = (int) (-fixCrG * x);
            CB_G[i] = (int) (-fixCbG * x + oneHalf);
        }
    }

    private static long fix(double x) {
        return (long) (x * (1L << SCALE_BITS) + 0.5);
    }

    /**
     * The colour space libjpeg assumes for a JPEG file's bytes, or {@code null} for a component count PIL cannot
     * convert to RGB (2, or more than 4).
     */
    static JpegColor of(byte[] jpeg) {
        boolean jfif = false, adobe = false;
        int transform = 0, components = -1;
        int[] ids = new int[4];
        int i = 2;
        while (i + 4 <= jpeg.length && components < 0) {
            if ((jpeg[i] & 0xFF) != 0xFF) break;
            int marker = jpeg[i + 1] & 0xFF;
            if (marker == 0xFF) { // fill byte
                i++;
                continue;
            }
            int length = ((jpeg[i + 2] & 0xFF) << 8) | (jpeg[i + 3] & 0xFF);
            int body = i + 4, end = Math.min(i + 2 + length, jpeg.length);
            if (marker == 0xE0 && length >= 16 && startsWith(jpeg, body, end, "JFIF\0")) {
                jfif = true;
            } else if (marker == 0xEE && length >= 14 && startsWith(jpeg, body, end, "Adobe")) {
                adobe = true;
                transform = body + 11 < end ? jpeg[body + 11] & 0xFF : 0;
            } else if (isStartOfFrame(marker) && body + 6 <= end) {
                int n = jpeg[body + 5] & 0xFF;
                for (int c = 0; c < Math.min(n, 4) && body + 6 + 3 * c < end; c++) ids[c] = jpeg[body + 6 + 3 * c] & 0xFF;
                components = n;
            }
            i += 2 + length;
        }
        return switch (components) {
            case 1 -> GRAY;
            case 3 -> {
                if (jfif) yield YCBCR;
                if (adobe) yield transform == 0 ? RGB : YCBCR;
                if (ids[0] == 'R' && ids[1] == 'G' && ids[2] == 'B') yield RGB;
                yield YCBCR;
            }
            case 4 -> adobe && transform != 0 ? YCCK : CMYK;
            default -> components < 0 ? YCBCR : null; // no frame header found: let the reader report the error
        };
    }

    private static boolean isStartOfFrame(int marker) {
        return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    }

    private static boolean startsWith(byte[] data, int from, int end, String tag) {
        if (end - from < tag.length()) return false;
        for (int j = 0; j < tag.length(); j++) if (data[from + j] != tag.charAt(j)) return false;
        return true;
    }

    /** Converts {@code pixels} interleaved samples of this colour space ({@code bands} per pixel) to RGB. */
    void toRgb(byte[] in, int bands, int pixels, byte[] out) {
        switch (this) {
            case GRAY -> {
                for (int p = 0, o = 0; p < pixels; p++, o += 3) {
                    byte v = in[p * bands];
                    out[o] = v;
                    out[o + 1] = v;
                    out[o + 2] = v;
                }
            }
            case RGB -> {
                for (int p = 0, s = 0, o = 0; p < pixels; p++, s += bands, o += 3) {
                    out[o] = in[s];
                    out[o + 1] = in[s + 1];
                    out[o + 2] = in[s + 2];
                }
            }
            case YCBCR -> {
                for (int p = 0, s = 0, o = 0; p < pixels; p++, s += bands, o += 3) {
                    int y = in[s] & 0xFF, cb = in[s + 1] & 0xFF, cr = in[s + 2] & 0xFF;
                    out[o] = clamp(y + CR_R[cr]);
                    out[o + 1] = clamp(y + ((CB_G[cb] + CR_G[cr]) >> SCALE_BITS));
                    out[o + 2] = clamp(y + CB_B[cb]);
                }
            }
            case CMYK -> {
                for (int p = 0, s = 0, o = 0; p < pixels; p++, s += bands, o += 3) {
                    // PIL reads the stored (Adobe-inverted) samples as 255 - value, then cmyk2rgb.
                    int nk = in[s + 3] & 0xFF;
                    out[o] = pilCmyk(255 - (in[s] & 0xFF), nk);
                    out[o + 1] = pilCmyk(255 - (in[s + 1] & 0xFF), nk);
                    out[o + 2] = pilCmyk(255 - (in[s + 2] & 0xFF), nk);
                }
            }
            case YCCK -> {
                for (int p = 0, s = 0, o = 0; p < pixels; p++, s += bands, o += 3) {
                    // libjpeg's ycck_cmyk_convert gives C = 255 - R etc. and K as stored; PIL inverts all four,
                    // so the ink is R and 255 - K is the stored K.
                    int y = in[s] & 0xFF, cb = in[s + 1] & 0xFF, cr = in[s + 2] & 0xFF;
                    int nk = in[s + 3] & 0xFF;
                    out[o] = pilCmyk(clamp(y + CR_R[cr]) & 0xFF, nk);
                    out[o + 1] = pilCmyk(clamp(y + ((CB_G[cb] + CR_G[cr]) >> SCALE_BITS)) & 0xFF, nk);
                    out[o + 2] = pilCmyk(clamp(y + CB_B[cb]) & 0xFF, nk);
                }
            }
        }
    }

    /** PIL's {@code nk - MULDIV255(c, nk)} with {@code c} the ink and {@code nk = 255 - K}. */
    private static byte pilCmyk(int c, int nk) {
        int t = c * nk + 128;
        return clamp(nk - (((t >> 8) + t) >> 8));
    }

    private static byte clamp(int v) {
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }
}
