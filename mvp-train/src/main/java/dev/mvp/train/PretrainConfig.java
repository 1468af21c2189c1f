package dev.mvp.train;

import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import dev.mvp.data.ImageDecoders;
import dev.mvp.models.VitConfig;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything that defines a pre-training run. Names follow the papers; defaults are MVP's/BEiT's where the value is
 * scale-free (learning rate, weight decay, betas, clipping, mask ratio) and a small CPU run where it is not (model,
 * image size, batch, steps), so that a run with no flags finishes in minutes.
 *
 * <p><b>Steps and batches.</b> One optimisation step consumes {@code accumSteps} loader batches of {@code batchSize}
 * images (gradient accumulation), so the effective batch is {@link #effectiveBatchSize()}. Step counts (run length,
 * warm-up, checkpoints) are optimisation steps; an epoch is {@code dataset size / batchSize} loader batches
 * (the last incomplete one dropped), i.e. {@link #stepsPerEpoch(int)} optimisation steps.
 *
 * <p><b>Learning rate.</b> Either {@code lr} is the peak learning rate itself ({@code --lr}, or the default), or
 * {@code baseLr} gives it by the linear scaling rule {@code lr = baseLr * effectiveBatchSize / 256} (Goyal et al.
 * 2017; MAE's {@code --blr}); {@link #lrSource()} says which, and the constructor derives the other, so both record
 * what the run uses. MVP's 1.5e-3 at batch 2048 is a base lr of 1.875e-4. *
 * @param data                 an image folder (class sub-folders or one flat folder) or a file list (a text file, one
 *                             {@code path [label]} per line, relative paths against its folder); see
 *                             {@code ImageDataset.open}
 * @param teacher              the teacher's weight file (CLIP, DINO or the d-VAE, as the recipe's tokenizer needs), or
 *                             {@code random} for a deterministic random CLIP-layout teacher (and for tokenizers without
 *                             weights: HOG, pixels)
 * @param model                student preset: tiny, small, base or large
 * @param imageSize            student (and teacher) input side in pixels; the paper uses 224
 * @param patchSize            patch side; the paper uses 16
 * @param maskPatches          masked patches at a 14x14 grid (MVP and BEiT: 75 of 196); scaled for other grids. The
 *                             builder's default is the recipe's (MVP, BEiT, DINO-guided: 75; MaskFeat: 78; MAE-style: 147)
 * @param batchSize            images per loader batch (per forward/backward pass)
 * @param accumSteps           loader batches whose gradients are summed into one optimisation step (1 = none)
 * @param steps                optimisation steps; 0 when {@code epochs} decides
 * @param epochs               passes over the data; 0 when {@code steps} decides
 * @param lr                   peak learning rate after warm-up (the paper: 1.5e-3 at batch 2048); derived from
 *                             {@code baseLr} when {@code lrSource} is {@link LrSource#BASE_LR}
 * @param baseLr               the learning rate per 256 images of effective batch (the linear scaling rule): given
 *                             ({@link LrSource#BASE_LR}), else derived from {@code lr}
 * @param minLr                final learning rate of the cosine decay (BEiT: 1e-5)
 * @param weightDecay          AdamW weight decay at the start (0.05), not applied to biases, norms, position/CLS/mask
 *                             tokens and relative-position tables
 * @param weightDecayEnd       weight decay at the end of a cosine weight-decay schedule (BEiT's
 *                             {@code --weight_decay_end}); equal to {@code weightDecay} for a constant one
 * @param warmupSteps          linear warm-up optimisation steps from 0 to {@code lr}; 0 when {@code warmupEpochs} decides
 * @param warmupEpochs         warm-up length in epochs (BEiT/MVP: 10 of 300); 0 when {@code warmupSteps} decides
 * @param clipGrad             max global gradient norm (BEiT: 3.0); 0 disables clipping
 * @param beta1                AdamW beta1 (0.9)
 * @param beta2                AdamW beta2 (BEiT pre-training: 0.98; PyTorch's default 0.999)
 * @param dropPath             stochastic depth rate of the student's last block, or {@code null} for the model preset's
 *                             own value (timm presets: 0; BEiT pre-training: 0.1)
 * @param layerScale           initial layer-scale value of the student, 0 for none, or {@code null} for the preset's own
 *                             value (timm presets: none; BEiT: 0.1 for base, 1e-5 for large)
 * @param precision            the student's forward pass: FP32, or BF16/FP16 autocast (weights, gradients and
 *                             optimiser state stay float32); FP16 always with dynamic loss scaling ({@link LossScaler})
 * @param teacherPrecision     the teacher: FP32, or its weights converted once to BF16/FP16 and run under autocast of
 *                             that type ({@link PlacedTeacher}); targets are handed on as float32
 * @param seed                 seeds the student's init, the data order, crops, flips, masks and every per-step draw
 * @param out                  run folder: config.json, metrics.jsonl, checkpoints/
 * @param threads              libtorch and OpenBLAS threads (0 = all cores)
 * @param workers              data-loading threads (0 = as many as cores)
 * @param checkpointEvery      write a checkpoint every this many steps (0 = not by step count)
 * @param checkpointEveryEpochs write a checkpoint at the end of every this many epochs (0 = not at epoch ends)
 * @param keepCheckpoints      how many of the newest checkpoints to keep
 * @param maxConsecutiveNonFinite   stop the run when this many consecutive steps had a non-finite loss or gradient
 * @param maxBadFraction       stop when more than this fraction of the files read fail to decode
 * @param recipe               the recipe: a paper's preset and any part swapped ({@link Recipes#build(PretrainConfig)});
 *                             {@code null} for MVP's. Its mask count is kept equal to {@code maskPatches}: an override
 *                             exactly when {@code maskPatches} differs from the preset's
 * @param augmentation         random crops and flips (BEiT's), or fixed central crops (what a teacher cache needs)
 * @param teacherCache         a {@link TargetCache} folder (built on first use, validated after), or {@code null} to
 *                             run the teacher every step
 * @param teacherCacheFloat16  store a newly built cache's targets as float16 (half the disk)
 * @param decoder              the image decoder's name ({@link ImageDecoders#named}): {@code auto} (libjpeg-turbo when
 *                             installed, else ImageIO), {@code turbojpeg} or {@code imageio}; {@code null} for
 *                             {@code auto}. Not part of {@link #runDefinition()}: both decoders give PIL's pixels but
 *                             on rare files (4:4:0 JPEGs), so a run may resume on a machine without libjpeg-turbo
 * @param device               where the student, head, teacher, batches and optimiser state live ({@link Devices});
 *                             {@code null} for the CPU. Not part of {@link #runDefinition()}: a run may resume on
 *                             another device
 * @param lrSource             where the peak learning rate came from ({@link LrSource}); {@code null} for a
 *                             configuration written before it was recorded: {@link LrSource#BASE_LR} when
 *                             {@code baseLr > 0}, else {@link LrSource#LR}
 * @param imageSizeSource      where {@code imageSize} came from, in words for config.json and the run's header:
 *                             {@code default}, {@code --img-size}, or the teacher's grid it was chosen to match;
 *                             {@code null} for {@code --img-size}
 *
 * <p>{@code data}, {@code out} and {@code teacherCache} are written to JSON as plain paths (older config.json files
 * hold {@code file://} URIs; both read back).
 */
public record PretrainConfig(@JsonSerialize(using = ToStringSerializer.class) Path data, String teacher, String model, int imageSize, int patchSize, int maskPatches,
                             int batchSize, int accumSteps, long steps, int epochs, double lr, double baseLr,
                             double minLr, double weightDecay, double weightDecayEnd, long warmupSteps,
                             int warmupEpochs, double clipGrad, double beta1, double beta2, Double dropPath,
                             Double layerScale, Precision precision, Precision teacherPrecision, long seed,
                             @JsonSerialize(using = ToStringSerializer.class) Path out,
                             int threads, int workers, long checkpointEvery, int checkpointEveryEpochs,
                             int keepCheckpoints, int maxConsecutiveNonFinite, double maxBadFraction,
                             RecipeSpec recipe, Augmentation augmentation,
                             @JsonSerialize(using = ToStringSerializer.class) Path teacherCache,
                             boolean teacherCacheFloat16, String decoder, ComputeDevice device, LrSource lrSource,
                             String imageSizeSource) {

    /** How each sample is cropped. */
    public enum Augmentation {
        /** BEiT's: RandomResizedCrop(0.08, 1), flipped with probability 0.5; a new crop every epoch. */
        RANDOM,
        /** The central square of each image, never flipped ({@link TargetCache#FIXED_CROP}); masks still vary. */
        FIXED
    }

    /** Where the peak learning rate came from. */
    public enum LrSource {
        /** No learning-rate flag: {@link #DEFAULT_LR}. */
        DEFAULT("the default --lr"),
        /** {@code --lr}: the peak learning rate itself. */
        LR("--lr"),
        /** {@code --base-lr}: the linear scaling rule. */
        BASE_LR("--base-lr");

        /** How the run's header and config.json say it. */
        public final String label;

        LrSource(String label) {
            this.label = label;
        }
    }

    // Defaults. Scale-free values are the paper's (MVP Sec. 4.1, BEiT's pre-training recipe); the others make the
    // embedded default run: ViT-Ti at 112x112 with 16x16 patches (a 7x7 grid), a few minutes on 2 CPU cores.
    public static final String DEFAULT_TEACHER = "random";
    public static final String DEFAULT_MODEL = "tiny";
    public static final int DEFAULT_IMAGE_SIZE = 112;
    /**
     * The most --threads and --workers a run may ask for: 4 x the available processors, at least 256 (so a run
     * resumed on a smaller machine keeps its settings). Beyond it a typo (100000) would start thousands of threads.
     */
    public static final int MAX_THREADS = Math.max(256, 4 * Runtime.getRuntime().availableProcessors());
    public static final int DEFAULT_PATCH_SIZE = 16;
    /** The largest input side a run takes: 1024 pixels (BEiT/MVP pre-train at 224, segment at 512). */
    public static final int MAX_IMAGE_SIZE = 1024;
    /** The most patches per side (64 x 64 = 4096 tokens; attention memory grows with its square). */
    public static final int MAX_GRID = 64;
    /**
     * The largest learning rate or weight decay a run takes (1000): beyond it the optimiser's float arithmetic
     * overflows (libtorch: "value cannot be converted to type float without overflow") long before any recipe would
     * use it.
     */
    public static final double MAX_RATE = 1000;
    /** The largest --clip-grad (a million): libtorch's clip_grad_norm_ overflows float beyond about 3.4e38. */
    public static final double MAX_CLIP_GRAD = 1e6;
    public static final int DEFAULT_MASK_PATCHES = 75;
    public static final int DEFAULT_BATCH_SIZE = 16;
    public static final int DEFAULT_ACCUM_STEPS = 1;
    public static final long DEFAULT_STEPS = 100;
    public static final double DEFAULT_LR = 1.5e-3;
    /** The images per base learning rate in the linear scaling rule. */
    public static final int LR_REFERENCE_BATCH = 256;
    public static final double DEFAULT_MIN_LR = 1e-5;
    public static final double DEFAULT_WEIGHT_DECAY = 0.05;
    public static final long DEFAULT_WARMUP_STEPS = 20;
    public static final double DEFAULT_CLIP_GRAD = 3.0;
    public static final double DEFAULT_BETA1 = 0.9;
    public static final double DEFAULT_BETA2 = 0.98;
    public static final long DEFAULT_SEED = 0;
    public static final int DEFAULT_CHECKPOINT_EVERY_EPOCHS = 1;
    public static final int DEFAULT_KEEP_CHECKPOINTS = 2;
    public static final int DEFAULT_MAX_CONSECUTIVE_NON_FINITE = 10;
    public static final double DEFAULT_MAX_BAD_FRACTION = 0.1;

    public PretrainConfig {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(teacher, "teacher");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(out, "out");
        if (precision == null) precision = Precision.FP32;
        if (teacherPrecision == null) teacherPrecision = Precision.FP32;
        if (device == null) device = ComputeDevice.CPU;
        try {
            VitConfig.preset(model, 16); // the name only: the sizes are checked next
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--model: " + e.getMessage());
        }
        require(patchSize > 0 && patchSize <= MAX_IMAGE_SIZE, "--patch-size must be in 1.." + MAX_IMAGE_SIZE + ", got " + patchSize);
        require(imageSize > 0 && imageSize % patchSize == 0,
                "--img-size " + imageSize + " must be a positive multiple of --patch-size " + patchSize);
        require(imageSize <= MAX_IMAGE_SIZE && imageSize / patchSize <= MAX_GRID, "--img-size " + imageSize + " is too large: at most "
                + MAX_IMAGE_SIZE + " pixels and " + MAX_GRID + " patches a side (" + Math.min(MAX_IMAGE_SIZE, MAX_GRID * patchSize)
                + " at --patch-size " + patchSize + ")");
        require(maskPatches >= 0 && maskPatches <= 196, "--mask-patches must be in [0, 196] (a count at 14x14), got " + maskPatches);
        require(batchSize > 0, "--batch-size must be positive, got " + batchSize);
        require(accumSteps > 0, "--accum-steps must be positive, got " + accumSteps);
        require((long) batchSize * accumSteps <= Integer.MAX_VALUE, "--batch-size " + batchSize + " x --accum-steps "
                + accumSteps + " must be at most " + Integer.MAX_VALUE + " images per step");
        require(steps >= 0 && epochs >= 0, "--steps and --epochs must not be negative");
        require(steps > 0 || epochs > 0, epochs == 0 && steps == 0 ? "--steps must be at least 1 (or give --epochs), got 0"
                : "give exactly one of --steps or --epochs");
        require(steps == 0 || epochs == 0, "give exactly one of --steps or --epochs");
        require(baseLr >= 0 && Double.isFinite(baseLr), "--base-lr must be positive, got " + baseLr);
        if (lrSource == null) lrSource = baseLr > 0 ? LrSource.BASE_LR : LrSource.LR;
        if (lrSource == LrSource.BASE_LR) {
            require(baseLr > 0, "--base-lr must be positive, got " + baseLr);
            lr = baseLr * ((long) batchSize * accumSteps) / LR_REFERENCE_BATCH;
        }
        require(lr > 0 && lr <= MAX_RATE, lrSource == LrSource.BASE_LR
                ? "--base-lr " + baseLr + " gives lr " + lr + " at effective batch " + (long) batchSize * accumSteps
                        + "; the lr must be in (0, " + (int) MAX_RATE + "]"
                : "--lr must be in (0, " + (int) MAX_RATE + "], got " + lr);
        // recorded as used: the base lr the peak lr amounts to, whichever was given
        if (lrSource != LrSource.BASE_LR) baseLr = lr * LR_REFERENCE_BATCH / ((double) batchSize * accumSteps);
        require(minLr >= 0 && minLr <= lr, "--min-lr must be in [0, lr " + lr + "], got " + minLr);
        require(weightDecay >= 0 && weightDecay <= MAX_RATE, "--weight-decay must be in [0, " + (int) MAX_RATE + "], got " + weightDecay);
        require(weightDecayEnd >= 0 && weightDecayEnd <= MAX_RATE, "--weight-decay-end must be in [0, " + (int) MAX_RATE + "], got " + weightDecayEnd);
        require(warmupSteps >= 0 && warmupEpochs >= 0, "--warmup-steps and --warmup-epochs must not be negative");
        require(warmupSteps == 0 || warmupEpochs == 0, "give --warmup-steps or --warmup-epochs, not both");
        require(clipGrad >= 0 && clipGrad <= MAX_CLIP_GRAD, "--clip-grad must be in [0, " + (long) MAX_CLIP_GRAD
                + "] (0: no clipping), got " + clipGrad);
        require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "--betas must be in [0, 1), got " + beta1 + "," + beta2);
        require(dropPath == null || (dropPath >= 0 && dropPath < 1), "--drop-path must be in [0, 1), got " + dropPath);
        require(layerScale == null || (layerScale >= 0 && layerScale <= MAX_RATE),
                "--layer-scale must be in [0, " + (int) MAX_RATE + "] (0 = none), got " + layerScale);
        require(threads >= 0 && workers >= 0, "--threads and --workers must not be negative");
        require(threads <= MAX_THREADS, "--threads " + threads + " is more than " + MAX_THREADS
                + " (the bound: 4 x this machine's " + Runtime.getRuntime().availableProcessors() + " cores, at least 256)");
        require(workers <= MAX_THREADS, "--workers " + workers + " is more than " + MAX_THREADS
                + " (the bound: 4 x this machine's " + Runtime.getRuntime().availableProcessors() + " cores, at least 256)");
        require(checkpointEvery >= 0, "--checkpoint-every must not be negative");
        require(checkpointEveryEpochs >= 0, "--checkpoint-every-epochs must not be negative");
        require(keepCheckpoints >= 1, "--keep-checkpoints must be at least 1");
        require(maxConsecutiveNonFinite >= 1, "--max-non-finite must be at least 1, got " + maxConsecutiveNonFinite);
        require(maxBadFraction >= 0 && maxBadFraction <= 1, "--max-bad-fraction must be in [0, 1]");
        if (augmentation == null) augmentation = Augmentation.RANDOM;
        require(teacherCache == null || augmentation == Augmentation.FIXED, "--teacher-cache needs --augmentation fixed:"
                + " the targets of random crops change every epoch");
        if (recipe == null) recipe = RecipeSpec.of(RecipeSpec.Preset.MVP);
        try {
            decoder = ImageDecoders.checkName(decoder == null ? "auto" : decoder);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--decoder: " + e.getMessage());
        }
        recipe = recipe.withMaskPatches(maskPatches == recipe.preset().maskPatches ? null : maskPatches);
        if (imageSizeSource == null) imageSizeSource = "--img-size";
    }

    /**
     * The student preset {@code model} at {@code imageSize} and {@code patchSize}. Not
     * {@code VitConfig.preset(model, patchSize).withImageSize(imageSize)}: that makes the preset at its 224 pixels
     * first, which refuses a patch size that does not divide 224 (12, 32 at other sizes) before the size is replaced.
     */
    public static VitConfig studentPreset(String model, int imageSize, int patchSize) {
        VitConfig p = VitConfig.preset(model, 16);
        return new VitConfig(imageSize, patchSize, p.width(), p.depth(), p.heads(), p.mlpRatio(), p.qkvBias(),
                p.layerNormEps(), p.layerScale(), p.relativePosition(), p.absolutePosition(), p.dropPath(), p.pooling(),
                p.numClasses(), p.attention());
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    /** Images per optimisation step: {@code batchSize * accumSteps}. */
    public int effectiveBatchSize() {
        return Math.multiplyExact(batchSize, accumSteps);
    }

    /** The base learning rate {@code lr * 256 / effectiveBatchSize}, whichever of the two was given. */
    public double effectiveBaseLr() {
        return baseLr;
    }

    /**
     * How the peak learning rate was set, e.g. {@code lr 0.00150000 = base lr 0.000187500 x effective batch 2048
     * (2048 x 1 accumulated) / 256 (from: --lr)}; {@code from: the default --lr} when no learning-rate flag was given.
     */
    public String lrRule() {
        return String.format(java.util.Locale.ROOT, "lr %.6g = base lr %.6g x effective batch %d (%d x %d accumulated) / %d (from: %s)",
                lr, baseLr, effectiveBatchSize(), batchSize, accumSteps, LR_REFERENCE_BATCH, lrSource.label);
    }

    /** Optimisation steps per epoch: the loader batches of an epoch over {@code accumSteps} (may be fractional). */
    public double stepsPerEpoch(int batchesPerEpoch) {
        return batchesPerEpoch / (double) accumSteps;
    }

    /** The run length in optimisation steps, given the loader batches of an epoch. */
    public long totalSteps(int batchesPerEpoch) {
        return steps > 0 ? steps : (long) epochs * batchesPerEpoch / accumSteps;
    }

    /** The warm-up length in optimisation steps, given the loader batches of an epoch (at most the run length). */
    public long warmupStepsFor(int batchesPerEpoch) {
        long w = warmupEpochs > 0 ? (long) warmupEpochs * batchesPerEpoch / accumSteps : warmupSteps;
        return Math.min(w, totalSteps(batchesPerEpoch));
    }

    /**
     * The values that define a run's trajectory (not where it writes, how many threads it uses or how often it
     * checkpoints): a run may only be resumed with the same ones.
     */
    public Map<String, String> runDefinition() {
        var m = new LinkedHashMap<String, String>();
        m.put("teacher", teacher);
        m.put("model", model);
        m.put("img-size", Integer.toString(imageSize));
        m.put("patch-size", Integer.toString(patchSize));
        m.put("mask-patches", Integer.toString(maskPatches));
        m.put("batch-size", Integer.toString(batchSize));
        m.put("accum-steps", Integer.toString(accumSteps));
        m.put("steps", Long.toString(steps));
        m.put("epochs", Integer.toString(epochs));
        m.put("lr", Double.toString(lr));
        m.put("min-lr", Double.toString(minLr));
        m.put("weight-decay", Double.toString(weightDecay));
        m.put("weight-decay-end", Double.toString(weightDecayEnd));
        m.put("warmup-steps", Long.toString(warmupSteps));
        m.put("warmup-epochs", Integer.toString(warmupEpochs));
        m.put("clip-grad", Double.toString(clipGrad));
        m.put("betas", beta1 + "," + beta2);
        m.put("drop-path", dropPath == null ? "preset" : dropPath.toString());
        m.put("layer-scale", layerScale == null ? "preset" : layerScale.toString());
        m.put("precision", precision.name());
        m.put("teacher-precision", teacherPrecision.name());
        m.put("seed", Long.toString(seed));
        m.put("recipe", recipe.name());
        m.put("augmentation", augmentation.name());
        return m;
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    public static Builder builder(Path data, Path out) {
        return new Builder(data, out);
    }

    /** Fluent construction from the defaults. */
    public static final class Builder {
        private Path data;
        private String teacher = DEFAULT_TEACHER;
        private String model = DEFAULT_MODEL;
        private int imageSize = DEFAULT_IMAGE_SIZE;
        private int patchSize = DEFAULT_PATCH_SIZE;
        private Integer maskPatches = null; // null: the recipe's
        private int batchSize = DEFAULT_BATCH_SIZE;
        private int accumSteps = DEFAULT_ACCUM_STEPS;
        private long steps = DEFAULT_STEPS;
        private int epochs = 0;
        private double lr = DEFAULT_LR;
        private double baseLr = 0;
        private double minLr = DEFAULT_MIN_LR;
        private double weightDecay = DEFAULT_WEIGHT_DECAY;
        private Double weightDecayEnd = null; // null: constant weight decay
        private long warmupSteps = DEFAULT_WARMUP_STEPS;
        private int warmupEpochs = 0;
        private double clipGrad = DEFAULT_CLIP_GRAD;
        private double beta1 = DEFAULT_BETA1;
        private double beta2 = DEFAULT_BETA2;
        private Double dropPath = null;
        private Double layerScale = null;
        private Precision precision = Precision.FP32;
        private Precision teacherPrecision = Precision.FP32;
        private long seed = DEFAULT_SEED;
        private Path out;
        private int threads = 0;
        private int workers = 0;
        private long checkpointEvery = 0;
        private int checkpointEveryEpochs = DEFAULT_CHECKPOINT_EVERY_EPOCHS;
        private int keepCheckpoints = DEFAULT_KEEP_CHECKPOINTS;
        private int maxConsecutiveNonFinite = DEFAULT_MAX_CONSECUTIVE_NON_FINITE;
        private double maxBadFraction = DEFAULT_MAX_BAD_FRACTION;
        private RecipeSpec recipe = null;
        private Augmentation augmentation = Augmentation.RANDOM;
        private Path teacherCache = null;
        private boolean teacherCacheFloat16 = false;
        private String decoder = "auto";
        private ComputeDevice device = ComputeDevice.CPU;
        private LrSource lrSource = LrSource.DEFAULT;
        private String imageSizeSource = "default";

        private Builder(Path data, Path out) {
            this.data = data;
            this.out = out;
        }

        private Builder(PretrainConfig c) {
            data = c.data; teacher = c.teacher; model = c.model; imageSize = c.imageSize; patchSize = c.patchSize;
            maskPatches = c.maskPatches; batchSize = c.batchSize; accumSteps = c.accumSteps; steps = c.steps;
            epochs = c.epochs; lr = c.lr; baseLr = c.baseLr; minLr = c.minLr; weightDecay = c.weightDecay;
            weightDecayEnd = c.weightDecayEnd == c.weightDecay ? null : c.weightDecayEnd; warmupSteps = c.warmupSteps; warmupEpochs = c.warmupEpochs;
            clipGrad = c.clipGrad; beta1 = c.beta1; beta2 = c.beta2; dropPath = c.dropPath; layerScale = c.layerScale;
            precision = c.precision; teacherPrecision = c.teacherPrecision; seed = c.seed; out = c.out;
            threads = c.threads; workers = c.workers; checkpointEvery = c.checkpointEvery;
            checkpointEveryEpochs = c.checkpointEveryEpochs; keepCheckpoints = c.keepCheckpoints;
            maxConsecutiveNonFinite = c.maxConsecutiveNonFinite; maxBadFraction = c.maxBadFraction; recipe = c.recipe;
            augmentation = c.augmentation; teacherCache = c.teacherCache; teacherCacheFloat16 = c.teacherCacheFloat16;
            decoder = c.decoder; device = c.device; lrSource = c.lrSource; imageSizeSource = c.imageSizeSource;
        }

        public Builder data(Path v) { data = v; return this; }
        public Builder teacher(String v) { teacher = v; return this; }
        public Builder model(String v) { model = v; return this; }
        /** The input side, as given ({@code --img-size}). */
        public Builder imageSize(int v) { return imageSize(v, "--img-size"); }
        /** The input side and where it came from, in words (e.g. the teacher grid it matches). */
        public Builder imageSize(int v, String source) { imageSize = v; imageSizeSource = source; return this; }
        public Builder patchSize(int v) { patchSize = v; return this; }
        /** Masked patches at a 14x14 grid; not set: the recipe's preset's. */
        public Builder maskPatches(int v) { maskPatches = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        public Builder accumSteps(int v) { accumSteps = v; return this; }
        /** Sets the run length in steps (and clears epochs). */
        public Builder steps(long v) { steps = v; epochs = 0; return this; }
        /** Sets the run length in epochs (and clears steps). */
        public Builder epochs(int v) { epochs = v; steps = 0; return this; }
        /** Sets the peak learning rate itself (and clears a base lr). */
        public Builder lr(double v) { lr = v; baseLr = 0; lrSource = LrSource.LR; return this; }
        /** Sets the peak learning rate by the linear scaling rule: {@code v * effective batch / 256}. */
        public Builder baseLr(double v) { baseLr = v; lrSource = LrSource.BASE_LR; return this; }
        public Builder minLr(double v) { minLr = v; return this; }
        /** The weight decay; constant unless {@link #weightDecayEnd} is set too. */
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        /** The weight decay at the end of a cosine weight-decay schedule; {@code null} for a constant one. */
        public Builder weightDecayEnd(Double v) { weightDecayEnd = v; return this; }
        /** Sets the warm-up in steps (and clears warm-up epochs). */
        public Builder warmupSteps(long v) { warmupSteps = v; warmupEpochs = 0; return this; }
        /** Sets the warm-up in epochs (and clears warm-up steps). */
        public Builder warmupEpochs(int v) { warmupEpochs = v; warmupSteps = 0; return this; }
        public Builder clipGrad(double v) { clipGrad = v; return this; }
        public Builder betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        /** The student's stochastic depth rate; {@code null} keeps the model preset's. */
        public Builder dropPath(Double v) { dropPath = v; return this; }
        /** The student's initial layer scale (0 = none); {@code null} keeps the model preset's. */
        public Builder layerScale(Double v) { layerScale = v; return this; }
        public Builder precision(Precision v) { precision = v; return this; }
        public Builder teacherPrecision(Precision v) { teacherPrecision = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder out(Path v) { out = v; return this; }
        public Builder threads(int v) { threads = v; return this; }
        public Builder workers(int v) { workers = v; return this; }
        public Builder checkpointEvery(long v) { checkpointEvery = v; return this; }
        public Builder checkpointEveryEpochs(int v) { checkpointEveryEpochs = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        public Builder maxConsecutiveNonFinite(int v) { maxConsecutiveNonFinite = v; return this; }
        public Builder maxBadFraction(double v) { maxBadFraction = v; return this; }
        public Builder augmentation(Augmentation v) { augmentation = v; return this; }
        /** A teacher cache folder (needs {@link Augmentation#FIXED}); {@code null} for none. */
        public Builder teacherCache(Path v) { teacherCache = v; return this; }
        public Builder teacherCacheFloat16(boolean v) { teacherCacheFloat16 = v; return this; }
        /** The image decoder: auto, turbojpeg or imageio ({@link ImageDecoders#named}). */
        public Builder decoder(String v) { decoder = v; return this; }
        /** Where the run computes: the CPU or a CUDA device ({@link Devices}). */
        public Builder device(ComputeDevice v) { device = v; return this; }
        /**
         * The recipe (a preset and swapped parts); also sets the mask count to the recipe's (its override, else its
         * preset's), so call {@link #maskPatches} after this to choose another.
         */
        public Builder recipe(RecipeSpec v) {
            recipe = v;
            maskPatches = v == null ? null : v.maskPatches();
            return this;
        }

        public PretrainConfig build() {
            RecipeSpec r = recipe != null ? recipe : RecipeSpec.of(RecipeSpec.Preset.MVP);
            int masked = maskPatches != null ? maskPatches : r.preset().maskPatches;
            return new PretrainConfig(data, teacher, model, imageSize, patchSize, masked, batchSize, accumSteps,
                    steps, epochs, lr, baseLr, minLr, weightDecay, weightDecayEnd == null ? weightDecay : weightDecayEnd,
                    warmupSteps, warmupEpochs, clipGrad, beta1, beta2, dropPath, layerScale, precision,
                    teacherPrecision, seed, out, threads, workers, checkpointEvery, checkpointEveryEpochs,
                    keepCheckpoints, maxConsecutiveNonFinite, maxBadFraction, r, augmentation, teacherCache,
                    teacherCacheFloat16, decoder, device, lrSource, imageSizeSource);
        }
    }
}
