package dev.mvp.cli;

import dev.mvp.api.MaskingStrategy;
import dev.mvp.masking.BlockwiseMasking;
import dev.mvp.masking.MaskSheet;
import dev.mvp.masking.MaskStatistics;
import dev.mvp.masking.NoMasking;
import dev.mvp.masking.RandomMasking;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code mvp masks}: statistics of a masking strategy over many masks, for checking it against the paper (BEiT's
 * blockwise masking masks at most the target and usually exactly it; MAE's random masking always exactly it).
 */
@Command(name = "masks", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Statistics of a masking strategy, with an optional PNG sheet.",
        description = {
                "Over many masks: the masked-count histogram, its mean, the fraction of masks at exactly the target, "
                        + "the mean number of 4-connected blocks and how often border and interior positions are "
                        + "masked; optionally a PNG sheet of example masks.",
                "BEiT / MVP:",
                "  ./mvp masks --strategy beit --grid 14 --count 75",
                "MAE (ratio 0.75):",
                "  ./mvp masks --strategy random --count 147"})
final class MasksCommand implements Callable<Integer> {

    /** The strategies this command can draw from. */
    enum Strategy { beit, random, none }

    @Option(names = "--strategy", paramLabel = "beit|random|none", defaultValue = "beit",
            description = "beit: BEiT's blockwise masking; random: MAE's uniformly random patches, an exact count; none.")
    Strategy strategy;

    @Option(names = "--grid", paramLabel = "N|RxC", defaultValue = "14",
            description = "Patch grid: N for N x N, or ROWSxCOLS (BEiT at 224 px with patch 16: 14).")
    String grid;

    @Option(names = "--count", paramLabel = "N", defaultValue = "75",
            description = "Patches to mask, given for a 14x14 grid and scaled by area to --grid as pretrain's "
                    + "--mask-patches is (BEiT and MVP: 75; MAE's ratio 0.75: 147).")
    int count;

    @Option(names = "--min-block", paramLabel = "N", defaultValue = "16",
            description = "beit: the smallest block area a proposal may draw (BEiT: 16).")
    int minBlock;

    @Option(names = "--top-up", description = "beit: fill a mask that falls short of the target with random patches "
            + "(not in BEiT), so every mask has exactly the target.")
    boolean topUp;

    @Option(names = "--samples", paramLabel = "N", defaultValue = "20000", description = "Masks to draw.")
    int samples;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0",
            description = "Seed: the masks are drawn one after another from one generator seeded with N.")
    long seed;

    @Option(names = "--frequency", description = "Also print how often each position was masked, as a grid.")
    boolean frequency;

    @Option(names = "--png", paramLabel = "FILE", description = "Also draw the first --examples masks as a PNG sheet.")
    Path png;

    @Option(names = "--examples", paramLabel = "N", defaultValue = "32", description = "Masks on the PNG sheet.")
    int examples;

    @Option(names = "--per-row", paramLabel = "N", defaultValue = "8", description = "Masks per row of the PNG sheet.")
    int perRow;

    @Option(names = "--cell-pixels", paramLabel = "N", defaultValue = "8", description = "Pixels per patch on the PNG sheet.")
    int cellPixels;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The largest side of the --png sheet, in pixels (a 16384 x 16384 sheet is 1 GiB of pixels in memory). */
    static final int MAX_SHEET_SIDE = 16384;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int[] rc = parseGrid(grid);
        int rows = rc[0], cols = rc[1];
        if (samples < 1) throw new Main.UsageException("--samples must be at least 1, got " + samples);
        if (count < 0 || count > BlockwiseMasking.REFERENCE_PATCHES) {
            throw new Main.UsageException("--count must be in [0, 196] (patches of a 14x14 grid), got " + count);
        }
        if (png != null) {
            if (examples < 1 || perRow < 1 || cellPixels < 1) {
                throw new Main.UsageException("--examples, --per-row and --cell-pixels must be at least 1");
            }
            long[] size = MaskSheet.size(Math.min(examples, samples), rows, cols, cellPixels, perRow);
            long width = size[0], height = size[1];
            if (width > MAX_SHEET_SIDE || height > MAX_SHEET_SIDE) {
                throw new Main.UsageException("--png: the sheet would be " + width + "x" + height + " pixels, more than "
                        + MAX_SHEET_SIDE + " a side; lower --cell-pixels " + cellPixels + ", --per-row " + perRow
                        + " or --examples " + examples);
            }
            RunFolders.checkOutputFile("--png", png);
        }
        int target = strategy == Strategy.none ? 0 : (int) Math.rint((double) count * rows * cols / BlockwiseMasking.REFERENCE_PATCHES);
        MaskingStrategy masking = strategy(rows, cols, target);

        MaskStatistics stats = new MaskStatistics(rows, cols);
        List<boolean[]> kept = new ArrayList<>();
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < samples; i++) {
            boolean[] mask = masking.sample(rows, cols, rng);
            stats.add(mask);
            if (png != null && kept.size() < examples) kept.add(mask);
        }

        out.printf(Locale.ROOT, "mvp masks: %s, %d masks on a %dx%d grid, seed %d%n", masking.name(), samples, rows, cols, seed);
        out.print(report(stats, target));
        if (frequency) out.print(frequencyGrid(stats, rows, cols));
        if (png != null) {
            try {
                MaskSheet.writePng(png, kept, rows, cols, cellPixels, perRow);
            } catch (IOException e) {
                throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot write", png, e), e);
            }
            out.printf("mvp masks: %d example masks drawn to %s%n", kept.size(), png.toAbsolutePath());
        }
        out.flush();
        return 0;
    }

    /** The summary lines: histogram, mean, fraction at the target, blocks, border versus interior. */
    static String report(MaskStatistics stats, int target) {
        StringBuilder s = new StringBuilder();
        long n = stats.samples();
        s.append(String.format(Locale.ROOT, "target:            %d patches%n", target));
        s.append(String.format(Locale.ROOT, "masked count:      mean %.3f, std %.3f, min %d, max %d%n",
                stats.meanCount(), stats.stdCount(), stats.minCount(), stats.maxCount()));
        long[] h = stats.histogram();
        long below = 0, at = target < h.length ? h[target] : 0;
        for (int c = 0; c < Math.min(target, h.length); c++) below += h[c];
        s.append(String.format(Locale.ROOT, "at the target:     %.2f%% (below %.2f%%, above %.2f%%)%n",
                100.0 * at / n, 100.0 * below / n, 100.0 * (n - below - at) / n));
        s.append(String.format(Locale.ROOT, "blocks per mask:   %.3f (4-connected components)%n", stats.meanBlocks()));
        s.append(String.format(Locale.ROOT, "masking frequency: border %.4f, interior %.4f (mean over the positions)%n",
                stats.borderFrequency(), stats.interiorFrequency()));
        s.append("count histogram:   (counts holding at least 0.05% of the masks)\n");
        long largest = 0;
        for (long v : h) largest = Math.max(largest, v);
        long shown = 0;
        for (int c = 0; c < h.length; c++) {
            if (h[c] == 0 || h[c] * 2000 < n) continue;
            shown += h[c];
            int bar = (int) Math.max(1, Math.round(40.0 * h[c] / largest));
            s.append(String.format(Locale.ROOT, "  %4d %7.2f%% %s%n", c, 100.0 * h[c] / n, "#".repeat(bar)));
        }
        if (shown < n) s.append(String.format(Locale.ROOT, "  other counts: %.2f%%%n", 100.0 * (n - shown) / n));
        return s.toString();
    }

    /** The per-position masking frequency, one grid row per line. */
    static String frequencyGrid(MaskStatistics stats, int rows, int cols) {
        double[] f = stats.positionFrequency();
        StringBuilder s = new StringBuilder("masking frequency per position:\n");
        for (int r = 0; r < rows; r++) {
            s.append(" ");
            for (int c = 0; c < cols; c++) s.append(String.format(Locale.ROOT, " %.3f", f[r * cols + c]));
            s.append('\n');
        }
        return s.toString();
    }

    private MaskingStrategy strategy(int rows, int cols, int target) {
        boolean beitOnly = topUp || spec.commandLine().getParseResult().hasMatchedOption("--min-block");
        if (strategy != Strategy.beit && beitOnly) {
            throw new Main.UsageException("--top-up and --min-block apply to --strategy beit only");
        }
        return switch (strategy) {
            case beit -> {
                if (count < 1) throw new Main.UsageException("--strategy beit needs --count of at least 1");
                if (minBlock < 1) throw new Main.UsageException("--min-block must be at least 1, got " + minBlock);
                yield new BlockwiseMasking(new BlockwiseMasking.Config(count, minBlock, 0.3, 1 / 0.3, topUp));
            }
            case random -> {
                if (target > rows * cols) throw new Main.UsageException("--count " + count + " is more than the grid holds");
                yield RandomMasking.count(target);
            }
            case none -> new NoMasking();
        };
    }

    /** {@code N} or {@code RxC}. */
    static int[] parseGrid(String grid) {
        String[] parts = grid.toLowerCase(Locale.ROOT).split("x", -1);
        try {
            int rows = Integer.parseInt(parts[0].strip());
            int cols = parts.length == 1 ? rows : Integer.parseInt(parts[1].strip());
            if (parts.length <= 2 && rows >= 1 && cols >= 1 && (long) rows * cols <= 1 << 16) return new int[] {rows, cols};
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new Main.UsageException("--grid takes N or ROWSxCOLS with 1 to 65536 patches, got '" + grid + "'");
    }
}
