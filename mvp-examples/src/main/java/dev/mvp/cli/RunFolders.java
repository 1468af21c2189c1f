package dev.mvp.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/**
 * Where a command writes when {@code --out} is not given: {@code runs/<command>-<yyyyMMdd-HHmmss>} in the current
 * working directory, the rule {@code mvp pretrain} follows. The evaluation commands (knn, linprobe, finetune, segment,
 * attention) use it, and their feature cache defaults to {@link #FEATURE_CACHE} beside those folders, so results
 * land where the command is run from, not in the checkout ({@code mvp.home}).
 */
final class RunFolders {
    private RunFolders() {}

    /** The folder every default run folder is in, relative to the working directory. */
    static final String RUNS = "runs";

    /** The default of {@code --cache}: {@code runs/feature-cache} in the working directory. */
    static final String FEATURE_CACHE = RUNS + "/feature-cache";

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    /** {@code runs/<command>-<time>}, relative to the working directory. */
    static Path defaultFor(String command) {
        return defaultFor(command, LocalDateTime.now());
    }

    static Path defaultFor(String command, LocalDateTime time) {
        return Path.of(RUNS, command + "-" + time.format(TIME));
    }

    /** {@code out} when given, else {@link #defaultFor(String)}. */
    static Path orDefault(Path out, String command) {
        return out != null ? out : defaultFor(command);
    }

    /**
     * The output folder of an evaluation command ({@code out}, else {@link #defaultFor(String)}), checked before any
     * work: it is created with its parents and a probe file is written and deleted in it, so a read-only or
     * unwritable target, or a file in the way, stops the command at once instead of after training. Folders this
     * check created are removed again (a run that fails later leaves nothing behind; the commands create the folder
     * when they write their results).
     *
     * @throws Main.UsageException   when {@code --out} names an existing file (exit 2)
     * @throws UncheckedIOException  {@code cannot write to <dir>: <reason in words>} otherwise (exit 1)
     */
    static Path prepare(Path out, String command) {
        Path dir = orDefault(out, command);
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            String what = out != null ? "--out " + dir : "the run folder " + dir.toAbsolutePath();
            throw new Main.UsageException(what + " is a file; give a folder");
        }
        List<Path> created = new ArrayList<>();
        try {
            for (Path p = dir.toAbsolutePath().normalize(); p != null && !Files.exists(p); p = p.getParent()) created.add(p);
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".mvp-write-check-", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            String why = dev.mvp.api.io.AtomicFiles.reason(e);
            if (why.startsWith(dir + ": ")) why = why.substring(dir.toString().length() + 2); // said once is enough
            throw new UncheckedIOException("cannot write to " + (out != null ? "--out " : "the run folder ") + dir + ": " + why, e);
        } finally {
            for (Path p : created) { // deepest first
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // not empty or not ours to remove: leave it
                }
            }
        }
        return dir;
    }

    /**
     * Checks an output file named by {@code --out} before any work: it must not be a folder, and no file may stand
     * where one of its folders would be (usage errors, exit 2). Missing folders are created when the file is written.
     */
    static void checkOutputFile(Path out) {
        if (Files.isDirectory(out)) throw new Main.UsageException("--out " + out + " is a folder, expected a file name");
        for (Path p = out.toAbsolutePath().normalize().getParent(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p)) return;
            if (Files.exists(p)) throw new Main.UsageException("--out " + out + ": " + p + " is a file, not a folder");
        }
    }
}
