package dev.mvp.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/**
 * The {@code mvp} command line. Exit codes: 0 success, 1 runtime error (bad data, bad checkpoint, I/O), 2 usage
 * error (unknown or malformed flag). Errors are one line on stderr; {@code --verbose} adds the stack trace.
 */
@Command(name = "mvp", mixinStandardHelpOptions = true, version = "mvp 0.1.0",
        description = "Masked image modeling guided by multimodal teachers (MVP, Wei et al. 2022) on libtorch.",
        subcommands = {PretrainCommand.class, PlotCommand.class, ExportCommand.class, MasksCommand.class, KnnCommand.class,
                LinprobeCommand.class, AttentionCommand.class, FinetuneCommand.class, SegmentCommand.class, InspectCommand.class,
                TargetsCommand.class, TablesCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit code of a runtime error. */
    public static final int RUNTIME_ERROR = 1;
    /** Exit code of a usage error. */
    public static final int USAGE_ERROR = 2;

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces with errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (try: mvp pretrain --help)");
    }

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line with the given streams; returns the exit code (for tests and embedding). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        // an empty path ("--out ''", an unset shell variable) would mean the working directory: refused for every flag
        cli.registerConverter(java.nio.file.Path.class, value -> {
            if (value.isBlank()) throw new CommandLine.TypeConversionException("an empty path; give a file or folder name");
            try {
                return java.nio.file.Path.of(value);
            } catch (java.nio.file.InvalidPathException e) {
                throw new CommandLine.TypeConversionException("cannot convert '" + value + "' to a path (" + e.getMessage() + ")");
            }
        });
        cli.setParameterExceptionHandler((ex, a) -> {
            String command = ex.getCommandLine().getCommandName();
            err.println(("mvp".equals(command) ? "mvp" : "mvp " + command) + ": " + usageLine(ex.getMessage()));
            err.println("(see: mvp " + ("mvp".equals(command) ? "" : command + " ") + "--help)");
            if (verbose) ex.printStackTrace(err);
            err.flush();
            return USAGE_ERROR;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            err.println("mvp " + commandLine.getCommandName() + ": error: " + oneLine(ex));
            if (verbose) ex.printStackTrace(err);
            err.flush();
            return ex instanceof UsageException ? USAGE_ERROR : RUNTIME_ERROR;
        });
        try {
            return cli.execute(args);
        } finally {
            RunFolders.releaseUnused(); // a default run folder the command reserved but left empty
        }
    }

    /** The first line of the most informative message in the cause chain. */
    static String oneLine(Throwable ex) {
        Throwable t = ex;
        // a wrapper whose message is only its cause's toString() (new UncheckedIOException(e)) says nothing more
        while (t.getCause() != null && (t.getMessage() == null || t.getMessage().equals(t.getCause().toString()))) t = t.getCause();
        String message = t instanceof java.io.IOException io && t instanceof java.nio.file.FileSystemException
                ? dev.mvp.api.io.AtomicFiles.reason(io) // the file and the reason in words, never just the file
                : t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        String line = message.lines().findFirst().orElse(message).strip();
        String words = CLASS_NAME.matcher(line).replaceAll("").strip();
        return words.isEmpty() ? line : words;
    }

    /**
     * The first line of a picocli usage message in words: a type a value could not be converted to
     * ({@code to interface java.nio.file.Path}) becomes "to a path", and Java class names before a reason
     * ({@code (java.nio.file.InvalidPathException: Malformed input ...)}) are dropped.
     */
    static String usageLine(String message) {
        if (message == null) return "";
        String line = message.lines().findFirst().orElse("").strip();
        line = TYPE_NAME.matcher(line).replaceAll(m -> "to " + java.util.regex.Matcher.quoteReplacement(typeWords(m.group(1))));
        return CLASS_NAME.matcher(line).replaceAll("").strip();
    }

    private static String typeWords(String simpleName) {
        return switch (simpleName) {
            case "Path", "File" -> "a path";
            case "Integer", "Long", "Short", "Byte" -> "a whole number";
            case "Double", "Float", "BigDecimal" -> "a number";
            case "Boolean" -> "true or false";
            default -> "a " + simpleName.replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** "to interface java.nio.file.Path", "to class java.lang.Integer": picocli's conversion target. */
    private static final java.util.regex.Pattern TYPE_NAME =
            java.util.regex.Pattern.compile("\\bto (?:interface |class |enum |record )?(?:[a-z_$][\\w$]*\\.)+([A-Z][\\w$]*)\\b");

    /** A Java class name with its colon, as {@code Throwable.toString()} puts it before a message. */
    private static final java.util.regex.Pattern CLASS_NAME =
            java.util.regex.Pattern.compile("\\b(?:[a-z_$][\\w$]*\\.)+[A-Z][\\w$]*(?:Exception|Error)\\b:?\\s*");

    /**
     * A path a flag or argument names does not exist: a runtime error (exit 1), the same for every command and every
     * input path (README, "Exit codes and errors"). {@code what}: "file", "folder" or "file or folder".
     */
    static IllegalStateException noSuch(String flag, java.nio.file.Path path, String what) {
        return new IllegalStateException(flag + " " + path + ": no such " + what);
    }

    /** A usage problem found after parsing (e.g. conflicting flags): exit code 2. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }
}
