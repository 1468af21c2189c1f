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

    /** A run folder, its checkpoint folder and the checkpoint's model file are one backbone; the newest result wins. */
    @Test
    void oneBackboneHoweverItWasNamedAndTheNewestOfSeveralResults(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("runs/pretrain-x");
        Path ckpt = run.resolve("checkpoints/step-00000100");
        Files.createDirectories(ckpt);
        Files.writeString(ckpt.resolve("model.safetensors"), "weights");
        Files.writeString(run.resolve("checkpoints/latest"), "step-00000100\n");
        Path model = ckpt.resolve("model.safetensors");
        // knn named the run folder (files written before backbone_file existed: resolved now), linprobe twice the
        // checkpoint folder, finetune the model file (recorded backbone_file)
        write(tmp.resolve("r/knn/results.json"), "{\"command\":\"knn\",\"backbone\":\"" + run + "\",\"results\":[{\"k\":20,\"top1\":40.0}]}");
        write(tmp.resolve("r/lp1/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"" + ckpt + "\",\"top1\":30.0}");
        write(tmp.resolve("r/lp2/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"" + ckpt + "\",\"top1\":31.0}");
        write(tmp.resolve("r/lp0/results.json"), "{\"command\":\"linprobe\",\"backbone\":\"" + ckpt + "\",\"top1\":29.0}");
        write(tmp.resolve("r/ft/results.json"), "{\"command\":\"finetune\",\"backbone\":\"elsewhere/model.safetensors\","
                + "\"backbone_file\":\"" + model.toAbsolutePath().normalize() + "\",\"top1\":50.0}");
        long now = System.currentTimeMillis();
        Files.setLastModifiedTime(tmp.resolve("r/lp0/results.json"), java.nio.file.attribute.FileTime.fromMillis(now - 30_000));
        Files.setLastModifiedTime(tmp.resolve("r/lp1/results.json"), java.nio.file.attribute.FileTime.fromMillis(now - 20_000));
        Files.setLastModifiedTime(tmp.resolve("r/lp2/results.json"), java.nio.file.attribute.FileTime.fromMillis(now - 10_000));
        var rows = EvalTables.table(EvalTables.find(tmp.resolve("r")));
        assertThat(rows).hasSize(1);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        EvalTables.print(rows, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertThat(table).contains("model.safetensors | 40.0 | 31.0 (newest of 3) | 50.0 | - |", "newest of N");
    }

    private static void write(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }
}
