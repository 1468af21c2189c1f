package dev.mvp.cli;

import dev.mvp.examples.EvalTables;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code mvp tables}: the paper's evaluation tables from the results.json files below run folders. */
@Command(name = "tables", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "Markdown table of the evaluation results found under run folders.",
        description = {
                "Reads every results.json of knn, linprobe, finetune and segment below the folders given and prints "
                        + "one Markdown row per backbone: k-NN top-1 (k = 20), linear-probe top-1, fine-tuning top-1, "
                        + "segmentation mIoU.",
                "A run folder, its checkpoint folders and their model.safetensors are one backbone (the weight file "
                        + "the command read). Several results for one cell: the newest results.json is shown, with "
                        + "'(newest of N)'; a file named twice counts once.",
                "The k-NN column is k = 20 only: knn results without k = 20 are listed below the table. A NaN "
                        + "result (null in results.json) shows as NaN.",
                "Example:",
                "  ./mvp tables runs/"})
final class TablesCommand implements Callable<Integer> {

    @Parameters(paramLabel = "RUNS_DIR|results.json", arity = "0..*", defaultValue = "runs",
            description = "Folders searched for results.json (or the files themselves).")
    List<Path> paths;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (!Files.exists(p)) throw Main.noSuch("RUNS_DIR", p, "folder or file");
            files.addAll(EvalTables.find(p));
        }
        List<String> leftOut = new ArrayList<>();
        var rows = EvalTables.table(files, leftOut);
        if (rows.isEmpty()) {
            throw new dev.mvp.data.DataException("no results.json of knn, linprobe, finetune or segment under " + paths
                    + (leftOut.isEmpty() ? "" : " (knn results without k = 20 are left out: " + String.join("; ", leftOut) + ")"));
        }
        EvalTables.print(rows, leftOut, out);
        out.flush();
        return 0;
    }
}
