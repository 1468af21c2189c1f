package dev.mvp.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.mvp.api.ComputeDevice;
import dev.mvp.api.Precision;
import dev.mvp.api.Recipe;
import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageDecoders;
import dev.mvp.tokenizers.InvalidChoiceException;
import dev.mvp.train.Checkpoints;
import dev.mvp.train.Devices;
import dev.mvp.train.InvalidRecipeException;
import dev.mvp.train.PretrainConfig;
import dev.mvp.train.Pretrainer;
import dev.mvp.train.RecipeSpec;
import dev.mvp.train.Recipes;
import dev.mvp.train.RunFiles;
import dev.mvp.train.RunSummary;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import static dev.mvp.train.PretrainConfig.*;

/**
 * {@code mvp pretrain}: masked-image-modeling pre-training, MVP's recipe by default or another paper's with
 * {@code --recipe}, any one part swapped with {@code --tokenizer}, {@code --masking}, {@code --backbone} or
 * {@code --loss}; with no flags, a short real MVP run on the embedded CIFAR-10 sample.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "MVP pre-training (or another paper's recipe) of a ViT student.",
        description = {
                "MVP pre-training: a ViT student learns to predict a frozen CLIP teacher's per-token features of the"
                        + " unmasked image from a blockwise-masked view (cosine alignment, equation 9 of the paper).",
                "--recipe runs another paper's recipe from the same parts (beit, dino-guided, maskfeat, mae-style,"
                        + " mae-style-blockwise); --tokenizer, --masking, --backbone and --loss swap one part and keep"
                        + " the rest. The printed recipe and config.json name each part and what was swapped.",
                "With no flags: a short real run on the embedded CIFAR-10 sample with ViT-Ti and a random teacher.",
                "Paper scale:",
                "  ./mvp pretrain --model base --img-size 224 --patch-size 16 \\",
                "    --batch-size 2048 --epochs 300 --teacher CLIP.safetensors"})
final class PretrainCommand implements Callable<Integer> {

    @Option(names = "--data", paramLabel = "DIR|FILE", defaultValue = "${sys:mvp.home:-.}/data/cifar10-sample",
            description = "Image folder (class sub-folders, ImageNet layout, or one flat folder of JPEG/PNG files), or a "
                    + "file list: a text file with one 'path [label]' per line, relative paths from the list's folder.")
    Path data;

    @Option(names = "--teacher", paramLabel = "FILE|random", defaultValue = DEFAULT_TEACHER,
            description = "The tokenizer's weights: CLIP's vision tower for mvp (OpenAI's, Hugging Face's or "
                    + "open_clip's layout), a DINO ViT for dino-guided (DINO's release, a DINO training checkpoint or "
                    + "timm's layout) or DALL-E's d-VAE encoder for beit (encoder.pkl or its state dict), each from "
                    + "safetensors, torch.save (.pt/.pth/.bin) or TorchScript files; or 'random': a deterministic "
                    + "random small CLIP-layout teacher that checks the wiring, not the semantics. HOG and pixel "
                    + "targets take no weights.")
    String teacher;

    @Option(names = "--recipe", paramLabel = "NAME", defaultValue = "mvp",
            description = "mvp (CLIP, blockwise 75, cosine), beit (d-VAE ids, BEiT's ViT, cross-entropy), dino-guided "
                    + "(DINO features, cosine), maskfeat (HOG, blockwise 78, MSE), mae-style (normalised pixels, random "
                    + "147, MSE) or mae-style-blockwise (the same with blockwise 147).")
    String recipeName;

    @Option(names = "--tokenizer", paramLabel = "NAME",
            description = "Swap the target: clip, dino, dalle, hog, pixels or pixels-norm (default: the recipe's).")
    String tokenizerName;

    @Option(names = "--masking", paramLabel = "NAME",
            description = "Swap the masking: beit (blockwise), beit-topup (blockwise filled up to the exact count), "
                    + "random (MAE's, exact count) or none (default: the recipe's).")
    String maskingName;

    @Option(names = "--backbone", paramLabel = "NAME",
            description = "Swap the student: vit (timm's plain ViT) or beit (BEiT's: layer scale, shared relative "
                    + "position bias, drop path 0.1) (default: the recipe's).")
    String backboneName;

    @Option(names = "--loss", paramLabel = "NAME",
            description = "Swap the loss: cosine (MVP, CLS + all patches), cosine-masked (EVA), cross-entropy (BEiT), "
                    + "smooth-l1 (MaskDistill), mse (MaskFeat), mse-ln, 2-2cos (MILAN), pixel-mse (MAE, normalised "
                    + "pixels) or pixel-mse-raw (default: the recipe's).")
    String lossName;

    @Option(names = "--model", paramLabel = "NAME", defaultValue = DEFAULT_MODEL,
            description = "Student: tiny, small, base or large (the paper: base and large).")
    String model;

    @Option(names = "--img-size", paramLabel = "N", defaultValue = "" + DEFAULT_IMAGE_SIZE,
            description = "Input side in pixels (the paper: 224).")
    int imageSize;

    @Option(names = "--patch-size", paramLabel = "N", defaultValue = "" + DEFAULT_PATCH_SIZE,
            description = "Patch side in pixels (the paper: 16).")
    int patchSize;

    @Option(names = "--mask-patches", paramLabel = "N",
            description = "Masked patches at a 14x14 grid, scaled for other grids; default: the recipe's (mvp, beit, "
                    + "dino-guided: 75 of 196; maskfeat: 78; mae-style: 147).")
    Integer maskPatches;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "" + DEFAULT_BATCH_SIZE,
            description = "Images per forward/backward pass; one step takes --accum-steps of them (the paper: 2048 per step).")
    int batchSize;

    @Option(names = "--accum-steps", paramLabel = "N", defaultValue = "" + DEFAULT_ACCUM_STEPS,
            description = "Batches whose gradients are summed into one optimisation step: the effective batch is "
                    + "--batch-size x N (BEiT/MAE's accum_iter).")
    int accumSteps;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "" + DEFAULT_STEPS,
            description = "Optimisation steps (ignored when --epochs is given).")
    long steps;

    @Option(names = "--epochs", paramLabel = "N",
            description = "Passes over the data instead of --steps (the paper: 300).")
    Integer epochs;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "" + DEFAULT_LR,
            description = "Peak learning rate after warm-up (the paper: 1.5e-3 at batch 2048).")
    double lr;

    @Option(names = "--base-lr", paramLabel = "LR",
            description = "Instead of --lr: the linear scaling rule, peak lr = LR x effective batch / 256 (MAE's --blr); "
                    + "the paper's 1.5e-3 at batch 2048 is 1.875e-4. config.json records both.")
    Double baseLr;

    @Option(names = "--min-lr", paramLabel = "LR", defaultValue = "" + DEFAULT_MIN_LR,
            description = "Learning rate at the end of the cosine decay (BEiT: 1e-5).")
    double minLr;

    @Option(names = "--weight-decay", paramLabel = "WD", defaultValue = "" + DEFAULT_WEIGHT_DECAY,
            description = "AdamW weight decay, not applied to biases, norms and position/CLS/mask tokens (the paper: 0.05).")
    double weightDecay;

    @Option(names = "--weight-decay-end", paramLabel = "WD",
            description = "Cosine weight-decay schedule from --weight-decay to WD over the run (BEiT's "
                    + "--weight_decay_end); default: constant --weight-decay.")
    Double weightDecayEnd;

    @Option(names = "--warmup-steps", paramLabel = "N", defaultValue = "" + DEFAULT_WARMUP_STEPS,
            description = "Linear warm-up steps from 0 to --lr.")
    long warmupSteps;

    @Option(names = "--warmup-epochs", paramLabel = "N",
            description = "Warm-up in epochs instead of --warmup-steps (BEiT and the paper: 10).")
    Integer warmupEpochs;

    @Option(names = "--clip-grad", paramLabel = "NORM", defaultValue = "" + DEFAULT_CLIP_GRAD,
            description = "Gradient-norm clipping (BEiT: 3.0); 0 disables it.")
    double clipGrad;

    @Option(names = "--betas", paramLabel = "B1,B2", defaultValue = DEFAULT_BETA1 + "," + DEFAULT_BETA2,
            description = "AdamW betas (BEiT pre-training: 0.9,0.98; PyTorch's default 0.9,0.999).")
    String betas;

    @Option(names = "--drop-path", paramLabel = "P",
            description = "Student stochastic depth rate at the last block (BEiT: 0.1); default: the model preset's (0).")
    Double dropPath;

    @Option(names = "--layer-scale", paramLabel = "V",
            description = "Student layer-scale initial value, 0 = none (BEiT: 0.1 base, 1e-5 large); default: the "
                    + "model preset's (none).")
    Double layerScale;

    @Option(names = "--precision", paramLabel = "fp32|bf16|fp16", defaultValue = "fp32",
            description = "Student forward pass: fp32, bf16 autocast, or fp16 autocast with dynamic loss scaling "
                    + "(GradScaler's); float32 master weights, gradients and optimiser state. On CPUs without "
                    + "AVX-512-BF16/AMX bf16 is slower, and fp16 is for GPUs (13x slower than fp32 on this project's "
                    + "CPU): see docs/ENGINE.md.")
    Precision precision;

    @Option(names = "--teacher-precision", paramLabel = "fp32|bf16|fp16", defaultValue = "fp32",
            description = "Teacher: fp32, or its weights converted once to bf16/fp16 and run under autocast of that "
                    + "type (targets float32; inference mode either way). See docs/ENGINE.md for speed and accuracy.")
    Precision teacherPrecision;

    @Option(names = "--device", paramLabel = "cpu|cuda|cuda:N", defaultValue = "cpu",
            description = "Where the run computes: the CPU, or a CUDA device (cuda = cuda:0; needs libtorch's CUDA "
                    + "build, mvn -Pcuda, and a GPU). Checkpoints hold CPU tensors and resume on either device.")
    String device;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "" + DEFAULT_SEED,
            description = "Seed of the student's init, data order, crops, flips and masks.")
    long seed;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Run folder for config.json, metrics.jsonl and checkpoints/ (default: runs/pretrain-<time>, "
                    + "or the resumed run's folder).")
    Path out;

    @Option(names = "--resume", paramLabel = "DIR|auto",
            description = "Continue a run: its folder or one of its checkpoint folders; 'auto' resumes --out if it "
                    + "holds a checkpoint and starts fresh otherwise.")
    String resume;

    @Option(names = "--allow-data-change",
            description = "With --resume: continue on data other than the run's (another image count, file list or "
                    + "labels than config.json records); without it that is refused. A moved folder of the same "
                    + "images needs no flag.")
    boolean allowDataChange;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "libtorch/OpenBLAS threads (0: all cores; at most 4 x the cores, at least 256).")
    int threads;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "0",
            description = "Data-loading threads (0: all cores; at most 4 x the cores, at least 256).")
    int workers;

    @CommandLine.Mixin DecoderOption decoder;

    @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "0",
            description = "Write a checkpoint every N steps (0: not by step count; always at the end).")
    long checkpointEvery;

    @Option(names = "--checkpoint-every-epochs", paramLabel = "N", defaultValue = "" + DEFAULT_CHECKPOINT_EVERY_EPOCHS,
            description = "Write a checkpoint at the end of every N epochs (0: not at epoch ends).")
    int checkpointEveryEpochs;

    @Option(names = "--keep-checkpoints", paramLabel = "K", defaultValue = "" + DEFAULT_KEEP_CHECKPOINTS,
            description = "Keep the newest K checkpoints.")
    int keepCheckpoints;

    @Option(names = "--max-bad-fraction", paramLabel = "F", defaultValue = "" + DEFAULT_MAX_BAD_FRACTION,
            description = "Stop when more than this fraction of the images read fail to decode.")
    double maxBadFraction;

    @Option(names = "--max-non-finite", paramLabel = "N", defaultValue = "" + DEFAULT_MAX_CONSECUTIVE_NON_FINITE,
            description = "Stop when N steps in a row have a non-finite loss or gradient (each is skipped, counted "
                    + "and logged); the latest checkpoint is then the last good one.")
    int maxNonFinite;

    @Option(names = "--augmentation", paramLabel = "random|fixed", defaultValue = "random",
            description = "random: BEiT's RandomResizedCrop(0.08, 1) and flips, new every epoch; fixed: the central "
                    + "square of each image, no flip (masks still vary), as a teacher cache needs.")
    PretrainConfig.Augmentation augmentation;

    @Option(names = "--teacher-cache", paramLabel = "DIR",
            description = "Teacher targets computed once per image into DIR (safetensors shards) and read from there "
                    + "instead of running the teacher; built on first use, then checked against the teacher, the "
                    + "data and the decoder (a cache made with another --decoder is refused). Needs --augmentation fixed.")
    Path teacherCache;

    @Option(names = "--teacher-cache-float16",
            description = "Store a newly built teacher cache in float16 (half the disk, targets rounded).")
    boolean teacherCacheFloat16;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        checkFlags();
        Path checkpoint = resumeCheckpoint();
        PretrainConfig config = configuration(checkpoint);
        // before anything is loaded: a read-only, unwritable or unnamable --out stops here, leaving no folder behind
        RunFolders.prepare(config.out(), "pretrain");
        Devices.requireAvailable(config.device()); // before any data or weights are read: one line, exit 1
        if (checkpoint == null) config = followTeacherGrid(config);
        if (checkpoint != null) {
            // before any weights are loaded: another recipe would fail later on a shape, or silently train another method
            var run = Checkpoints.readState(checkpoint).run();
            String then = run == null ? null : run.get("recipe"), now = config.recipe().name();
            if (then != null && !then.equals(now)) {
                throw new Main.UsageException("cannot resume " + checkpoint + ": --recipe was " + then + " in that run, " + now + " now");
            }
        }

        ImageDataset dataset;
        try {
            dataset = ImageDataset.open(config.data());
        } catch (dev.mvp.data.DataException e) {
            throw new dev.mvp.data.DataException("--data: " + e.getMessage(), e);
        }
        out.println("mvp pretrain: " + dataset.describe());
        // turbojpeg without libturbojpeg: "--decoder turbojpeg: <why it cannot load>", exit 1
        out.println("mvp pretrain: decoder " + ImageDecoders.nameOf(DecoderOption.open(config.decoder())));
        boolean randomClip = config.teacher().equals("random")
                && config.recipe().resolvedTokenizer() == RecipeSpec.TokenizerPart.CLIP;
        if (randomClip) {
            out.println("mvp pretrain: teacher 'random': a randomly initialised CLIP-layout ViT (seed "
                    + Recipes.RANDOM_TEACHER_SEED + "); it checks the wiring, not the semantics");
        }
        Recipe recipe;
        try {
            recipe = Recipes.build(config);
        } catch (InvalidRecipeException | InvalidChoiceException e) {
            throw new Main.UsageException(e.getMessage());
        }
        out.println(recipe.describe());
        out.println("mvp pretrain: run folder " + config.out().toAbsolutePath()
                + (checkpoint == null ? "" : " (resuming from " + checkpoint + ")"));
        out.println("mvp pretrain: " + config.lrRule());
        if (config.imageSizeSource().startsWith("the teacher")) {
            out.println("mvp pretrain: --img-size " + config.imageSize() + ", from " + config.imageSizeSource());
        }
        ConsoleProgress progress = new ConsoleProgress(out, spec.commandLine().getErr());
        RunSummary s;
        try {
            s = Pretrainer.run(config, recipe, dataset, checkpoint, progress, allowDataChange);
        } catch (dev.mvp.train.DataIdentity.DataChangedException | dev.mvp.train.TeacherIdentity.TeacherChangedException
                 | dev.mvp.train.Pretrainer.RunChangedException e) {
            // the flags contradict the run being resumed: a usage error, like a changed --recipe
            throw new Main.UsageException(e.getMessage());
        } catch (dev.mvp.data.DataException e) {
            // the loader names its setting as the library does; the user set (or defaulted) the flag
            String m = e.getMessage();
            if (m != null && m.contains("more than maxBadFraction")) {
                throw new dev.mvp.data.DataException(m.replace("more than maxBadFraction", "more than --max-bad-fraction"), e);
            }
            if (m != null && m.contains(" one batch of " + config.batchSize())) {
                throw new dev.mvp.data.DataException(m + ": lower --batch-size", e);
            }
            throw e;
        }
        out.println(summaryLine(s, config.out().resolve("metrics.jsonl")));
        if (randomClip && !s.alreadyComplete()) {
            out.println("mvp pretrain: note: with the random teacher this run checks the wiring, not the semantics; "
                    + "pass --teacher with CLIP weights for real targets (the student's --img-size then follows the "
                    + "teacher's grid unless given)");
        }
        return 0;
    }

    /** The run's last line: what it did, or that a resumed run was already complete. */
    static String summaryLine(RunSummary s, Path metrics) {
        if (s.alreadyComplete()) {
            return String.format(java.util.Locale.ROOT, "mvp pretrain: the run is already complete at step %d of %d "
                            + "(final loss %.4f in %s); nothing was run or written (checkpoint %s)", s.steps(),
                    s.totalSteps(), s.lastLoss(), metrics, s.checkpoint());
        }
        String means = s.meanOver() == 0 ? "no good step"
                : s.meanOver() == 1 ? String.format(java.util.Locale.ROOT, "one good step")
                : s.meanOver() < 10 || s.stepsRun() <= 10 // at most 10 good steps: both means cover all of them
                        ? String.format(java.util.Locale.ROOT, "mean of the %d good steps %.4f", s.meanOver(), s.meanLossLast10())
                : String.format(java.util.Locale.ROOT, "mean of first/last %d steps %.4f -> %.4f", s.meanOver(),
                        s.meanLossFirst10(), s.meanLossLast10());
        // a resumed run: the run's step count, and which of them this invocation ran
        String resumed = s.stepsRun() >= s.steps() ? "" : String.format(java.util.Locale.ROOT,
                " (%d this time: steps %d-%d, resumed at step %d)", s.stepsRun(), s.steps() - s.stepsRun() + 1, s.steps(),
                s.steps() - s.stepsRun());
        return String.format(java.util.Locale.ROOT, "mvp pretrain: done: %d steps%s in %s, loss %.4f -> %.4f (%s), "
                        + "%d bad files skipped, %d steps skipped; metrics %s, checkpoint %s",
                s.steps(), resumed, ConsoleProgress.duration(s.seconds()), s.firstLoss(), s.lastLoss(), means, s.badFiles(),
                s.skippedSteps(), metrics, s.checkpoint());
    }

    /**
     * A fresh run whose --img-size was not given and whose teacher fixes the target grid (a CLIP file): the student's
     * image size follows, so that the grids match ({@code grid x --patch-size}); recorded as the teacher's choice.
     */
    private PretrainConfig followTeacherGrid(PretrainConfig config) {
        if (spec.commandLine().getParseResult().hasMatchedOption("--img-size")) return config;
        var grid = Recipes.teacherGrid(config); // a missing or unreadable --teacher: one line, exit 1
        if (grid.isEmpty() && config.imageSizeSource().equals(PENDING_SIZE)) {
            throw new Main.UsageException("--img-size " + imageSize + " (the default) is not a multiple of --patch-size "
                    + config.patchSize() + ": give --img-size (e.g. " + config.imageSize() + ")");
        }
        if (grid.isEmpty()) return config;
        int g = grid.getAsInt();
        try {
            return config.toBuilder().imageSize(g * config.patchSize(), "the teacher's " + g + "x" + g + " target grid x --patch-size "
                    + config.patchSize() + " (--img-size not given)").build();
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    /** The image-size source of a default --img-size that --patch-size does not divide, until the teacher decides. */
    private static final String PENDING_SIZE = "default, rounded up to a multiple of --patch-size";

    /** Flag values no configuration can take, refused before anything is read or made (usage errors naming the flag). */
    private void checkFlags() {
        // string-typed paths: the Path converter's empty-path rule (Main) does not reach them
        if (teacher.isBlank()) throw new Main.UsageException("--teacher: an empty path; give a weight file or 'random'");
        if (resume != null && resume.isBlank()) {
            throw new Main.UsageException("--resume: an empty path; give a run or checkpoint folder, or 'auto'");
        }
        if (epochs != null && epochs < 1) throw new Main.UsageException("--epochs must be at least 1, got " + epochs);
        if (teacherCache != null && Files.exists(teacherCache) && !Files.isDirectory(teacherCache)) {
            throw new Main.UsageException("--teacher-cache " + teacherCache + " is a file; give a folder");
        }
    }

    /** The checkpoint to resume from, or null for a fresh run; sets the run folder when --out is not given. */
    private Path resumeCheckpoint() {
        if (resume == null) {
            if (out != null && Checkpoints.latest(out).isPresent()) {
                throw new Main.UsageException("--out " + out + " already holds a run: pass --resume " + out
                        + " to continue it, or choose another --out");
            }
            return null;
        }
        if (resume.equals("auto")) {
            if (out == null) throw new Main.UsageException("--resume auto needs --out DIR");
            return Checkpoints.latest(out).orElse(null);
        }
        Path arg = Path.of(resume);
        // a path a flag names that does not exist is a runtime error (exit 1), as for --data and --teacher
        if (!Files.exists(arg)) throw Main.noSuch("--resume", arg, "folder");
        Path checkpoint = Checkpoints.resolve(arg);
        // --resume names the run: the checkpoint's run folder, which --out may repeat but not change (docs/ENGINE.md)
        Path run = Checkpoints.runOf(checkpoint).orElseThrow(() -> new Main.UsageException("--resume " + resume
                + ": " + checkpoint + " is not in a run folder's checkpoints/ folder; to start a run from it, copy it to"
                + " NEW/checkpoints/ and resume NEW/checkpoints/" + checkpoint.getFileName() + " with the run's flags"
                + " (--data, --teacher and the run definition in its state.json)"));
        if (out != null && !Checkpoints.sameFolder(out, run)) {
            throw new Main.UsageException("--out " + out + " is not the run folder of --resume " + resume + " ("
                    + run + "): leave out --out to continue that run in its own folder");
        }
        out = run;
        return checkpoint;
    }

    /** The run's configuration: the flags, or, when resuming, the run's saved configuration with the flags given now. */
    private PretrainConfig configuration(Path checkpoint) {
        try {
            if (out == null) {
                out = RunFolders.reserve("pretrain"); // its own folder even when another run starts this second
            }
            PretrainConfig.Builder b;
            Path saved = out.resolve("config.json");
            if (checkpoint != null && Files.isRegularFile(saved)) {
                b = readSaved(saved).toBuilder();
                applyGiven(b);
            } else {
                b = PretrainConfig.builder(data, out);
                applyAll(b);
            }
            return b.out(out).build();
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    private void applyAll(PretrainConfig.Builder b) {
        if (epochs != null && spec.commandLine().getParseResult().hasMatchedOption("--steps")) {
            throw new IllegalArgumentException("give --steps or --epochs, not both");
        }
        var given = spec.commandLine().getParseResult();
        if (baseLr != null && given.hasMatchedOption("--lr")) {
            throw new IllegalArgumentException("give --lr or --base-lr, not both");
        }
        if (warmupEpochs != null && given.hasMatchedOption("--warmup-steps")) {
            throw new IllegalArgumentException("give --warmup-steps or --warmup-epochs, not both");
        }
        // a teacher file is recorded by its absolute path (and identity, Pretrainer): a resumption may run elsewhere
        b.data(data).teacher(dev.mvp.train.TeacherIdentity.absolute(teacher)).model(model).imageSize(imageSize).patchSize(patchSize)
                .recipe(swapped(recipeSpec())).batchSize(batchSize).accumSteps(accumSteps).minLr(minLr).weightDecay(weightDecay)
                .weightDecayEnd(weightDecayEnd).warmupSteps(warmupSteps).clipGrad(clipGrad).betas(beta(0), beta(1))
                .dropPath(dropPath).layerScale(layerScale).precision(precision).teacherPrecision(teacherPrecision)
                .seed(seed).threads(threads).workers(workers).checkpointEvery(checkpointEvery)
                .checkpointEveryEpochs(checkpointEveryEpochs).keepCheckpoints(keepCheckpoints)
                .maxConsecutiveNonFinite(maxNonFinite).maxBadFraction(maxBadFraction).augmentation(augmentation)
                .teacherCache(teacherCache).teacherCacheFloat16(teacherCacheFloat16).decoder(decoder.name)
                .device(computeDevice());
        if (!given.hasMatchedOption("--img-size")) {
            // a default size that --patch-size does not divide is held until the teacher's grid may replace it
            // (followTeacherGrid); if it does not, that is the usage error
            boolean divides = patchSize <= 0 || imageSize % patchSize == 0; // a bad --patch-size is the config's error
            b.imageSize(divides ? imageSize : (imageSize / patchSize + 1) * patchSize, divides ? "default" : PENDING_SIZE);
        }
        if (maskPatches != null) b.maskPatches(maskPatches);
        if (given.hasMatchedOption("--lr")) b.lr(lr); // else the default lr, recorded as such
        if (baseLr != null) b.baseLr(baseLr);
        if (warmupEpochs != null) b.warmupEpochs(warmupEpochs);
        if (epochs != null) b.epochs(epochs);
        else b.steps(steps);
    }

    /** The recipe with the parts this command line swaps. */
    private RecipeSpec swapped(RecipeSpec base) {
        RecipeSpec s = base;
        if (tokenizerName != null) s = s.withTokenizer(flag("--tokenizer", () -> RecipeSpec.TokenizerPart.parse(tokenizerName)));
        if (maskingName != null) s = s.withMasking(flag("--masking", () -> RecipeSpec.MaskingPart.parse(maskingName)));
        if (backboneName != null) s = s.withBackbone(flag("--backbone", () -> RecipeSpec.BackbonePart.parse(backboneName)));
        if (lossName != null) s = s.withLoss(flag("--loss", () -> RecipeSpec.LossPart.parse(lossName)));
        return s;
    }

    private RecipeSpec recipeSpec() {
        return flag("--recipe", () -> RecipeSpec.of(recipeName));
    }

    /** A flag's value parsed; an unknown one is a usage error naming the flag ("--loss: unknown loss 'l2' (...)"). */
    private static <T> T flag(String name, java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
    }

    private ComputeDevice computeDevice() {
        try {
            return ComputeDevice.parse(device);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--device: " + e.getMessage());
        }
    }

    private double beta(int i) {
        String[] parts = betas.split(",");
        try {
            if (parts.length == 2) return Double.parseDouble(parts[i].strip());
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("--betas takes two numbers B1,B2 (e.g. 0.9,0.98), got '" + betas + "'");
    }

    /** Applies only the flags given on this command line (resuming keeps the saved values of the others). */
    private void applyGiven(PretrainConfig.Builder b) {
        var given = spec.commandLine().getParseResult();
        // without --data: the data the run used most recently (a resumption with --allow-data-change may have moved it)
        if (given.hasMatchedOption("--data")) b.data(data);
        else if (RunFiles.recordedData(out) != null) b.data(Path.of(RunFiles.recordedData(out)));
        // without --teacher: the teacher file the run used most recently, by its absolute path (an older run recorded
        // the path as given, relative to its working folder, and keeps it)
        if (given.hasMatchedOption("--teacher")) b.teacher(dev.mvp.train.TeacherIdentity.absolute(teacher));
        else if (RunFiles.recordedTeacher(out) != null) b.teacher(RunFiles.recordedTeacher(out).path());
        if (given.hasMatchedOption("--model")) b.model(model);
        if (given.hasMatchedOption("--img-size")) b.imageSize(imageSize);
        if (given.hasMatchedOption("--patch-size")) b.patchSize(patchSize);
        if (given.hasMatchedOption("--recipe") || tokenizerName != null || maskingName != null || backboneName != null
                || lossName != null) {
            // a resumed run keeps its saved recipe and parts unless they are named again (and then must match)
            b.recipe(swapped(given.hasMatchedOption("--recipe") ? recipeSpec() : b.build().recipe()));
        }
        if (given.hasMatchedOption("--mask-patches")) b.maskPatches(maskPatches);
        if (given.hasMatchedOption("--batch-size")) b.batchSize(batchSize);
        if (given.hasMatchedOption("--accum-steps")) b.accumSteps(accumSteps);
        if (given.hasMatchedOption("--steps")) b.steps(steps);
        if (given.hasMatchedOption("--epochs")) b.epochs(epochs);
        if (given.hasMatchedOption("--lr")) b.lr(lr);
        if (given.hasMatchedOption("--base-lr")) b.baseLr(baseLr);
        if (given.hasMatchedOption("--min-lr")) b.minLr(minLr);
        if (given.hasMatchedOption("--weight-decay")) b.weightDecay(weightDecay);
        if (given.hasMatchedOption("--weight-decay-end")) b.weightDecayEnd(weightDecayEnd);
        if (given.hasMatchedOption("--warmup-steps")) b.warmupSteps(warmupSteps);
        if (given.hasMatchedOption("--warmup-epochs")) b.warmupEpochs(warmupEpochs);
        if (given.hasMatchedOption("--clip-grad")) b.clipGrad(clipGrad);
        if (given.hasMatchedOption("--betas")) b.betas(beta(0), beta(1));
        if (given.hasMatchedOption("--drop-path")) b.dropPath(dropPath);
        if (given.hasMatchedOption("--layer-scale")) b.layerScale(layerScale);
        if (given.hasMatchedOption("--precision")) b.precision(precision);
        if (given.hasMatchedOption("--teacher-precision")) b.teacherPrecision(teacherPrecision);
        if (given.hasMatchedOption("--device")) b.device(computeDevice());
        if (given.hasMatchedOption("--seed")) b.seed(seed);
        if (given.hasMatchedOption("--threads")) b.threads(threads);
        if (given.hasMatchedOption("--workers")) b.workers(workers);
        if (given.hasMatchedOption("--decoder")) b.decoder(decoder.name);
        if (given.hasMatchedOption("--checkpoint-every")) b.checkpointEvery(checkpointEvery);
        if (given.hasMatchedOption("--checkpoint-every-epochs")) b.checkpointEveryEpochs(checkpointEveryEpochs);
        if (given.hasMatchedOption("--keep-checkpoints")) b.keepCheckpoints(keepCheckpoints);
        if (given.hasMatchedOption("--max-bad-fraction")) b.maxBadFraction(maxBadFraction);
        if (given.hasMatchedOption("--max-non-finite")) b.maxConsecutiveNonFinite(maxNonFinite);
        if (given.hasMatchedOption("--augmentation")) b.augmentation(augmentation);
        if (given.hasMatchedOption("--teacher-cache")) b.teacherCache(teacherCache);
        if (given.hasMatchedOption("--teacher-cache-float16")) b.teacherCacheFloat16(teacherCacheFloat16);
    }

    private static PretrainConfig readSaved(Path configJson) {
        ObjectMapper json = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
        try {
            return json.treeToValue(json.readTree(configJson.toFile()).path("config"), PretrainConfig.class);
        } catch (IOException e) {
            throw new IllegalStateException(dev.mvp.api.io.AtomicFiles.failure("cannot read the resumed run's configuration", configJson, e), e);
        }
    }
}
