package dev.mvp.models;

import dev.mvp.api.Torch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * train()/eval() after a garbage collection: libtorch calls back into every Java-made submodule, so a container
 * module whose Java object was collected made these calls fail with a NullPointerException (docs/LIBTORCH-NOTES.md).
 */
class ModuleLifetimeTest {

    @Test
    void trainAndEvalWorkAfterGarbageCollection() throws Exception {
        Torch.init();
        // every kind of container: patch_embed/proj, blocks, mlp, ls1/ls2 (layer scale), rel_pos_bias (shared table)
        VisionTransformer vit = VisionTransformer.create(VitConfig.tiny(8).withImageSize(16).withDepth(2).beitPretraining());
        for (int i = 0; i < 3; i++) {
            List<byte[]> garbage = new ArrayList<>();
            for (int j = 0; j < 200; j++) garbage.add(new byte[1 << 16]);
            garbage.clear();
            System.gc();
            Thread.sleep(50);
        }
        vit.eval();
        assertThat(vit.is_training()).isFalse();
        vit.train(true);
        assertThat(vit.is_training()).isTrue();
        vit.close();
    }
}
