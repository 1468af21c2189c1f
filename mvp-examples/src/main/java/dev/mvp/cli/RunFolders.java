package dev.mvp.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a command writes when {@code --out} is not given: {@code runs/<command>-<yyyyMMdd-HHmmss>} in the current
 * working directory, the rule {@code mvp pretrain} follows, with {@code -2}, {@code -3}, ... appended when that folder
 * exists: each default folder is <b>reserved</b> by creating it ({@link #reserve}, atomic), so commands started in the
 * same second (an ablation script's {@code &}) get one folder each. A reserved folder still empty when the command
 * ends (it failed before writing) is removed ({@link #releaseUnused}, called by {@link Main#run}; and at JVM exit,
 * e.g. after SIGTERM). The evaluation commands (knn, linprobe, finetune, segment, attention) use it, and their feature
 * cache defaults to {@link #FEATURE_CACHE} beside those folders, so results land where the command is run from, not
 * in the checkout ({@code mvp.home}).
 */
final class RunFolders {
    private RunFolders() {}

    /** The folder every default run folder is in, relative to the working directory. */
    static final String RUNS = "runs";

    /** The default of {@code --cache}: {@code runs/feature-cache} in the working directory. */
    static final String FEATURE_CACHE = RUNS + "/feature-cache";

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    /** The most {@code -N} suffixes tried for one second's name before giving up. */
    private static final int MAX_SUFFIX = 1000;

    /** Folders reserved by this thread's command (and the {@code runs} folder if it made it), newest last. */
    private static final ThreadLocal<List<Path>> RESERVED = ThreadLocal.withInitial(ArrayList::new);

    /** Every reserved folder not yet released, for the JVM-exit hook. */
    private static final Set<Path> UNRELEASED = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(RunFolders::removeUnreleasedAtExit, "mvp-run-folders"));
    }

    /**
     * At JVM exit (SIGTERM, Ctrl-C): removes the reserved folders that are empty. Other shutdown hooks run at the same
     * time and may be emptying them (a run stopped before its first step removes its files), so this looks again a
     * few times, for at most about 200 ms, deepest (newest) first.
     */
    private static void removeUnreleasedAtExit() {
        List<Path> left = new ArrayList<>(UNRELEASED);
        left.sort(java.util.Comparator.comparingInt(Path::getNameCount).reversed());
        for (int attempt = 0; attempt < 10 && !left.isEmpty(); attempt++) {
            if (attempt > 0) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            left.removeIf(p -> {
                try {
                    Files.deleteIfExists(p);
                    return true;
                } catch (IOException notEmptyYet) {
                    return false;
                }
            });
        }
    }

    /** {@code runs/<command>-<time>}, relative to the working directory: the name {@link #reserve} starts from. */
    static Path defaultFor(String command, LocalDateTime time) {
        return Path.of(RUNS, command + "-" + time.format(TIME));
    }

    /** Reserves this command's default run folder in the working directory's {@code runs} (see the class comment). */
    static Path reserve(String command) {
        return reserve(Path.of(RUNS), command, LocalDateTime.now());
    }

    /**
     * Creates and returns the first of {@code runs/<command>-<time>}, {@code ...-2}, {@code ...-3} that did not exist,
     * creating {@code runs} if needed; both are removed again by {@link #releaseUnused} if still empty.
     *
     * @throws UncheckedIOException {@code cannot write to the run folder <dir>: <reason in words>}
     */
    static Path reserve(Path runs, String command, LocalDateTime time) {
        Path first = runs.resolve(command + "-" + time.format(TIME));
        for (int n = 1; n <= MAX_SUFFIX; ) {
            Path candidate = n == 1 ? first : first.resolveSibling(first.getFileName() + "-" + n);
            try {
                if (!Files.isDirectory(runs)) {
                    Files.createDirectories(runs);
                    remember(runs);
                }
                Files.createDirectory(candidate);
                remember(candidate);
                return candidate;
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(runs)) throw cannotWrite(candidate, e); // a file named runs
                n++; // taken, by an earlier run or another command started this second
            } catch (NoSuchFileException e) {
                if (Files.exists(runs)) throw cannotWrite(candidate, e); // another process removed an empty runs: retry
            } catch (IOException e) {
                throw cannotWrite(candidate, e);
            }
        }
        throw new UncheckedIOException("cannot write to the run folder " + first.toAbsolutePath() + ": it and "
                + MAX_SUFFIX + " numbered variants exist; give --out", new FileAlreadyExistsException(first.toString()));
    }

    private static void remember(Path folder) {
        RESERVED.get().add(folder);
        UNRELEASED.add(folder.toAbsolutePath());
    }

    private static UncheckedIOException cannotWrite(Path dir, IOException e) {
        return new UncheckedIOException("cannot write to the run folder " + dir.toAbsolutePath() + ": " + dev.mvp.api.io.AtomicFiles.reasonAbout(dir, e), e);
    }

    /** Removes the folders this thread's command reserved that are still empty, newest first; keeps the others. */
    static void releaseUnused() {
        List<Path> mine = RESERVED.get();
        List<Path> newestFirst = new ArrayList<>(mine.reversed());
        mine.clear();
        removeEmpty(newestFirst);
    }

    private static void removeEmpty(List<Path> folders) {
        for (Path p : folders) {
            UNRELEASED.remove(p.toAbsolutePath());
            try {
                Files.deleteIfExists(p); // only an empty folder can be deleted
            } catch (IOException ignored) {
                // holds results, or not ours to remove: kept
            }
        }
    }

    /** Whether {@code dir} is a default folder this thread's command reserved. */
    private static boolean reserved(Path dir) {
        return RESERVED.get().contains(dir);
    }

    /**
     * The output folder of an evaluation command ({@code out}, else a {@linkplain #reserve reserved} default),
     * checked before any work: it is created with its parents and a probe file is written and deleted in it, so a
     * read-only or unwritable target, or a file in the way, stops the command at once instead of after training.
     * Folders this check created for {@code --out} are removed again (a run that fails later leaves nothing behind;
     * the commands create the folder when they write their results).
     *
     * @throws Main.UsageException   when {@code --out} names an existing file (exit 2)
     * @throws UncheckedIOException  {@code cannot write to <dir>: <reason in words>} otherwise (exit 1)
     */
    static Path prepare(Path out, String command) {
        Path dir = out != null ? out : reserve(command);
        String what = out != null && !reserved(out) ? "--out " + dir : "the run folder " + dir.toAbsolutePath();
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new Main.UsageException(what + " is a file; give a folder");
        }
        List<Path> created = new ArrayList<>();
        try {
            for (Path p = dir.toAbsolutePath().normalize(); p != null && !Files.exists(p); p = p.getParent()) created.add(p);
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".mvp-write-check-", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to " + what + ": " + dev.mvp.api.io.AtomicFiles.reasonAbout(dir, e), e);
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
     * Checks an output file named by {@code flag} ({@code --out}, {@code --png}) before any work: it must not be a
     * folder, and no file may stand where one of its folders would be (usage errors, exit 2). Missing folders are
     * created when the file is written.
     */
    static void checkOutputFile(String flag, Path out) {
        if (Files.isDirectory(out)) throw new Main.UsageException(flag + " " + out + " is a folder, expected a file name");
        for (Path p = out.toAbsolutePath().normalize().getParent(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p)) return;
            if (Files.exists(p)) throw new Main.UsageException(flag + " " + out + ": " + p + " is a file, not a folder");
        }
    }
}
