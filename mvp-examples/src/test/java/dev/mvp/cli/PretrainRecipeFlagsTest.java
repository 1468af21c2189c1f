package dev.mvp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code mvp pretrain --recipe ... --masking ...}: one argument per swapped part, and the run says what it ran. */
class PretrainRecipeFlagsTest {

    /** A 2-step run (32 px unless {@code more} says) with 8-px patches on the embedded sample, one libtorch thread. */
    private static String[] run(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--data", TestPaths.repoRoot().resolve("data/cifar10-sample").toString(),
                "--out", out.toString(), "--patch-size", "8", "--batch-size", "4", "--warmup-steps", "1",
                "--threads", "1", "--workers", "1"));
        args.addAll(List.of(more));
        if (!args.contains("--steps")) args.addAll(List.of("--steps", "2"));
        if (!args.contains("--img-size")) args.addAll(List.of("--img-size", "32"));
        return args.toArray(String[]::new);
    }

    @Tag("e2e")
    @Test
    void aSwappedPartIsPrintedAndRecordedAndTheRestStays(@TempDir Path tmp) throws Exception {
        MainTest.Result r = mvp(run(tmp.resolve("ablation"), "--masking", "random"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("recipe mvp --masking random (preset: beit): tokenizer clip, masking random (75 at 14x14), "
                + "backbone vit, loss cosine", "masking:   random(6 patches)", "loss:      cosine-alignment(cls + all patches)");
        JsonNode json = new ObjectMapper().readTree(tmp.resolve("ablation/config.json").toFile());
        JsonNode recipe = json.path("config").path("recipe");
        assertThat(recipe.path("preset").asText()).isEqualTo("mvp");
        assertThat(recipe.path("masking").asText()).isEqualTo("random");
        assertThat(recipe.path("tokenizer").isNull()).isTrue();
        assertThat(recipe.path("resolved").path("overrides").asText()).isEqualTo("masking=random");
        assertThat(json.path("config").path("mask_patches").asInt()).isEqualTo(75);
        assertThat(json.path("recipe").get(0).asText()).startsWith("recipe mvp --masking random (preset: beit)");
    }

    @Tag("e2e")
    @Test
    void aPresetBringsItsOwnMaskCountAndAResumedRunKeepsItsRecipe(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("maskfeat");
        MainTest.Result first = mvp(run(out, "--recipe", "maskfeat", "--img-size", "64", "--steps", "4", "--checkpoint-every", "2"));
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("recipe maskfeat: tokenizer hog, masking beit (78 at 14x14), backbone vit, loss mse",
                "tokenizer: hog(9 bins, 8x8 cells, gaussian window 16, patch 8, image 64)")
                .doesNotContain("teacher 'random'");
        assertThat(new ObjectMapper().readTree(out.resolve("config.json").toFile()).path("config").path("mask_patches").asInt())
                .isEqualTo(78);

        // continue from the step-2 checkpoint, as if the run had been killed there
        String step2 = out.resolve("checkpoints/step-00000002").toString();
        MainTest.Result other = mvp("pretrain", "--resume", step2, "--recipe", "mvp", "--threads", "1", "--workers", "1");
        assertThat(other.code()).as(other.err()).isEqualTo(2);
        assertThat(other.err()).contains("--recipe was maskfeat in that run, mvp now");

        MainTest.Result resumed = mvp("pretrain", "--resume", step2, "--threads", "1", "--workers", "1");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("recipe maskfeat: tokenizer hog", "resuming from").contains("done: 4 steps");
    }

    @Test
    void partsThatDoNotFitAreUsageErrors(@TempDir Path tmp) {
        MainTest.Result unknown = mvp(run(tmp.resolve("a"), "--recipe", "simmim"));
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown recipe 'simmim' (expected mvp, beit, dino-guided, maskfeat")
                .doesNotContain("\tat ");
        MainTest.Result beit = mvp(run(tmp.resolve("b"), "--recipe", "beit", "--img-size", "64"));
        assertThat(beit.code()).isEqualTo(2);
        assertThat(beit.err()).contains("needs the DALL-E d-VAE encoder").contains("--teacher FILE");
        MainTest.Result small = mvp(run(tmp.resolve("f"), "--recipe", "maskfeat"));
        assertThat(small.code()).isEqualTo(2);
        assertThat(small.err()).contains("below BEiT's smallest block of 16 patches");
        MainTest.Result ce = mvp(run(tmp.resolve("c"), "--recipe", "maskfeat", "--img-size", "64", "--loss", "cross-entropy"));
        assertThat(ce.code()).isEqualTo(2);
        assertThat(ce.err()).contains("--loss cross-entropy needs token ids");
        MainTest.Result none = mvp(run(tmp.resolve("d"), "--recipe", "mae-style", "--masking", "none"));
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.err()).contains("--masking none masks nothing");
        assertThat(mvp(run(tmp.resolve("e"), "--loss", "l2")).err()).contains("unknown loss 'l2'");
    }
}
