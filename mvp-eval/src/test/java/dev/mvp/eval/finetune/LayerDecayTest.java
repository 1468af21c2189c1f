package dev.mvp.eval.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Param;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The learning rate of every named parameter of ViT-B equals BEiT's layer-wise decay rule, as computed in Python by
 * tools/fixtures/make_eval_fixtures.py on the reference models (timm's ViT and BEiT's fine-tuning ViT).
 */
class LayerDecayTest {

    static void check(VitConfig config, String fixtureKey) throws Exception {
        Torch.init();
        JsonNode doc = new ObjectMapper().readTree(TestPaths.fixture("eval/layer_decay.json").toFile());
        double decay = doc.path("layer_decay").asDouble();
        int depth = doc.path("depth").asInt();
        Map<String, JsonNode> expected = new HashMap<>();
        for (JsonNode row : doc.path(fixtureKey)) expected.put(row.path("name").asText(), row);
        try (VisionTransformer vit = VisionTransformer.create(config)) {
            List<Param> params = LayerDecay.params(vit, depth, decay, 0.05);
            assertThat(params).hasSize(expected.size());
            for (Param p : params) {
                // our names are timm's; BEiT names its layer scales gamma_1 / gamma_2
                String ref = fixtureKey.startsWith("beit") ? p.name().replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2") : p.name();
                JsonNode row = expected.get(ref);
                assertThat(row).as("reference row for %s", p.name()).isNotNull();
                assertThat(LayerDecay.layerId(p.name(), depth)).as("layer id of %s", p.name()).isEqualTo(row.path("layer_id").asInt());
                assertThat(p.lrScale()).as("lr scale of %s", p.name()).isCloseTo(row.path("lr_scale").asDouble(), within(1e-15));
                assertThat(p.weightDecay() > 0).as("weight decay of %s", p.name()).isEqualTo(row.path("weight_decay").asBoolean());
                // the formula itself
                assertThat(p.lrScale()).isCloseTo(Math.pow(decay, depth + 1 - row.path("layer_id").asInt()), within(1e-15));
            }
        }
    }

    @Test
    void timmVitBaseWithMeanPoolingAndHead() throws Exception {
        check(VitConfig.base(16).withPooling(VitConfig.Pooling.MEAN).withNumClasses(1000), "timm_vit_base_patch16_avg");
    }

    @Test
    void beitVitBaseFineTuningModel() throws Exception {
        check(VitConfig.base(16).withNumClasses(1000).beitFinetuning(), "beit_base_patch16_finetune");
    }

    @Test
    void workedExampleOfTheDocs() {
        // docs/EVALUATION.md: ViT-B, decay 0.65, lr 4e-3
        assertThat(4e-3 * LayerDecay.scale(LayerDecay.layerId("head.weight", 12), 12, 0.65)).isCloseTo(4e-3, within(1e-18));
        assertThat(4e-3 * LayerDecay.scale(LayerDecay.layerId("blocks.11.attn.qkv.weight", 12), 12, 0.65)).isCloseTo(2.6e-3, within(1e-15));
        assertThat(4e-3 * LayerDecay.scale(LayerDecay.layerId("blocks.0.norm1.weight", 12), 12, 0.65)).isCloseTo(2.2752e-5, within(1e-9));
        assertThat(4e-3 * LayerDecay.scale(LayerDecay.layerId("patch_embed.proj.weight", 12), 12, 0.65)).isCloseTo(1.4789e-5, within(1e-9));
        assertThat(LayerDecay.layerId("rel_pos_bias.relative_position_bias_table", 12)).isEqualTo(13);
        assertThat(LayerDecay.layerId("cls_token", 12)).isZero();
    }
}
