package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.testing.TestPaths;
import dev.mvp.train.RecipeSpec.BackbonePart;
import dev.mvp.train.RecipeSpec.LossPart;
import dev.mvp.train.RecipeSpec.MaskingPart;
import dev.mvp.train.RecipeSpec.Preset;
import dev.mvp.train.RecipeSpec.TokenizerPart;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The presets assemble the parts their papers name, and a swapped part changes nothing else. */
class RecipesTest {

    /** ViT-Ti at 64 px with 8-px patches (an 8x8 grid): cheap to build, and every weightless tokenizer fits it. */
    private static PretrainConfig small(String teacher) {
        return PretrainConfig.builder(Path.of("unused"), Path.of("unused")).imageSize(64).patchSize(8).teacher(teacher).build();
    }

    @Test
    void eachPresetIsAssembledFromThePartsItsPaperNames() {
        Recipe mvp = Recipes.build(small("random"), RecipeSpec.of("mvp"));
        assertThat(mvp.name()).isEqualTo("mvp: tokenizer clip, masking beit (75 at 14x14), backbone vit, loss cosine");
        assertThat(mvp.tokenizer().name()).startsWith("clip-vit(");
        assertThat(mvp.masking().name()).startsWith("beit-blockwise(75 of 196");
        assertThat(mvp.loss().name()).isEqualTo("cosine-alignment(cls + all patches)");
        assertThat(mvp.describe()).startsWith("recipe mvp: tokenizer clip").contains("head:      linear 192 -> 64");
        mvp.tokenizer().close();
        Recipe maskfeat = Recipes.build(small("random"), RecipeSpec.of("maskfeat"));
        assertThat(maskfeat.tokenizer().name()).isEqualTo("hog(9 bins, 8x8 cells, gaussian window 16, patch 8, image 64)");
        assertThat(maskfeat.tokenizer().targetSpec()).isEqualTo(new TargetSpec.Features(27, false));
        assertThat(maskfeat.masking().name()).startsWith("beit-blockwise(78 of 196");
        assertThat(maskfeat.loss().name()).isEqualTo("feature-regression(mse, masked patches)");
        assertThat(maskfeat.head().outputDim()).isEqualTo(27);

        Recipe mae = Recipes.build(small("random"), RecipeSpec.of("mae-style"));
        assertThat(mae.name()).isEqualTo("mae-style-random: tokenizer pixels, masking random (147 at 14x14), backbone vit, loss pixel-mse");
        assertThat(mae.tokenizer().name()).isEqualTo("pixels(patch 8, image 64, raw)");
        assertThat(mae.masking().name()).isEqualTo("random(48 patches)");   // 147 of 196 scaled to 64: 48 (MAE: 64 - int(16))
        assertThat(mae.loss().name()).isEqualTo("pixel-mse(per-patch normalised targets, masked patches)");
        Recipe maeBlocks = Recipes.build(small("random"), RecipeSpec.of("mae-style-blockwise"));
        assertThat(maeBlocks.masking().name()).startsWith("beit-blockwise(147 of 196");
        assertThat(maeBlocks.tokenizer().name()).isEqualTo(mae.tokenizer().name());
        assertThat(maeBlocks.loss().name()).isEqualTo(mae.loss().name());
    }

    /** BEiT and the DINO ablation with the small real-format teachers of fixtures/dalle and fixtures/dino. */
    @Test
    void teachersWithWeightsLoadFromTheirFiles() {
        PretrainConfig at128 = small("x").toBuilder().imageSize(128).patchSize(16).build();   // an 8x8 grid
        Recipe beit = Recipes.build(at128.toBuilder().teacher(TestPaths.fixture("dalle/encoder_w16.pkl").toString()).build(),
                RecipeSpec.of("beit"));
        assertThat(beit.tokenizer().name()).startsWith("dalle-dvae(").contains("view 64");
        assertThat(beit.tokenizer().targetSpec()).isEqualTo(new TargetSpec.TokenIds(512));
        assertThat(beit.loss().name()).isEqualTo("codebook-cross-entropy(512 tokens, masked patches)");
        assertThat(beit.name()).endsWith("backbone beit, loss cross-entropy");
        assertThat(((dev.mvp.models.VisionTransformer) beit.backbone()).config())
                .isEqualTo(dev.mvp.models.VitConfig.tiny(16).withImageSize(128).beitPretraining());
        beit.tokenizer().close();

        Recipe dino = Recipes.build(at128.toBuilder().teacher(TestPaths.fixture("dino/dino_w64.pth").toString()).build(),
                RecipeSpec.of("dino-guided"));
        assertThat(dino.tokenizer().name()).startsWith("dino");
        assertThat(dino.tokenizer().targetSpec()).isEqualTo(new TargetSpec.Features(64, true));
        assertThat(dino.loss().name()).isEqualTo("cosine-alignment(cls + all patches)");
        dino.tokenizer().close();
    }

    @Test
    void swappingOnePartChangesNothingElse() {
        PretrainConfig config = small("random");
        Recipe mvp = Recipes.build(config, RecipeSpec.of(Preset.MVP));
        Recipe random = Recipes.build(config, RecipeSpec.of(Preset.MVP).withMasking(MaskingPart.RANDOM));
        assertThat(random.name()).isEqualTo("mvp --masking random (preset: beit): tokenizer clip, masking random (75 at 14x14), "
                + "backbone vit, loss cosine");
        assertThat(random.masking().name()).isEqualTo("random(24 patches)");   // round(75 * 64 / 196) = round(24.49)
        assertThat(random.tokenizer().name()).isEqualTo(mvp.tokenizer().name());
        assertThat(random.backbone().description()).isEqualTo(mvp.backbone().description());
        assertThat(random.loss().name()).isEqualTo(mvp.loss().name());
        try (PointerScope scope = new PointerScope()) {
            // the same student initialisation, the same teacher
            Tensor a = mvp.backbone().module().parameters().get(3), b = random.backbone().module().parameters().get(3);
            assertThat(Tensors.toFloats(a)).containsExactly(Tensors.toFloats(b));
            Tensor images = Tensors.randn(1, 3, 64, 64);
            assertThat(Tensors.toFloats(random.tokenizer().targets(images))).containsExactly(Tensors.toFloats(mvp.tokenizer().targets(images)));
        }
        RecipeSpec swapped = RecipeSpec.of("mvp").withLoss(LossPart.COSINE_MASKED).withMaskPatches(60);
        assertThat(swapped.overrides()).isEqualTo(Map.of("loss", "cosine-masked", "mask-patches", "60"));
        assertThat(swapped.resolved()).containsEntry("loss", "cosine-masked").containsEntry("masking", "beit")
                .containsEntry("mask-patches", "60").containsEntry("tokenizer", "clip");
        assertThat(Recipes.build(config, swapped).loss().name()).isEqualTo("cosine-alignment(masked patches)");
        // naming a preset's own part is not an override
        assertThat(RecipeSpec.of("mvp").withMasking(MaskingPart.BEIT).name()).isEqualTo("mvp");
        assertThat(Recipes.mvp(config).name()).startsWith("mvp: ");
    }

    @Test
    void aClipFileFixesTheTargetGridAndAStudentOnAnotherGridIsToldWhichImageSizeMatches() {
        String clip = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors").toString();
        // the fixture is a 64-pixel, 16-pixel-patch tower: a 4x4 grid
        assertThat(Recipes.teacherGrid(small(clip))).hasValue(4);
        assertThat(Recipes.teacherGrid(small("random"))).as("the random teacher follows the student").isEmpty();
        PretrainConfig hog = small(clip).toBuilder().recipe(RecipeSpec.of("maskfeat")).build();
        assertThat(Recipes.teacherGrid(hog)).isEmpty();
        PretrainConfig missing = small("/no/such/clip.safetensors");
        assertThatThrownBy(() -> Recipes.teacherGrid(missing)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("--teacher /no/such/clip.safetensors: no such file (the CLIP weights");
        assertThatThrownBy(() -> Recipes.build(missing)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("--teacher /no/such/clip.safetensors: no such file");
        // 64 pixels in 8-pixel patches is an 8x8 grid: 32 pixels would match
        assertThatThrownBy(() -> Recipes.build(small(clip))).isInstanceOf(InvalidRecipeException.class)
                .hasMessageContaining("lie on a 4x4 grid, the student's on 8x8 (--img-size 64, --patch-size 8): "
                        + "--img-size 32 matches them");
        Recipe matched = Recipes.build(small(clip).toBuilder().imageSize(32).build());
        assertThat(matched.tokenizer().gridSize()).isEqualTo(4);
    }

    @Test
    void partsThatDoNotFitAreUsageErrorsNamingTheFlag() {
        PretrainConfig random = small("random");
        assertThatThrownBy(() -> Recipes.build(random, RecipeSpec.of("beit"))).isInstanceOf(InvalidRecipeException.class)
                .hasMessageContaining("needs the DALL-E d-VAE encoder").hasMessageContaining("--teacher FILE");
        assertThatThrownBy(() -> Recipes.build(random, RecipeSpec.of("dino-guided"))).hasMessageContaining("DINO ViT weights");
        assertThatThrownBy(() -> Recipes.build(small("/no/such/dino.pth"), RecipeSpec.of("dino-guided")))
                .hasMessage("--teacher /no/such/dino.pth: no such file (the DINO ViT weights (e.g. dino_vitbase16_pretrain.pth))");
        assertThatThrownBy(() -> Recipes.build(small("clip.safetensors"), RecipeSpec.of("maskfeat")))
                .hasMessage("the hog tokenizer has no weights: drop --teacher clip.safetensors");
        // a 4x4 grid: 78 of 196 scaled is 6 patches, below BEiT's 16-patch blocks
        PretrainConfig grid4 = random.toBuilder().imageSize(32).build();
        assertThatThrownBy(() -> Recipes.build(grid4, RecipeSpec.of("maskfeat"))).isInstanceOf(InvalidRecipeException.class)
                .hasMessageStartingWith("blockwise masking of 6 patches on the 4x4 grid (--mask-patches 78 scaled) is below "
                        + "BEiT's smallest block of 16 patches").hasMessageContaining("--masking beit-topup or --masking random");
        assertThat(Recipes.build(grid4, RecipeSpec.of("maskfeat").withMasking(MaskingPart.BEIT_TOPUP)).masking().name()).contains("top-up on");
        assertThat(Recipes.build(grid4, RecipeSpec.of("mvp")).masking().name()).startsWith("beit-blockwise"); // all patches compared
        assertThatThrownBy(() -> Recipes.build(random, RecipeSpec.of("maskfeat").withLoss(LossPart.CROSS_ENTROPY)))
                .hasMessageStartingWith("--loss cross-entropy needs token ids, but the hog(");
        assertThatThrownBy(() -> Recipes.build(random, RecipeSpec.of("mvp").withLoss(LossPart.PIXEL_MSE)))
                .hasMessageStartingWith("--loss pixel-mse (pixel-mse(per-patch normalised targets, masked patches)) cannot consume the clip-vit(");
        assertThatThrownBy(() -> Recipes.build(random, RecipeSpec.of("maskfeat").withMasking(MaskingPart.NONE)))
                .hasMessageContaining("--loss mse compares masked patches only, but --masking none masks nothing");
        assertThatThrownBy(() -> Recipes.build(small("random").toBuilder().patchSize(4).build(), RecipeSpec.of("maskfeat").withMasking(MaskingPart.RANDOM)))
                .hasMessageContaining("cells of 8 pixels must tile a patch of 4 pixels");
        assertThat(Recipes.build(random, RecipeSpec.of("mvp").withMasking(MaskingPart.NONE)).masking().name()).isEqualTo("none");
    }

    @Test
    void namesParseAndUnknownOnesListTheChoices() {
        assertThat(RecipeSpec.Preset.parse("MAE-style")).isEqualTo(Preset.MAE_STYLE_RANDOM);
        assertThat(RecipeSpec.Preset.parse("dino-guided")).isEqualTo(Preset.DINO_GUIDED);
        assertThat(MaskingPart.parse("blockwise")).isEqualTo(MaskingPart.BEIT);
        assertThat(LossPart.parse("milan")).isEqualTo(LossPart.MILAN);
        assertThat(TokenizerPart.parse("pixels-norm")).isEqualTo(TokenizerPart.PIXELS_NORM);
        assertThat(BackbonePart.parse("beit")).isEqualTo(BackbonePart.BEIT);
        assertThatThrownBy(() -> RecipeSpec.Preset.parse("simmim")).isInstanceOf(InvalidRecipeException.class)
                .hasMessage("unknown recipe 'simmim' (expected mvp, beit, dino-guided, maskfeat, mae-style-random, "
                        + "mae-style-blockwise, or mae-style)");
        assertThatThrownBy(() -> LossPart.parse("l1")).hasMessageStartingWith("unknown loss 'l1' (expected cosine, cosine-masked,");
        assertThatThrownBy(() -> RecipeSpec.of("mvp").withMaskPatches(197)).hasMessageContaining("--mask-patches must be in [0, 196]");
    }
}
