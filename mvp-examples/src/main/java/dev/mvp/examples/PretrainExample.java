package dev.mvp.examples;

import dev.mvp.api.Recipe;
import dev.mvp.data.ImageFolder;
import dev.mvp.losses.CosineAlignmentLoss;
import dev.mvp.masking.BlockwiseMasking;
import dev.mvp.models.LinearHead;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.tokenizers.ClipTokenizer;
import dev.mvp.train.PretrainConfig;
import dev.mvp.train.Pretrainer;
import dev.mvp.train.RunListener;
import dev.mvp.train.RunSummary;
import dev.mvp.train.StepMetrics;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;

/**
 * MVP pre-training from Java code rather than the command line: the README's library example, kept compiling here.
 *
 * <pre>
 * java ... dev.mvp.examples.PretrainExample DATA_DIR CLIP.safetensors|random OUT_DIR
 * </pre>
 *
 * The parts are assembled by hand to show that each is one argument: swap the masking for
 * {@code RandomMasking}, the loss for a {@code FeatureRegressionLoss}, the teacher for another tokenizer.
 */
public final class PretrainExample {
    private PretrainExample() {}

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: PretrainExample DATA_DIR CLIP.safetensors|random OUT_DIR");
            System.exit(2);
        }
        PretrainConfig config = PretrainConfig.builder(Path.of(args[0]), Path.of(args[2]))
                .teacher(args[1]).model("tiny").imageSize(112).patchSize(16).batchSize(16).steps(50).build();

        var teacher = args[1].equals("random")
                ? ClipTokenizer.random(0, config.imageSize(), config.patchSize())
                : ClipTokenizer.load(Path.of(args[1]));
        torch.manual_seed(config.seed()); // the student's initialisation follows the run's seed
        var student = VisionTransformer.create(VitConfig.preset("tiny", 16).withImageSize(config.imageSize()));
        Recipe mvp = Recipe.of("mvp", teacher, BlockwiseMasking.beit(config.maskPatches()), student,
                LinearHead.of(student, teacher), CosineAlignmentLoss.paper());

        RunSummary summary = Pretrainer.run(config, mvp, ImageFolder.open(config.data()), null, new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                if (m.step() % 10 == 0) System.out.printf("step %d/%d loss %.4f%n", m.step(), total, m.loss());
            }
        });
        System.out.println(summary);
    }
}
