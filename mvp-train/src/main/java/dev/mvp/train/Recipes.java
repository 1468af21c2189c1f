package dev.mvp.train;

import dev.mvp.api.Loss;
import dev.mvp.api.MaskingStrategy;
import dev.mvp.api.Recipe;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.Torch;
import dev.mvp.losses.CodebookCrossEntropy;
import dev.mvp.losses.CosineAlignmentLoss;
import dev.mvp.losses.FeatureRegressionLoss;
import dev.mvp.losses.NormalizedPixelLoss;
import dev.mvp.losses.PatchSelection;
import dev.mvp.masking.BlockwiseMasking;
import dev.mvp.masking.NoMasking;
import dev.mvp.masking.RandomMasking;
import dev.mvp.models.LinearHead;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.tokenizers.ClipTokenizer;
import dev.mvp.tokenizers.HogTokenizer;
import dev.mvp.tokenizers.PixelTokenizer;
import dev.mvp.tokenizers.Teachers;
import dev.mvp.train.RecipeSpec.BackbonePart;
import dev.mvp.train.RecipeSpec.LossPart;
import dev.mvp.train.RecipeSpec.MaskingPart;
import dev.mvp.train.RecipeSpec.TokenizerPart;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Recipes assembled from a {@link PretrainConfig} and a {@link RecipeSpec}: the papers' presets ({@code mvp},
 * {@code beit}, {@code dino-guided}, {@code maskfeat}, {@code mae-style-random}, {@code mae-style-blockwise}) with any
 * one part swapped by name. Every part comes from the same pieces whatever the recipe, so a swapped part changes
 * nothing else: the student is initialised from {@code config.seed()} the same way, the head is one linear layer
 * from the student's width to the targets, the views are the same crops.
 *
 * <p>The run's model size, image size, patch size and seed come from the configuration; the mask count from the spec
 * (its preset's unless {@code --mask-patches} overrides it); teacher weights from {@code config.teacher()}, a file,
 * or {@code random} for CLIP's wiring-check teacher. Tokenizers without weights (HOG, pixels) take no file.
 */
public final class Recipes {
    private Recipes() {}

    /** Seed of the {@code random} teacher: fixed, so every run (and every resumption) sees the same teacher. */
    public static final long RANDOM_TEACHER_SEED = 0;

    /**
     * MVP: the CLIP teacher, BEiT's blockwise masking of {@code config.maskPatches()}, a ViT student initialised from
     * {@code config.seed()}, a linear head into CLIP's space, and the cosine alignment loss of equation 9.
     */
    public static Recipe mvp(PretrainConfig config) {
        return build(config, RecipeSpec.of(RecipeSpec.Preset.MVP).withMaskPatches(config.maskPatches()));
    }

    /** The recipe the configuration names ({@link PretrainConfig#recipe()}, MVP by default). */
    public static Recipe build(PretrainConfig config) {
        return build(config, config.recipe());
    }

    /**
     * Assembles the recipe a spec names; its name is {@link RecipeSpec#label()} (the preset, any swapped part and the
     * resolved parts). The tokenizer's weights are loaded (build it outside any
     * {@link org.bytedeco.javacpp.PointerScope}); the returned recipe owns them.
     *
     * @throws InvalidRecipeException parts that do not fit together, or teacher weights a recipe needs and
     *                                {@code random} stands in for: one line naming the flag (a usage error)
     * @throws IllegalStateException   a teacher file that does not exist: one line naming {@code --teacher} (a
     *                                runtime error, as for every path a flag names)
     */
    public static Recipe build(PretrainConfig config, RecipeSpec spec) {
        Torch.init();
        TokenizerPart tokenizerPart = spec.resolvedTokenizer();
        MaskingPart maskingPart = spec.resolvedMasking();
        LossPart lossPart = spec.resolvedLoss();
        int grid = config.imageSize() / config.patchSize();
        if (maskingPart == MaskingPart.NONE && lossPart.maskedOnly()) {
            throw new InvalidRecipeException("--loss " + lossPart.id + " compares masked patches only, but --masking none masks "
                    + "nothing (use --loss cosine, or another masking)");
        }
        if (maskingPart != MaskingPart.NONE && spec.resolvedMaskPatches() == 0) {
            throw new InvalidRecipeException("--mask-patches 0 masks nothing: use --masking none");
        }
        MaskingStrategy masking = masking(maskingPart, spec.resolvedMaskPatches(), grid);
        if (masking instanceof BlockwiseMasking blocks && !blocks.config().topUp() && lossPart.maskedOnly()) {
            int target = blocks.targetCount(grid, grid);
            if (target < blocks.config().minPatchesPerBlock()) {
                // BEiT's generator then fails whole rounds and leaves many masks empty: a batch of them stops the run
                throw new InvalidRecipeException("blockwise masking of " + target + " patches on the " + grid + "x" + grid
                        + " grid (--mask-patches " + spec.resolvedMaskPatches() + " scaled) is below BEiT's smallest block of "
                        + blocks.config().minPatchesPerBlock() + " patches, so many masks would be empty and --loss "
                        + lossPart.id + " compares masked patches only: use a larger grid, --masking beit-topup or --masking random");
            }
        }
        Tokenizer tokenizer = tokenizer(config, spec, grid);
        try {
            Loss loss = loss(lossPart, tokenizer);
            if (tokenizer.gridSize() != grid) {
                int g = tokenizer.gridSize();
                throw new InvalidRecipeException("the " + tokenizer.name() + " targets lie on a " + g + "x" + g
                        + " grid, the student's on " + grid + "x" + grid + " (--img-size " + config.imageSize()
                        + ", --patch-size " + config.patchSize() + "): --img-size " + g * config.patchSize()
                        + " matches them (or leave --img-size out and it follows the teacher)");
            }
            torch.manual_seed(config.seed());
            VisionTransformer student = VisionTransformer.create(studentConfig(config, spec.resolvedBackbone()));
            LinearHead head = LinearHead.of(student, tokenizer);
            return Recipe.of(spec.label(), tokenizer, masking, student, head, loss);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /**
     * The grid the teacher fixes for the targets, if it fixes one: a CLIP weight file for a recipe whose tokenizer is
     * CLIP (its position embedding is for one grid). Every other teacher follows the student's grid: the random
     * CLIP teacher is made for it, DINO's position embedding is interpolated, the d-VAE takes 8 x the grid, HOG and
     * pixels have no weights. Reads the file's tensor names and shapes only.
     *
     * @throws IllegalStateException the teacher file does not exist (one line naming {@code --teacher}: a runtime error)
     */
    public static java.util.OptionalInt teacherGrid(PretrainConfig config) {
        if (config.teacher().equals("random") || config.recipe().resolvedTokenizer() != TokenizerPart.CLIP) {
            return java.util.OptionalInt.empty();
        }
        requireTeacherFile(config, TokenizerPart.CLIP);
        try (var checkpoint = dev.mvp.models.clip.ClipCheckpoint.open(Path.of(config.teacher()), null)) {
            var c = checkpoint.config();
            return java.util.OptionalInt.of(c.imageSize() / c.patchSize());
        }
    }

    private static void requireTeacherFile(PretrainConfig config, TokenizerPart part) {
        if (!Files.isRegularFile(Path.of(config.teacher()))) {
            throw new IllegalStateException("--teacher " + config.teacher() + ": no such file (the " + weightsOf(part) + ")");
        }
    }

    /** The teacher a configuration names: {@code random}, or a CLIP checkpoint file. */
    public static Tokenizer teacher(PretrainConfig config) {
        if (config.teacher().equals("random")) {
            return ClipTokenizer.random(RANDOM_TEACHER_SEED, config.imageSize(), config.patchSize());
        }
        return ClipTokenizer.load(Path.of(config.teacher()));
    }

    /** The student: timm's plain ViT of {@code config.model()}, or BEiT's pre-training variant of it. */
    static VitConfig studentConfig(PretrainConfig config, BackbonePart backbone) {
        VitConfig vit = PretrainConfig.studentPreset(config.model(), config.imageSize(), config.patchSize());
        return student(backbone == BackbonePart.BEIT ? vit.beitPretraining() : vit, config);
    }

    /**
     * A student configuration with the run's stochastic depth and layer scale where the configuration sets them
     * ({@code null} keeps the preset's values).
     */
    public static VitConfig student(VitConfig preset, PretrainConfig config) {
        VitConfig c = preset;
        if (config.dropPath() != null) c = c.withDropPath(config.dropPath());
        if (config.layerScale() != null) c = c.withLayerScale(config.layerScale());
        return c;
    }

    private static Tokenizer tokenizer(PretrainConfig config, RecipeSpec spec, int grid) {
        TokenizerPart part = spec.resolvedTokenizer();
        boolean random = config.teacher().equals("random");
        if (!part.hasWeights && !random) {
            throw new InvalidRecipeException("the " + part.id + " tokenizer has no weights: drop --teacher " + config.teacher());
        }
        if (part.hasWeights && part != TokenizerPart.CLIP && random) {
            throw new InvalidRecipeException("recipe " + spec.name() + " needs the " + weightsOf(part) + ": pass --teacher FILE "
                    + "(only the clip tokenizer has a random wiring-check teacher)");
        }
        if (part.hasWeights && !random) requireTeacherFile(config, part);
        return switch (part) {
            case CLIP -> teacher(config);
            // DINO at the student's input size (its position embedding interpolated), the d-VAE at 8 x the grid
            case DINO -> Teachers.open(Teachers.Spec.of(Teachers.Kind.DINO, Path.of(config.teacher())).withImageSize(config.imageSize()));
            case DALLE -> Teachers.open(Teachers.Spec.of(Teachers.Kind.DALLE, Path.of(config.teacher())).withImageSize(8 * grid));
            case HOG -> HogTokenizer.maskFeat(config.imageSize(), config.patchSize());
            case PIXELS -> PixelTokenizer.raw(config.imageSize(), config.patchSize());
            case PIXELS_NORM -> PixelTokenizer.normalized(config.imageSize(), config.patchSize());
        };
    }

    private static String weightsOf(TokenizerPart part) {
        return switch (part) {
            case CLIP -> "CLIP weights (OpenAI's, Hugging Face's or open_clip's layout; safetensors, torch.save or TorchScript)";
            case DINO -> "DINO ViT weights (e.g. dino_vitbase16_pretrain.pth)";
            case DALLE -> "DALL-E d-VAE encoder (encoder.pkl, see docs/TEACHERS.md)";
            default -> "weights";
        };
    }

    /**
     * The masking strategy for a {@code grid x grid} student; {@code countAt196} is given for a 14x14 grid and scaled
     * by area, {@code round(count * grid^2 / 196)} half to even, for blockwise and random masking alike.
     */
    static MaskingStrategy masking(MaskingPart part, int countAt196, int grid) {
        return switch (part) {
            case BEIT -> BlockwiseMasking.beit(countAt196);
            case BEIT_TOPUP -> new BlockwiseMasking(BlockwiseMasking.Config.beit(countAt196).withTopUp(true));
            case RANDOM -> RandomMasking.count(BlockwiseMasking.beit(Math.max(countAt196, 1)).targetCount(grid, grid));
            case NONE -> new NoMasking();
        };
    }

    private static Loss loss(LossPart part, Tokenizer tokenizer) {
        TargetSpec targets = tokenizer.targetSpec();
        Loss loss = switch (part) {
            case COSINE -> CosineAlignmentLoss.paper();
            case COSINE_MASKED -> CosineAlignmentLoss.maskedPatches();
            case CROSS_ENTROPY -> {
                if (!(targets instanceof TargetSpec.TokenIds ids)) {
                    throw new InvalidRecipeException("--loss cross-entropy needs token ids, but the " + tokenizer.name()
                            + " targets are " + targets);
                }
                yield new CodebookCrossEntropy(ids.vocabularySize());
            }
            case SMOOTH_L1 -> FeatureRegressionLoss.maskDistill();
            case MSE -> new FeatureRegressionLoss(new FeatureRegressionLoss.Config(FeatureRegressionLoss.Distance.MSE, 1, 1,
                    false, PatchSelection.MASKED));
            case MSE_LN -> FeatureRegressionLoss.mse();
            case MILAN -> FeatureRegressionLoss.milan();
            case PIXEL_MSE -> NormalizedPixelLoss.mae();
            case PIXEL_MSE_RAW -> new NormalizedPixelLoss(false);
        };
        if (!loss.accepts(targets)) {
            throw new InvalidRecipeException("--loss " + part.id + " (" + loss.name() + ") cannot consume the " + tokenizer.name()
                    + " targets " + targets);
        }
        return loss;
    }
}
