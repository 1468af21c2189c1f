package dev.mvp.train;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything that defines a pre-training run. Names follow the papers; defaults are MVP's/BEiT's where the value is
 * scale-free (learning rate, weight decay, betas, clipping, mask ratio) and a small CPU run where it is not (model,
 * image size, batch, steps), so that a run with no flags finishes in minutes.
 *
 * @param data          image folder (class sub-folders or one flat folder)
 * @param teacher       a CLIP safetensors file, or {@code random} for a deterministic random CLIP-layout teacher
 * @param model         student preset: tiny, small, base or large
 * @param imageSize     student (and teacher) input side in pixels; the paper uses 224
 * @param patchSize     patch side; the paper uses 16
 * @param maskPatches   masked patches at a 14x14 grid (the paper: 75 of 196); scaled for other grids
 * @param batchSize     images per step (the paper: 2048 over 32 GPUs)
 * @param steps         optimisation steps; 0 when {@code epochs} decides
 * @param epochs        passes over the data; 0 when {@code steps} decides
 * @param lr            peak learning rate after warm-up (the paper: 1.5e-3)
 * @param minLr         final learning rate of the cosine decay (BEiT: 1e-5)
 * @param weightDecay   AdamW weight decay (0.05), not applied to biases, norms, position/CLS/mask tokens
 * @param warmupSteps   linear warm-up steps from 0 to {@code lr}
 * @param clipGrad      max global gradient norm (BEiT: 3.0); 0 disables clipping
 * @param beta1         AdamW beta1 (0.9)
 * @param beta2         AdamW beta2 (BEiT pre-training: 0.98)
 * @param seed          seeds the student's init, the data order, crops, flips, masks and every per-step draw
 * @param out           run folder: config.json, metrics.jsonl, checkpoints/
 * @param threads       libtorch and OpenBLAS threads (0 = all cores)
 * @param workers       data-loading threads (0 = as many as cores)
 * @param checkpointEvery write a checkpoint every this many steps (0 = only at the end)
 * @param keepCheckpoints how many of the newest checkpoints to keep
 * @param maxBadFraction stop when more than this fraction of the files read fail to decode
 */
public record PretrainConfig(Path data, String teacher, String model, int imageSize, int patchSize, int maskPatches,
                             int batchSize, long steps, int epochs, double lr, double minLr, double weightDecay,
                             long warmupSteps, double clipGrad, double beta1, double beta2, long seed, Path out,
                             int threads, int workers, long checkpointEvery, int keepCheckpoints,
                             double maxBadFraction) {

    // Defaults. Scale-free values are the paper's (MVP Sec. 4.1, BEiT's pre-training recipe); the others make the
    // embedded default run: ViT-Ti at 112x112 with 16x16 patches (a 7x7 grid), a few minutes on 2 CPU cores.
    public static final String DEFAULT_TEACHER = "random";
    public static final String DEFAULT_MODEL = "tiny";
    public static final int DEFAULT_IMAGE_SIZE = 112;
    public static final int DEFAULT_PATCH_SIZE = 16;
    public static final int DEFAULT_MASK_PATCHES = 75;
    public static final int DEFAULT_BATCH_SIZE = 16;
    public static final long DEFAULT_STEPS = 100;
    public static final double DEFAULT_LR = 1.5e-3;
    public static final double DEFAULT_MIN_LR = 1e-5;
    public static final double DEFAULT_WEIGHT_DECAY = 0.05;
    public static final long DEFAULT_WARMUP_STEPS = 20;
    public static final double DEFAULT_CLIP_GRAD = 3.0;
    public static final double DEFAULT_BETA1 = 0.9;
    public static final double DEFAULT_BETA2 = 0.98;
    public static final long DEFAULT_SEED = 0;
    public static final int DEFAULT_KEEP_CHECKPOINTS = 2;
    public static final double DEFAULT_MAX_BAD_FRACTION = 0.1;

    public PretrainConfig {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(teacher, "teacher");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(out, "out");
        require(imageSize > 0 && patchSize > 0 && imageSize % patchSize == 0,
                "--img-size " + imageSize + " must be a positive multiple of --patch-size " + patchSize);
        require(maskPatches >= 0 && maskPatches <= 196, "--mask-patches must be in [0, 196] (a count at 14x14), got " + maskPatches);
        require(batchSize > 0, "--batch-size must be positive, got " + batchSize);
        require(steps >= 0 && epochs >= 0, "--steps and --epochs must not be negative");
        require((steps > 0) != (epochs > 0), "give exactly one of --steps or --epochs");
        require(lr > 0 && Double.isFinite(lr), "--lr must be positive, got " + lr);
        require(minLr >= 0 && minLr <= lr, "--min-lr must be in [0, lr], got " + minLr);
        require(weightDecay >= 0, "--weight-decay must not be negative, got " + weightDecay);
        require(warmupSteps >= 0, "--warmup-steps must not be negative, got " + warmupSteps);
        require(clipGrad >= 0, "--clip-grad must not be negative, got " + clipGrad);
        require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas must be in [0, 1)");
        require(threads >= 0 && workers >= 0, "--threads and --workers must not be negative");
        require(checkpointEvery >= 0, "--checkpoint-every must not be negative");
        require(keepCheckpoints >= 1, "--keep-checkpoints must be at least 1");
        require(maxBadFraction >= 0 && maxBadFraction <= 1, "--max-bad-fraction must be in [0, 1]");
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    /**
     * The values that define a run's trajectory (not where it writes or how many threads it uses): a run may only be
     * resumed with the same ones.
     */
    public java.util.Map<String, String> runDefinition() {
        var m = new java.util.LinkedHashMap<String, String>();
        m.put("teacher", teacher);
        m.put("model", model);
        m.put("img-size", Integer.toString(imageSize));
        m.put("patch-size", Integer.toString(patchSize));
        m.put("mask-patches", Integer.toString(maskPatches));
        m.put("batch-size", Integer.toString(batchSize));
        m.put("steps", Long.toString(steps));
        m.put("epochs", Integer.toString(epochs));
        m.put("lr", Double.toString(lr));
        m.put("min-lr", Double.toString(minLr));
        m.put("weight-decay", Double.toString(weightDecay));
        m.put("warmup-steps", Long.toString(warmupSteps));
        m.put("clip-grad", Double.toString(clipGrad));
        m.put("betas", beta1 + "," + beta2);
        m.put("seed", Long.toString(seed));
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
        private int maskPatches = DEFAULT_MASK_PATCHES;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private long steps = DEFAULT_STEPS;
        private int epochs = 0;
        private double lr = DEFAULT_LR;
        private double minLr = DEFAULT_MIN_LR;
        private double weightDecay = DEFAULT_WEIGHT_DECAY;
        private long warmupSteps = DEFAULT_WARMUP_STEPS;
        private double clipGrad = DEFAULT_CLIP_GRAD;
        private double beta1 = DEFAULT_BETA1;
        private double beta2 = DEFAULT_BETA2;
        private long seed = DEFAULT_SEED;
        private Path out;
        private int threads = 0;
        private int workers = 0;
        private long checkpointEvery = 0;
        private int keepCheckpoints = DEFAULT_KEEP_CHECKPOINTS;
        private double maxBadFraction = DEFAULT_MAX_BAD_FRACTION;

        private Builder(Path data, Path out) {
            this.data = data;
            this.out = out;
        }

        private Builder(PretrainConfig c) {
            data = c.data; teacher = c.teacher; model = c.model; imageSize = c.imageSize; patchSize = c.patchSize;
            maskPatches = c.maskPatches; batchSize = c.batchSize; steps = c.steps; epochs = c.epochs; lr = c.lr;
            minLr = c.minLr; weightDecay = c.weightDecay; warmupSteps = c.warmupSteps; clipGrad = c.clipGrad;
            beta1 = c.beta1; beta2 = c.beta2; seed = c.seed; out = c.out; threads = c.threads; workers = c.workers;
            checkpointEvery = c.checkpointEvery; keepCheckpoints = c.keepCheckpoints; maxBadFraction = c.maxBadFraction;
        }

        public Builder data(Path v) { data = v; return this; }
        public Builder teacher(String v) { teacher = v; return this; }
        public Builder model(String v) { model = v; return this; }
        public Builder imageSize(int v) { imageSize = v; return this; }
        public Builder patchSize(int v) { patchSize = v; return this; }
        public Builder maskPatches(int v) { maskPatches = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        /** Sets the run length in steps (and clears epochs). */
        public Builder steps(long v) { steps = v; epochs = 0; return this; }
        /** Sets the run length in epochs (and clears steps). */
        public Builder epochs(int v) { epochs = v; steps = 0; return this; }
        public Builder lr(double v) { lr = v; return this; }
        public Builder minLr(double v) { minLr = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder warmupSteps(long v) { warmupSteps = v; return this; }
        public Builder clipGrad(double v) { clipGrad = v; return this; }
        public Builder betas(double b1, double b2) { beta1 = b1; beta2 = b2; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder out(Path v) { out = v; return this; }
        public Builder threads(int v) { threads = v; return this; }
        public Builder workers(int v) { workers = v; return this; }
        public Builder checkpointEvery(long v) { checkpointEvery = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        public Builder maxBadFraction(double v) { maxBadFraction = v; return this; }

        public PretrainConfig build() {
            return new PretrainConfig(data, teacher, model, imageSize, patchSize, maskPatches, batchSize, steps, epochs,
                    lr, minLr, weightDecay, warmupSteps, clipGrad, beta1, beta2, seed, out, threads, workers,
                    checkpointEvery, keepCheckpoints, maxBadFraction);
        }
    }
}
