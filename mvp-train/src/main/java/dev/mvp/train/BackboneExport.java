package dev.mvp.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.models.PositionResampling.Style;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitCheckpoints.Layout;
import dev.mvp.models.VitConfig;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.VitConfig.RelativePosition;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import org.bytedeco.javacpp.PointerScope;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The student backbone of a pre-training checkpoint ({@link Checkpoints}' layout: {@code model.safetensors} holding
 * the student as {@code backbone.*} and the head as {@code head.*}, {@code state.json} holding the run definition),
 * exported alone in timm's or BEiT's naming ({@link VitCheckpoints}) as a safetensors file that Python loads with
 * {@code load_state_dict(..., strict=True)} without renaming.
 *
 * <p>The student's configuration is {@code backbone.config} of the checkpoint's {@code model.json} when it has one.
 * Older checkpoints have none: then it is the run's preset ({@code model}, {@code patch-size}, {@code img-size} of
 * {@code state.json}; heads cannot be read off the weights) with the options the weights show: q/v or fused qkv
 * bias, layer scale, shared or per-block relative position bias, absolute position embedding or none, mean pooling
 * ({@code fc_norm}). The weights are then loaded strictly into that model, so a checkpoint that does not fit is
 * refused naming the file and tensor before anything is written.
 */
public final class BackboneExport {
    /** Prefix of the student's tensors in {@code model.safetensors}. */
    public static final String PREFIX = "backbone.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private BackboneExport() {}

    /**
     * What an export wrote.
     *
     * @param checkpoint the checkpoint folder read
     * @param step       its training step
     * @param config     the student's configuration
     * @param layout     the naming written
     * @param tensors    tensors in the written file
     * @param parameters their total element count
     * @param out        the file written
     */
    public record Result(Path checkpoint, long step, VitConfig config, Layout layout, int tensors, long parameters, Path out) {}

    /** No checkpoint where one was expected, or an incomplete one. */
    public static final class NoCheckpointException extends RuntimeException {
        public NoCheckpointException(String message) {
            super(message);
        }
    }

    /**
     * The checkpoint folder {@code dir} names: a checkpoint folder itself ({@code model.safetensors} and
     * {@code state.json}), a run folder ({@code <dir>/checkpoints/}) or a checkpoints folder. In the last two, the
     * one {@code latest} names if it is complete, else the complete {@code step-N} with the largest N.
     *
     * @throws NoCheckpointException naming {@code dir} when it holds none
     */
    public static Path findCheckpoint(Path dir) {
        if (isComplete(dir)) return dir;
        Path folder = Files.isDirectory(dir.resolve("checkpoints")) ? dir.resolve("checkpoints") : dir;
        Path latest = folder.resolve("latest");
        if (Files.isRegularFile(latest)) {
            try {
                Path named = folder.resolve(Files.readString(latest).trim());
                if (isComplete(named)) return named;
            } catch (IOException | java.nio.file.InvalidPathException e) {
                // fall back to the newest complete step-N below
            }
        }
        try (Stream<Path> s = Files.list(folder)) {
            Optional<Path> newest = s.filter(p -> p.getFileName().toString().matches("step-\\d+") && isComplete(p))
                    .max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(5))));
            return newest.orElseThrow(() -> new NoCheckpointException(dir + " holds no checkpoint (expected "
                    + "model.safetensors and state.json in it, or in checkpoints/step-N/ below it)"));
        } catch (IOException e) {
            throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot list", folder, e), e);
        }
    }

    private static boolean isComplete(Path checkpoint) {
        return Files.isRegularFile(checkpoint.resolve("model.safetensors")) && Files.isRegularFile(checkpoint.resolve("state.json"));
    }

    /**
     * The student's configuration: {@code backbone.config} of {@code model.json}, or for checkpoints without one the
     * run's preset at its patch and image size with the options the weights under {@code backbone.} show.
     *
     * @throws WeightFormatException if the weights hold no {@code backbone.cls_token}
     * @throws NoCheckpointException if neither {@code model.json} nor {@code state.json} says what the student is
     */
    public static VitConfig studentConfig(Path checkpoint, SafeTensorsFile weights) {
        if (!weights.contains(PREFIX + "cls_token")) {
            throw WeightFormatException.of(weights.path(), PREFIX + "cls_token", "missing: no student backbone in this checkpoint");
        }
        Path modelJson = checkpoint.resolve("model.json");
        if (Files.isRegularFile(modelJson)) {
            try {
                JsonNode backbone = JSON.readTree(modelJson.toFile()).path("backbone");
                if (!backbone.path("type").asText().equals("vit")) {
                    throw new NoCheckpointException(modelJson + ": the backbone is '" + backbone.path("type").asText()
                            + "', not a Vision Transformer");
                }
                return JSON.treeToValue(backbone.path("config"), VitConfig.class);
            } catch (IOException | IllegalArgumentException e) {
                throw new NoCheckpointException(modelJson + ": cannot read backbone.config: " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
        return configFromRun(checkpoint, weights);
    }

    /** Checkpoints without model.json: the run's preset and the options the weights show. */
    private static VitConfig configFromRun(Path checkpoint, SafeTensorsFile weights) {
        Map<String, String> run = Checkpoints.readState(checkpoint).run();
        Path state = checkpoint.resolve("state.json");
        if (run == null || !run.containsKey("model") || !run.containsKey("patch-size") || !run.containsKey("img-size")) {
            throw new NoCheckpointException(state + ": the run definition lacks model, patch-size or img-size");
        }
        VitConfig c;
        try {
            c = PretrainConfig.studentPreset(run.get("model"), Integer.parseInt(run.get("img-size")),
                    Integer.parseInt(run.get("patch-size")));
        } catch (IllegalArgumentException e) {
            throw new NoCheckpointException(state + ": " + e.getMessage());
        }
        String block = PREFIX + "blocks.0.";
        c = c.withQkvBias(weights.contains(block + "attn.q_bias") ? QkvBias.QV
                : weights.contains(block + "attn.qkv.bias") ? QkvBias.QKV : QkvBias.NONE);
        if (weights.contains(block + "ls1.gamma")) c = c.withLayerScale(layerScale(run.get("layer-scale"), c));
        if (weights.contains(PREFIX + "rel_pos_bias.relative_position_bias_table")) {
            c = c.withRelativePosition(RelativePosition.SHARED);
        } else if (weights.contains(block + "attn.relative_position_bias_table")) {
            c = c.withRelativePosition(RelativePosition.PER_BLOCK);
        }
        c = c.withAbsolutePosition(weights.contains(PREFIX + "pos_embed"));
        if (weights.contains(PREFIX + "fc_norm.weight")) c = c.withPooling(Pooling.MEAN);
        return c;
    }

    /** The run's layer scale if it names one, else BEiT's rule (0.1, 1e-5 from width 1024 on); only initialisation reads it. */
    private static double layerScale(String value, VitConfig c) {
        if (value != null && value.matches("[0-9.eE+-]+")) {
            try {
                double v = Double.parseDouble(value);
                if (v > 0) return v;
            } catch (NumberFormatException e) {
                // not a number after all: the rule below
            }
        }
        return c.width() >= 1024 ? 1e-5 : 0.1;
    }

    /**
     * The student of {@code checkpoint}, loaded strictly (every parameter, no extra tensor under {@code backbone.}).
     * Call outside any PointerScope; the caller closes the model.
     */
    public static VisionTransformer loadStudent(Path checkpoint) {
        try (SafeTensorsFile weights = SafeTensorsFile.open(checkpoint.resolve("model.safetensors"))) {
            return VitCheckpoints.load(weights, PREFIX, studentConfig(checkpoint, weights), Style.TIMM);
        }
    }

    /**
     * Exports the student of the checkpoint {@code dir} names ({@link #findCheckpoint}) in {@code layout} to
     * {@code out}, atomically. The header's metadata holds {@code format: pt}, the layout, the source checkpoint
     * and step, the configuration ({@code mvp_vit_config}, JSON) and the Python lines that load the file
     * ({@code load_with}).
     *
     * @throws NoCheckpointException    if {@code dir} holds no usable checkpoint
     * @throws WeightFormatException    if its weights do not fit the run's student
     * @throws IllegalArgumentException if the layout cannot hold the student (a relative position bias in timm's)
     */
    public static Result export(Path dir, Layout layout, Path out) {
        Path checkpoint = findCheckpoint(dir);
        long step = Checkpoints.readState(checkpoint).step();
        VitConfig config;
        try (VisionTransformer student = loadStudent(checkpoint); PointerScope scope = new PointerScope()) {
            config = student.config();
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("mvp_checkpoint", checkpoint.toAbsolutePath().normalize().toString());
            metadata.put("mvp_step", Long.toString(step));
            metadata.put("mvp_vit_config", json(config));
            metadata.put("load_with", VitCheckpoints.pythonSnippet(config, layout, out.getFileName().toString()));
            VitCheckpoints.save(StateDict.of(student), layout, out, metadata);
        }
        try (SafeTensorsFile written = SafeTensorsFile.open(out)) {
            long parameters = 0;
            for (String name : written.names()) parameters += written.info(name).numel();
            return new Result(checkpoint, step, config, layout, written.names().size(), parameters, out);
        }
    }

    private static String json(VitConfig config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
