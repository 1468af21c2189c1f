package dev.mvp.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The tables come from the results.json files of the evaluation commands. */
class EvalTablesTest {

    @Test
    void oneRowPerBackboneOneColumnPerProtocol(@TempDir Path tmp) throws Exception {
        write(tmp.resolve("a/results.json"), "{\"command\":\"knn\",\"backbone\":\"mvp.safetensors\",\"results\":[{\"k\":10,\"top1\":70.0},{\"k\":20,\"top1\":71.25}]}");
        write(tmp.resolve("b/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"mvp.safetensors\",\"top1\":75.4}");
        write(tmp.resolve("c/results.json"), "{\"command\":\"finetune\",\"backbone\":\"beit.pth\",\"top1\":83.2}");
        write(tmp.resolve("d/results.json"), "{\"command\":\"segment\",\"backbone\":\"mvp.safetensors\",\"mIoU\":0.523}");
        write(tmp.resolve("e/results.json"), "{\"command\":\"attention\",\"backbone\":\"mvp.safetensors\"}");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        EvalTables.print(EvalTables.table(EvalTables.find(tmp)), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertThat(table).contains("| beit.pth | - | - | 83.2 | - |");
        assertThat(table).contains("| mvp.safetensors | 71.3 | 75.4 | - | 52.3 |");
    }

    private static void write(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }
}
