package dev.mvp.train;

import dev.mvp.api.Recipe;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The run's --drop-path and --layer-scale reach the student; without them the preset decides. */
class StudentOptionsTest {
    private static final Path DATA = Path.of("data"), OUT = Path.of("out");

    @Test
    void dropPathAndLayerScaleOverrideThePresetOnlyWhenSet() {
        VitConfig preset = VitConfig.tiny(16).beitPretraining();
        PretrainConfig keep = PretrainConfig.builder(DATA, OUT).build();
        assertThat(Recipes.student(preset, keep)).isEqualTo(preset);
        PretrainConfig set = keep.toBuilder().dropPath(0.2).layerScale(1e-5).build();
        VitConfig c = Recipes.student(preset, set);
        assertThat(c.dropPath()).isEqualTo(0.2);
        assertThat(c.layerScale()).isEqualTo(1e-5);
        assertThat(set.runDefinition()).containsEntry("drop-path", "0.2").containsEntry("layer-scale", "1.0E-5");
        assertThat(keep.runDefinition()).containsEntry("drop-path", "preset");

        Recipe recipe = Recipes.mvp(set.toBuilder().imageSize(32).patchSize(8).build());
        VitConfig built = ((VisionTransformer) recipe.backbone()).config();
        assertThat(built.dropPath()).isEqualTo(0.2);
        assertThat(built.layerScale()).isEqualTo(1e-5);
    }
}
