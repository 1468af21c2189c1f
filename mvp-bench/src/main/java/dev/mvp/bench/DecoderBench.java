package dev.mvp.bench;

import dev.mvp.data.ImageIoDecoder;
import dev.mvp.data.RgbImage;
import dev.mvp.data.TurboJpegDecoder;
import org.apache.commons.imaging.Imaging;

import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * Which JPEG decoder should feed pre-training: speed and exactness of the candidates on a folder of real images
 * (imagenet-sample), against PIL's decode written by tools/bench/pil_decode.py.
 *
 * <pre>
 * tools/bench/data.sh    (runs this after pil_decode.py; or by hand:)
 * java ... dev.mvp.bench.DecoderBench --data ../shared/data/imagenet-sample --reference /tmp/pil-ref [--rounds 3]
 * </pre>
 * Candidates: the JDK's own ImageIO JPEG reader (IJG libjpeg 6b inside the JDK), TwelveMonkeys' reader with our
 * colour conversion ({@link ImageIoDecoder}; TwelveMonkeys hands the entropy decoding and IDCT to that same JDK
 * libjpeg), Apache Commons Imaging (a JPEG decoder written entirely in Java), and libjpeg-turbo through
 * java.lang.foreign ({@link TurboJpegDecoder}). All decode from memory (the files are read once, before timing) to
 * 8-bit RGB, without EXIF orientation (PIL's {@code convert('RGB')} does not apply it either).
 *
 * <p>Exactness: per image, the largest difference of any sample from PIL's, over the images of equal size; a
 * failure (exception, wrong size) is counted separately. Speed: images per second over the whole folder, one
 * thread, then two threads sharing it; the best of {@code --rounds} rounds after one warm-up round. Images per
 * CPU-second (the one-thread run's CPU time) is the per-core figure, robust when other work shares the machine.
 */
public final class DecoderBench {
    private DecoderBench() {}

    interface Candidate {
        RgbImage decode(byte[] bytes, Path source) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        Path data = Path.of(opts.getOrDefault("data", "../shared/data/imagenet-sample"));
        Path reference = Path.of(opts.getOrDefault("reference", "/tmp/mvp-pil-ref"));
        int rounds = Integer.parseInt(opts.getOrDefault("rounds", "3"));
        List<String> only = opts.containsKey("only") ? List.of(opts.get("only").split(",")) : null;

        List<String[]> index = Files.readAllLines(reference.resolve("index.tsv")).stream().map(l -> l.split("\t")).toList();
        List<Path> files = new ArrayList<>();
        List<byte[]> blobs = new ArrayList<>();
        for (String[] row : index) {
            files.add(data.resolve(row[0]));
            blobs.add(Files.readAllBytes(data.resolve(row[0])));
        }
        long totalBytes = blobs.stream().mapToLong(b -> b.length).sum();
        System.out.printf(Locale.ROOT, "%d images, %.1f MB of files, %d cores, %s%n", blobs.size(), totalBytes / 1e6,
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));

        Map<String, Candidate> candidates = new LinkedHashMap<>();
        candidates.put("JDK ImageIO (built-in JPEG reader: IJG libjpeg 6b, C)", DecoderBench::jdk);
        ImageIoDecoder twelve = new ImageIoDecoder(ImageIoDecoder.PIL_MAX_PIXELS, false);
        candidates.put("TwelveMonkeys 3.13 + our colour conversion (ImageIoDecoder)", twelve::decode);
        candidates.put("Apache Commons Imaging 1.0.0-alpha6 (pure Java)", DecoderBench::commonsImaging);
        if (TurboJpegDecoder.available()) {
            TurboJpegDecoder turbo = new TurboJpegDecoder(ImageIoDecoder.PIL_MAX_PIXELS, false);
            candidates.put("libjpeg-turbo 2.1.5 via java.lang.foreign (TurboJpegDecoder)", turbo::decode);
        } else {
            System.out.println("libjpeg-turbo skipped: " + TurboJpegDecoder.unavailableReason().orElse(""));
        }

        List<String> table = new ArrayList<>();
        table.add("| decoder | images per CPU-second | 1 thread, images/s | 2 threads, images/s | decoded | bit-exact with PIL | max abs diff | failures |");
        table.add("|---|---:|---:|---:|---:|---:|---:|---|");
        for (Map.Entry<String, Candidate> e : candidates.entrySet()) {
            if (only != null && only.stream().noneMatch(o -> e.getKey().toLowerCase(Locale.ROOT).contains(o))) continue;
            Exactness x = exactness(e.getValue(), blobs, files, index, reference);
            double one = 0, perCpu = 0, two = 0;
            for (int r = 0; r < rounds; r++) {
                double[] s1 = speed(e.getValue(), blobs, files, 1);
                one = Math.max(one, s1[0]);
                perCpu = Math.max(perCpu, s1[1]);
                two = Math.max(two, speed(e.getValue(), blobs, files, 2)[0]);
            }
            String row = String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %d / %d | %d | %s | %s |", e.getKey(),
                    perCpu, one, two, x.decoded, blobs.size(), x.exact, x.decoded == 0 ? "-" : Integer.toString(x.maxDiff),
                    x.failures());
            System.out.println(row);
            table.add(row);
        }
        System.out.println();
        System.out.println("Markdown for docs/DATA.md:");
        table.forEach(System.out::println);
    }

    record Exactness(int decoded, int exact, int maxDiff, Map<String, Integer> failureKinds, List<String> examples) {
        String failures() {
            if (failureKinds.isEmpty()) return "none";
            StringBuilder s = new StringBuilder();
            failureKinds.forEach((k, v) -> s.append(s.isEmpty() ? "" : "; ").append(v).append("x ").append(k));
            return s.toString();
        }
    }

    /** Decodes every image once (also the warm-up) and compares with PIL's pixels. */
    static Exactness exactness(Candidate c, List<byte[]> blobs, List<Path> files, List<String[]> index, Path reference)
            throws Exception {
        int decoded = 0, exact = 0, maxDiff = 0;
        Map<String, Integer> kinds = new LinkedHashMap<>();
        List<String> examples = new ArrayList<>();
        for (int i = 0; i < blobs.size(); i++) {
            String[] row = index.get(i);
            RgbImage image;
            try {
                image = c.decode(blobs.get(i), files.get(i));
            } catch (Exception | Error ex) {
                String kind = ex.getClass().getSimpleName() + ": " + String.valueOf(ex.getMessage()).replace(files.get(i) + ": ", "");
                kind = kind.length() > 60 ? kind.substring(0, 60) + "..." : kind;
                kinds.merge(kind + " (" + row[3] + ")", 1, Integer::sum);
                continue;
            }
            int w = Integer.parseInt(row[1]), h = Integer.parseInt(row[2]);
            if (image.width() != w || image.height() != h) {
                kinds.merge("wrong size", 1, Integer::sum);
                continue;
            }
            decoded++;
            byte[] expected = Files.readAllBytes(reference.resolve(row[0] + ".rgb"));
            byte[] actual = image.pixels();
            int worst = 0;
            for (int k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs((actual[k] & 0xFF) - (expected[k] & 0xFF)));
            if (worst == 0) exact++;
            else if (examples.size() < 3) examples.add(row[0] + " (" + row[3] + "): " + worst);
            maxDiff = Math.max(maxDiff, worst);
        }
        if (!examples.isEmpty()) System.out.println("  differing, e.g. " + String.join(", ", examples));
        return new Exactness(decoded, exact, maxDiff, kinds, examples);
    }

    /**
     * {images per second, images per CPU-second of the decoding threads} decoding the whole list with
     * {@code threads} threads (failures count as done).
     */
    static double[] speed(Candidate c, List<byte[]> blobs, List<Path> files, int threads) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        AtomicLong cpuNanos = new AtomicLong();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Thread[] ts = new Thread[threads];
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            ts[t] = Thread.ofPlatform().start(() -> {
                long c0 = mx.getCurrentThreadCpuTime();
                for (int i; (i = next.getAndIncrement()) < blobs.size(); ) {
                    try {
                        c.decode(blobs.get(i), files.get(i));
                    } catch (Exception | Error ignored) {
                        // counted by exactness()
                    }
                }
                cpuNanos.addAndGet(mx.getCurrentThreadCpuTime() - c0);
            });
        }
        for (Thread t : ts) t.join();
        return new double[] {blobs.size() / ((System.nanoTime() - t0) / 1e9), blobs.size() / (cpuNanos.get() / 1e9)};
    }

    // ---- candidates that are not part of the library ----

    private static final ImageReaderSpi JDK_JPEG = jdkJpegProvider();

    /** The JDK's own JPEG reader (not TwelveMonkeys', which registers itself first when on the class path). */
    private static ImageReaderSpi jdkJpegProvider() {
        for (Iterator<ImageReaderSpi> it = IIORegistry.getDefaultInstance().getServiceProviders(ImageReaderSpi.class, false);
             it.hasNext(); ) {
            ImageReaderSpi spi = it.next();
            if (spi.getClass().getName().equals("com.sun.imageio.plugins.jpeg.JPEGImageReaderSpi")) return spi;
        }
        throw new IllegalStateException("the JDK's JPEG reader is not registered");
    }

    static RgbImage jdk(byte[] bytes, Path source) throws Exception {
        ImageReader reader = JDK_JPEG.createReaderInstance();
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            reader.setInput(in, true, true);
            return toRgb(reader.read(0));
        } finally {
            reader.dispose();
        }
    }

    static RgbImage commonsImaging(byte[] bytes, Path source) throws Exception {
        return toRgb(Imaging.getBufferedImage(bytes));
    }

    /** Raw samples where the layout allows (no colour management), else {@code getRGB}. */
    static RgbImage toRgb(BufferedImage image) {
        int w = image.getWidth(), h = image.getHeight();
        byte[] out = new byte[3 * w * h];
        if (image.getType() == BufferedImage.TYPE_3BYTE_BGR && image.getRaster().getDataBuffer() instanceof DataBufferByte db
                && db.getData().length == out.length) {
            byte[] bgr = db.getData();
            for (int i = 0; i < out.length; i += 3) {
                out[i] = bgr[i + 2];
                out[i + 1] = bgr[i + 1];
                out[i + 2] = bgr[i];
            }
        } else if (image.getType() == BufferedImage.TYPE_BYTE_GRAY && image.getRaster().getDataBuffer() instanceof DataBufferByte db
                && db.getData().length == w * h) {
            byte[] g = db.getData();
            for (int i = 0; i < g.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g[i];
        } else {
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++) {
                    int o = 3 * (y * w + x);
                    out[o] = (byte) (row[x] >> 16);
                    out[o + 1] = (byte) (row[x] >> 8);
                    out[o + 2] = (byte) row[x];
                }
            }
        }
        return new RgbImage(w, h, out);
    }
}
