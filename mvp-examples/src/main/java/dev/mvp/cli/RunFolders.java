package dev.mvp.cli;

import java.nio.file.Path;
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
}
