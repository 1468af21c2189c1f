package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.Torch;
import dev.mvp.losses.CosineAlignmentLoss;
import dev.mvp.masking.BlockwiseMasking;
import dev.mvp.models.LinearHead;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.tokenizers.ClipTokenizer;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;

/** Recipes assembled from a {@link PretrainConfig}. */
public final class Recipes {
    private Recipes() {}

    /** Seed of the {@code random} teacher: fixed, so every run (and every resumption) sees the same teacher. */
    public static final long RANDOM_TEACHER_SEED = 0;

    /**
     * MVP: the CLIP teacher, BEiT's blockwise masking, a ViT student initialised from {@code config.seed()}, a
     * linear head into CLIP's space, and the cosine alignment loss of equation 9.
     */
    public static Recipe mvp(PretrainConfig config) {
        Torch.init();
        Tokenizer teacher = teacher(config);
        torch.manual_seed(config.seed());
        VisionTransformer student = VisionTransformer.create(
                VitConfig.preset(config.model(), config.patchSize()).withImageSize(config.imageSize()));
        LinearHead head = LinearHead.of(student, teacher);
        return Recipe.of("mvp", teacher, BlockwiseMasking.beit(config.maskPatches()), student, head,
                CosineAlignmentLoss.paper());
    }

    /** The teacher a configuration names: {@code random}, or a CLIP checkpoint file. */
    public static Tokenizer teacher(PretrainConfig config) {
        if (config.teacher().equals("random")) {
            return ClipTokenizer.random(RANDOM_TEACHER_SEED, config.imageSize(), config.patchSize());
        }
        return ClipTokenizer.load(Path.of(config.teacher()));
    }
}
