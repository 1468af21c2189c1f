package dev.mvp.bench;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Interpolation;
import dev.mvp.api.MaskingStrategy;
import dev.mvp.api.ViewSpec;
import dev.mvp.data.Batch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.ImageFolder;
import dev.mvp.data.LoaderConfig;
import org.bytedeco.javacpp.PointerScope;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Throughput of the pre-training input pipeline: {@link BatchLoader} on a folder of real images (imagenet-sample),
 * with 1 and 2 worker threads, for one view (decode + RandomResizedCrop(224, bicubic) + flip + ImageNet
 * normalisation, the pipeline of tools/bench/data_pipeline.py) and for MVP's two views from one crop (the student's
 * 224 ImageNet and the CLIP teacher's 224 CLIP). The consumer only takes each batch and closes its tensors, so the
 * figure is what the loader can deliver; "wait" is the mean time {@code next()} blocked. Images per CPU-second
 * (the CPU time of the whole JVM: workers, consumer, JIT and GC) is the per-core figure, robust when other work
 * shares the machine.
 *
 * <pre>
 * tools/bench/data.sh  (or: java ... dev.mvp.bench.LoaderBench --data DIR [--decoder auto] [--batch 64] [--epochs 3])
 * </pre>
 * Each configuration runs one warm-up epoch, then {@code --epochs} timed epochs (batches of 64 from the 1000 images:
 * 15 per epoch, the last incomplete one dropped).
 */
public final class LoaderBench {
    private LoaderBench() {}

    /** No masking: the benchmark measures the images. */
    private static final MaskingStrategy NO_MASK = new MaskingStrategy() {
        @Override public String name() {
            return "none";
        }

        @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
            return new boolean[rows * cols];
        }
    };

    public static void main(String[] args) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        Path data = Path.of(opts.getOrDefault("data", "../shared/data/imagenet-sample"));
        int batch = Integer.parseInt(opts.getOrDefault("batch", "64"));
        int epochs = Integer.parseInt(opts.getOrDefault("epochs", "3"));
        String decoderName = opts.getOrDefault("decoder", "auto");
        ImageFolder folder = ImageFolder.open(data);
        ViewSpec student = new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.IMAGENET);
        ViewSpec teacher = new ViewSpec(224, Interpolation.BICUBIC, ImageNormalization.CLIP);
        System.out.println(folder.describe() + "; " + Runtime.getRuntime().availableProcessors() + " cores");
        for (String decoder : decoderName.split(",")) {
            for (List<ViewSpec> views : List.of(List.of(student), List.of(student, teacher))) {
                for (int workers : new int[] {1, 2}) {
                    LoaderConfig config = LoaderConfig.defaults().withBatchSize(batch).withThreads(workers, 2)
                            .withDecoder(ImageDecoders.named(decoder)).withWarnings(w -> {});
                    double[] r = run(folder, views, config, epochs);
                    System.out.printf(Locale.ROOT, "java %s, %s, %d view(s), %d worker thread(s): %.1f images/s, "
                                    + "%.1f images per CPU-second, mean wait for a batch of %d: %.3f s%n",
                            decoder, config.decoder().getClass().getSimpleName(), views.size(), workers, r[0], r[2], batch, r[1]);
                }
            }
        }
    }

    /**
     * {images/s, mean seconds blocked in next(), images per CPU-second of the whole process} over {@code epochs}
     * epochs after a warm-up epoch.
     */
    static double[] run(ImageFolder folder, List<ViewSpec> views, LoaderConfig config, int epochs) {
        try (BatchLoader loader = BatchLoader.open(folder, views, NO_MASK, 14, config)) {
            int perEpoch = loader.batchesPerEpoch();
            for (int i = 0; i < perEpoch; i++) {
                try (PointerScope scope = new PointerScope()) {
                    loader.next();
                }
            }
            long waited = 0;
            long images = 0;
            com.sun.management.OperatingSystemMXBean os =
                    (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long c0 = os.getProcessCpuTime();
            long t0 = System.nanoTime();
            for (int i = 0; i < epochs * perEpoch; i++) {
                try (PointerScope scope = new PointerScope()) {
                    long w0 = System.nanoTime();
                    Batch b = loader.next();
                    waited += System.nanoTime() - w0;
                    images += b.size();
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            double cpu = (os.getProcessCpuTime() - c0) / 1e9;
            return new double[] {images / seconds, waited / 1e9 / (epochs * perEpoch), images / cpu};
        }
    }
}
