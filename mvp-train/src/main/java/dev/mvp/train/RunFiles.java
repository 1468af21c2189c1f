package dev.mvp.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The files of a run folder besides checkpoints: {@code config.json} and {@code metrics.jsonl}. */
public final class RunFiles implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .findAndRegisterModules();
    private static final ObjectMapper PRETTY = JSON.copy().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path runDir;
    private final BufferedWriter metrics;

    private RunFiles(Path runDir, BufferedWriter metrics) {
        this.runDir = runDir;
        this.metrics = metrics;
    }

    /**
     * Opens the run folder for writing. Metrics lines past {@code keepUpToStep} (written by an invocation that died
     * after its last checkpoint) are dropped, so a resumed run's metrics read as one uninterrupted run.
     */
    public static RunFiles open(Path runDir, long keepUpToStep) {
        try {
            Files.createDirectories(runDir);
            Path file = runDir.resolve("metrics.jsonl");
            if (Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    try {
                        if (JSON.readTree(line).path("step").asLong(Long.MAX_VALUE) <= keepUpToStep) kept.add(line);
                    } catch (IOException malformed) {
                        // a line cut short by a kill: drop it
                    }
                }
                Checkpoints.writeAtomically(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
            }
            return new RunFiles(runDir, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot open run folder", runDir, e), e);
        }
    }

    /**
     * The loss of the last good (not skipped, finite) step up to {@code upToStep} in a run folder's
     * {@code metrics.jsonl}; NaN when there is none (or no file).
     */
    public static double lastLoss(Path runDir, long upToStep) {
        Path file = runDir.resolve("metrics.jsonl");
        double loss = Double.NaN;
        if (!Files.isRegularFile(file)) return loss;
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                try {
                    var m = JSON.readTree(line);
                    double l = m.path("loss").asDouble(Double.NaN);
                    if (m.path("step").asLong(Long.MAX_VALUE) <= upToStep && !m.path("skipped").asBoolean(false)
                            && Double.isFinite(l)) {
                        loss = l;
                    }
                } catch (IOException malformed) {
                    // a line cut short by a kill
                }
            }
        } catch (IOException e) {
            return Double.NaN;
        }
        return loss;
    }

    /** Writes {@code config.json}: the resolved configuration, the recipe's parts and the environment. */
    public void writeConfig(PretrainConfig config, String recipe, Map<String, Object> environment) {
        writeConfig(config, recipe, environment, false);
    }

    /**
     * Writes {@code config.json}. A fresh run writes its configuration, recipe and environment; a resumption of a
     * run whose {@code config.json} exists keeps that record as it is (the run's start: configuration, data identity)
     * and appends its own (configuration and environment) to the {@code resumes} array.
     */
    public void writeConfig(PretrainConfig config, String recipe, Map<String, Object> environment, boolean resumed) {
        ObjectNode root = PRETTY.createObjectNode();
        root.set("config", PRETTY.valueToTree(config));
        root.putPOJO("recipe", recipe.lines().map(String::strip).toList());
        root.set("environment", PRETTY.valueToTree(environment));
        Path existing = runDir.resolve("config.json");
        if (resumed && Files.isRegularFile(existing)) {
            try {
                var original = PRETTY.readTree(existing.toFile());
                if (original instanceof ObjectNode o && o.has("config")) {
                    ObjectNode resume = PRETTY.createObjectNode();
                    resume.set("config", root.get("config"));
                    resume.set("environment", root.get("environment"));
                    (o.get("resumes") instanceof com.fasterxml.jackson.databind.node.ArrayNode a ? a
                            : o.putArray("resumes")).add(resume);
                    root = o;
                }
            } catch (IOException unreadable) {
                // an unreadable record is replaced by this one
            }
        }
        try {
            Checkpoints.writeAtomically(runDir.resolve("config.json"), PRETTY.writeValueAsString(root) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot write", runDir.resolve("config.json"), e), e);
        }
    }

    /**
     * The data identity the run used most recently: the last resumption's that recorded one
     * ({@code resumes[].environment.data_identity} in {@code config.json}), else the run's start record; null when
     * there is none (a run from before it was recorded).
     */
    public static DataIdentity recordedIdentity(Path runDir) {
        var id = mostRecent(runDir, "data_identity");
        if (id == null) return null;
        return new DataIdentity(id.path("images").asLong(), id.path("sha256").asText(), id.path("data").asText());
    }

    /**
     * The teacher identity the run used most recently (as {@link #recordedIdentity}, from
     * {@code environment.teacher_identity}); null when none was recorded (a random teacher, or an older run).
     */
    public static TeacherIdentity recordedTeacher(Path runDir) {
        var id = mostRecent(runDir, "teacher_identity");
        if (id == null) return null;
        return new TeacherIdentity(id.path("size").asLong(), id.path("sha256").asText(), id.path("path").asText());
    }

    /**
     * The data folder the run used most recently ({@code config.data} of the last resumption, else of its start);
     * null when {@code config.json} holds none.
     */
    public static String recordedData(Path runDir) {
        Path file = runDir.resolve("config.json");
        if (!Files.isRegularFile(file)) return null;
        try {
            var root = JSON.readTree(file.toFile());
            var data = root.path("config").path("data");
            for (var r : root.path("resumes")) {
                if (r.path("config").path("data").isTextual()) data = r.path("config").path("data");
            }
            return data.isTextual() ? data.asText() : null;
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e), e);
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode mostRecent(Path runDir, String field) {
        Path file = runDir.resolve("config.json");
        if (!Files.isRegularFile(file)) return null;
        try {
            var root = JSON.readTree(file.toFile());
            var id = root.path("environment").path(field);
            for (var r : root.path("resumes")) {
                var later = r.path("environment").path(field);
                if (later.isObject()) id = later;
            }
            return id.isObject() ? id : null;
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot read", file, e), e);
        }
    }

    /** Appends one line to {@code metrics.jsonl} and flushes it. */
    public void append(StepMetrics m) {
        try {
            metrics.write(JSON.writeValueAsString(m));
            metrics.newLine();
            metrics.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot append to", runDir.resolve("metrics.jsonl"), e), e);
        }
    }

    @Override public void close() {
        try {
            metrics.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
