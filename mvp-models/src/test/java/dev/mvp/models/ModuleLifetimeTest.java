package dev.mvp.models;

import dev.mvp.api.Torch;
import dev.mvp.models.clip.ClipVisionConfig;
import dev.mvp.models.clip.ClipVisionTransformer;
import dev.mvp.models.dalle.DalleEncoder;
import dev.mvp.models.dalle.DalleEncoderConfig;
import org.bytedeco.pytorch.Module;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * train()/eval() after a garbage collection, for every model made of Java container modules: libtorch calls back into every Java-made submodule, so a container
 * module whose Java object was collected made these calls fail with a NullPointerException (docs/LIBTORCH-NOTES.md).
 */
class ModuleLifetimeTest {

    @Test
    void trainAndEvalWorkAfterGarbageCollection() throws Exception {
        Torch.init();
        // every kind of container: patch_embed/proj, blocks, mlp, ls1/ls2 (layer scale), rel_pos_bias (shared table)
        VisionTransformer vit = VisionTransformer.create(VitConfig.tiny(8).withImageSize(16).withDepth(2).beitPretraining());
        collectGarbage();
        switchModes(vit);
        vit.close();
    }

    @Test
    void clipTowerTrainAndEvalWorkAfterGarbageCollection() throws Exception {
        Torch.init();
        // conv1, transformer/resblocks, and per block attn/out_proj, mlp/c_fc/c_proj
        ClipVisionTransformer clip = ClipVisionTransformer.create(new ClipVisionConfig(16, 8, 64, 2, 2, 32));
        collectGarbage();
        switchModes(clip);
        clip.close();
    }

    @Test
    void dalleEncoderTrainAndEvalWorkAfterGarbageCollection() throws Exception {
        Torch.init();
        DalleEncoder encoder = DalleEncoder.create(new DalleEncoderConfig(8, 1, 3, 16));
        collectGarbage();
        switchModes(encoder);
        encoder.close();
    }

    private static void collectGarbage() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            List<byte[]> garbage = new ArrayList<>();
            for (int j = 0; j < 200; j++) garbage.add(new byte[1 << 16]);
            garbage.clear();
            System.gc();
            Thread.sleep(50);
        }
    }

    private static void switchModes(Module module) {
        module.eval();
        assertThat(module.is_training()).isFalse();
        module.train(true);
        assertThat(module.is_training()).isTrue();
    }
}
