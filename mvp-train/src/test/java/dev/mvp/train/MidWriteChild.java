package dev.mvp.train;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A training run in a child JVM that hangs in the middle of writing one checkpoint, for the tests that kill or stop
 * it there: the child's {@code main} calls {@link #hangAt}, the test {@link #start}s it and {@link #follow}s its output.
 */
final class MidWriteChild {
    private MidWriteChild() {}

    static final String MARKER = "MID-WRITE ";

    /** In the child: the checkpoint of step {@code stopAt} prints {@link #MARKER} after its weights, then hangs. */
    static void hangAt(long stopAt) {
        Checkpoints.midWriteHook = step -> {
            if (step != stopAt) return;
            System.out.println(MARKER + step);
            System.out.flush();
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    /** {@code main}'s class in a child JVM with this one's class path and libtorch flags; stderr merged into stdout. */
    static Process start(Class<?> main, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** What the child printed, and whether it reached the marker. */
    record Output(String text, boolean reachedMarker) {}

    /**
     * Reads the child's output; at the first marker line calls {@code atMarker}, which returns whether to go on
     * reading to the end (false after {@code Process.destroy*}, which closes the stream).
     */
    static Output follow(Process child, Predicate<Process> atMarker) {
        StringBuilder output = new StringBuilder();
        boolean reached = false;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                output.append(line).append('\n');
                if (line.startsWith(MARKER) && !reached) {
                    reached = true;
                    if (!atMarker.test(child)) break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Output(output.toString(), reached);
    }
}
