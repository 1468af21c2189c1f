package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Rewinding a run to an earlier checkpoint whose state.json cannot be resumed (a negative step, a step past the run's
 * end, a negative epoch or position, a step that is not the folder's) is refused with one line naming the file, and
 * leaves the run exactly as it was: no later checkpoint deleted, no metrics line dropped, {@code latest} unchanged.
 */
@Tag("e2e")
class RewindValidationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(p).toString(), java.util.Arrays.toString(
                        java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return files;
    }

    @Test
    void anUnresumableEarlierCheckpointLeavesTheRunUntouched(@TempDir Path tmp) throws Exception {
        PretrainConfig a = RunFolderTest.config(tmp.resolve("A"));
        RunFolderTest.run(a, null);
        Path c2 = a.out().resolve("checkpoints/step-00000002");
        Path stateFile = c2.resolve("state.json");
        String original = Files.readString(stateFile);
        Map<String, Consumer<ObjectNode>> edits = Map.of(
                "step -3", n -> n.put("step", -3),
                "step 300 in the folder of step 2", n -> n.put("step", 300),
                "negative epoch -7", n -> n.put("epoch", -7),
                "negative batchInEpoch -1", n -> n.put("batchInEpoch", -1),
                "step 3 in the folder of step 2", n -> n.put("step", 3),
                "batch 99999999 of an epoch", n -> n.put("batchInEpoch", 99999999));
        for (var e : edits.entrySet()) {
            ObjectNode state = (ObjectNode) JSON.readTree(original);
            e.getValue().accept(state);
            Files.writeString(stateFile, JSON.writeValueAsString(state));
            Map<String, String> before = snapshot(a.out());
            assertThatThrownBy(() -> RunFolderTest.run(a, c2)).as(e.getKey())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(stateFile.toString()).hasMessageContaining(e.getKey());
            assertThat(snapshot(a.out())).as(e.getKey()).isEqualTo(before);
            assertThat(Files.readAllLines(a.out().resolve("metrics.jsonl"))).hasSize(4);
        }
        // the checkpoint restored: the rewind goes ahead
        Files.writeString(stateFile, original);
        RunFolderTest.run(a, c2);
        assertThat(Files.readAllLines(a.out().resolve("metrics.jsonl"))).hasSize(4);
    }
}
