package dev.mvp.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a newcomer reads first: the command list, the examples in each command's help, where outputs go. */
class HelpTextTest {

    /** The summaries of {@code mvp --help}'s command list, wrapped lines joined, by command name. */
    static Map<String, String> summaries(String help) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        String current = null;
        boolean inCommands = false;
        for (String line : help.lines().toList()) {
            if (line.equals("Commands:")) {
                inCommands = true;
                continue;
            }
            if (!inCommands) continue;
            if (line.matches("  \\S.*")) {
                String[] parts = line.strip().split("\\s+", 2);
                current = parts[0];
                out.put(current, parts.length > 1 ? parts[1] : "");
            } else if (current != null && !line.isBlank()) {
                out.put(current, out.get(current) + " " + line.strip());
            }
        }
        return out;
    }

    @Test
    void everyCommandHasACompleteOneLineSummary() {
        MainTest.Result r = mvp("--help");
        assertThat(r.code()).isZero();
        Map<String, String> summaries = summaries(r.out());
        CommandLine cli = new CommandLine(new Main());
        assertThat(summaries.keySet()).containsExactlyElementsOf(cli.getSubcommands().keySet());
        assertThat(summaries).containsKeys("pretrain", "knn", "linprobe", "finetune", "segment", "attention", "masks",
                "inspect", "targets", "export", "plot", "tables");
        summaries.forEach((name, summary) -> {
            assertThat(summary).as(name).endsWith(".").doesNotEndWith(",").doesNotEndWith(":");
            // a header of its own, short enough for one line of the list (the 80-column help, 13 taken by the name)
            if (!name.equals("help")) {
                String[] header = cli.getSubcommands().get(name).getCommandSpec().usageMessage().header();
                assertThat(header).as(name).hasSize(1);
                assertThat(header[0]).as(name).isEqualTo(summary).hasSizeLessThanOrEqualTo(67);
            }
        });
    }

    @Test
    void examplesAreWholeLinesThatCanBeCopied() {
        CommandLine cli = new CommandLine(new Main());
        int examples = 0;
        for (var e : cli.getSubcommands().entrySet()) {
            String help = mvp(e.getKey(), "--help").out();
            List<String> rendered = help.lines().map(String::stripTrailing).toList();
            List<String> description = List.of(e.getValue().getCommandSpec().usageMessage().description());
            for (int i = 0; i < description.size(); i++) {
                String line = description.get(i);
                boolean example = line.startsWith("  ") || line.contains("./mvp ");
                if (!example) continue;
                examples++;
                assertThat(line.length()).as(e.getKey() + ": " + line).isLessThan(80);
                assertThat(rendered).as(e.getKey() + " --help shows the example line unwrapped").contains(line.stripTrailing());
                if (line.endsWith("\\")) {
                    assertThat(i + 1).as(e.getKey() + ": a continued example has its next line").isLessThan(description.size());
                    assertThat(description.get(i + 1)).as(e.getKey()).startsWith("    ");
                }
            }
        }
        assertThat(examples).as("the help texts have examples").isGreaterThanOrEqualTo(8);
        String knn = mvp("knn", "--help").out();
        assertThat(knn).contains("  ./mvp knn --backbone raw-pixels \\\n    --train ../shared/data/cifar10/train --val ../shared/data/cifar10/test\n");
    }

    @Test
    void commandsStartedInTheSameSecondGetAFolderEachAndAnUnusedOneIsRemoved(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        Path runs = tmp.resolve("runs");
        LocalDateTime t = LocalDateTime.of(2026, 1, 2, 3, 4, 5);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            var tasks = new java.util.ArrayList<java.util.concurrent.Callable<Path>>();
            for (int i = 0; i < 8; i++) {
                tasks.add(() -> {
                    Path p = RunFolders.reserve(runs, "knn", t);
                    Files.writeString(p.resolve("results.json"), "{}"); // the command wrote its results
                    RunFolders.releaseUnused();
                    return p;
                });
            }
            var names = new java.util.TreeSet<String>();
            for (var f : pool.invokeAll(tasks)) names.add(f.get().getFileName().toString());
            assertThat(names).containsExactlyInAnyOrder("knn-20260102-030405", "knn-20260102-030405-2", "knn-20260102-030405-3",
                    "knn-20260102-030405-4", "knn-20260102-030405-5", "knn-20260102-030405-6", "knn-20260102-030405-7",
                    "knn-20260102-030405-8");
        } finally {
            pool.shutdown();
        }
        // a command that failed before writing leaves neither its folder nor a runs folder it created
        Path fresh = tmp.resolve("fresh/runs");
        Files.createDirectories(fresh.getParent());
        Path failed = RunFolders.reserve(fresh, "segment", t);
        assertThat(failed).isDirectory();
        RunFolders.releaseUnused();
        assertThat(fresh).doesNotExist();
        // a file named runs is in the way: one line naming it
        Path blocked = Files.writeString(tmp.resolve("blocked"), "x");
        assertThatThrownBy(() -> RunFolders.reserve(blocked, "knn", t)).hasMessageStartingWith("cannot write to the run folder "
                + blocked.resolve("knn-20260102-030405"));
    }

    @Test
    void runFoldersAndTheFeatureCacheDefaultToTheWorkingDirectory() {
        String home = System.getProperty("mvp.home");
        System.setProperty("mvp.home", "/somewhere/else");
        try {
            Path knn = RunFolders.defaultFor("knn", LocalDateTime.of(2026, 1, 2, 3, 4, 5));
            assertThat(knn).isEqualTo(Path.of("runs", "knn-20260102-030405"));
            assertThat(knn.isAbsolute()).isFalse();
            for (String command : List.of("knn", "linprobe")) {
                var cache = new CommandLine(new Main()).getSubcommands().get(command).getCommandSpec().findOption("--cache");
                assertThat(cache.defaultValue()).as(command).isEqualTo("runs/feature-cache");
            }
            for (String command : List.of("knn", "linprobe", "finetune", "segment", "attention")) {
                var outOption = new CommandLine(new Main()).getSubcommands().get(command).getCommandSpec().findOption("--out");
                assertThat(String.join(" ", outOption.description())).as(command)
                        .contains("runs/" + command + "-<time> in the working directory");
            }
        } finally {
            if (home == null) System.clearProperty("mvp.home");
            else System.setProperty("mvp.home", home);
        }
    }

    @Test
    void segmentSaysWhenTheDataFolderDoesNotExist(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path backbone = java.nio.file.Files.writeString(tmp.resolve("b.safetensors"), "x");
        MainTest.Result r = mvp("segment", "--backbone", backbone.toString(), "--data", tmp.resolve("nonexistent").toString());
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("--data " + tmp.resolve("nonexistent") + ": no such folder").doesNotContain("split")
                .doesNotContain("\tat ");
        assertThat(new ArrayList<>(r.err().strip().lines().toList())).hasSize(1);
    }
}
