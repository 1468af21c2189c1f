package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.data.ImageFolder;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every preset pre-trains for a few steps on the embedded CIFAR-10 sample: ViT-Ti, batch 8, 8 steps, one libtorch thread
 * (with two on a busy 2-core machine OpenMP's spinning made a step 40 times slower), at 32 px with
 * 8-px patches (a 4x4 grid) where every patch is compared, and on 8x8 grids where blockwise masking meets a
 * masked-patches loss (on a 4x4 grid the scaled count is below BEiT's 16-patch blocks, which {@link Recipes#build}
 * refuses): 64 px with 8-px patches, or 128 px with 16-px patches for the teachers whose fixtures are /16. The
 * teachers with weights use the small real-format fixtures of fixtures/dalle and fixtures/dino.
 */
@Tag("e2e")
class RecipesE2ETest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "mvp,                 random,                 32, 8,  clip-vit,   beit-blockwise(75,  'cosine-alignment(cls + all patches)',     true",
            "maskfeat,            random,                 64, 8,  hog(9 bins, beit-blockwise(78,  'feature-regression(mse, masked patches)', true",
            "mae-style,           random,                 32, 8,  pixels(,    random(12 patches), pixel-mse(per-patch normalised,        false",
            "mae-style-blockwise, random,                 64, 8,  pixels(,    beit-blockwise(147, pixel-mse(per-patch normalised,        false",
            "beit,                dalle/encoder_w16.pkl, 128, 16, dalle-dvae, beit-blockwise(75,  codebook-cross-entropy(512,             true",
            "dino-guided,         dino/dino_w64.pth,     128, 16, dino,       beit-blockwise(75,  'cosine-alignment(cls + all patches)',     true"})
    void eachRecipeTrainsOnRealImages(String preset, String teacher, int imageSize, int patchSize, String tokenizer,
                                      String masking, String loss, boolean lossFallsIn8Steps, @TempDir Path tmp) throws Exception {
        String weights = teacher.equals("random") ? "random" : TestPaths.fixture(teacher).toString();
        PretrainConfig config = PretrainConfig.builder(TestPaths.repoRoot().resolve("data/cifar10-sample"), tmp.resolve("run"))
                .teacher(weights).imageSize(imageSize).patchSize(patchSize).batchSize(8).steps(8).warmupSteps(1)
                .threads(1).workers(1).build();
        Recipe recipe = Recipes.build(config, RecipeSpec.of(preset));
        assertThat(recipe.tokenizer().name()).startsWith(tokenizer);
        assertThat(recipe.masking().name()).startsWith(masking);
        assertThat(recipe.loss().name()).startsWith(loss);

        List<StepMetrics> steps = new ArrayList<>();
        Pretrainer.run(config, recipe, ImageFolder.open(config.data()), null, new RunListener() {
            @Override public void step(StepMetrics m, long total) {
                steps.add(m);
            }
        });
        recipe.tokenizer().close();

        assertThat(steps).hasSize(8).allSatisfy(m -> assertThat(m.loss()).as("loss at step %d", m.step()).isFinite());
        double first = (steps.get(0).loss() + steps.get(1).loss()) / 2, last = (steps.get(6).loss() + steps.get(7).loss()) / 2;
        System.out.printf("%s: loss %.4f -> %.4f (%s %.4f -> %.4f)%n", preset, first, last, steps.get(0).metricName(),
                steps.get(0).metric(), steps.get(7).metric());
        if (lossFallsIn8Steps) {
            assertThat(last).as("mean loss of the last 2 steps vs the first 2").isLessThan(first);
        } else {
            // per-patch normalised pixels start near 1 (the variance) and move little in 8 steps: no divergence
            assertThat(last).as("mean loss of the last 2 steps vs the first 2").isLessThan(first + 0.05);
        }
        assertThat(Files.readString(config.out().resolve("config.json"))).contains("recipe " + recipe.name());
    }
}
