package dev.mvp.cli;

import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.StateDict;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/** mvp segment's flags for UperNet's auxiliary head, mmseg's crop pipeline and the patch sizes UperNet has a neck for. */
class SegmentCommandTest {
    @TempDir Path tmp;

    @Test
    void helpShowsBeitsAuxiliaryHeadPipelineAndHowHeadsAreFound() {
        String help = mvp("segment", "--help").out();
        assertThat(help).contains("--aux-weight", "Default: 0.4", "--aux-channels", "Default: 256", "--cat-max-ratio",
                "Default: 0.75", "--no-photometric", "width / 64");
    }

    @Test
    void upernetOnAPatchSizeWithoutABeitNeckIsAOneLineUsageError() {
        Torch.init();
        Path file = tmp.resolve("patch4.safetensors");
        try (VisionTransformer vit = VisionTransformer.create(VitConfig.timm(64, 2, 1, 4).withImageSize(16));
             PointerScope scope = new PointerScope()) {
            VitCheckpoints.save(StateDict.of(vit), VitCheckpoints.Layout.TIMM, file, Map.of());
        }
        MainTest.Result r = mvp("segment", "--backbone", file.toString(), "--data", tmp.toString(), "--head", "upernet");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--head upernet", "patch sizes 16 and 8", "patch size 4", "patch4.safetensors")
                .doesNotContain("\tat ");
        assertThat(r.err().strip().lines().count()).isLessThanOrEqualTo(2);
        MainTest.Result w = mvp("segment", "--backbone", file.toString(), "--data", tmp.toString(), "--aux-weight", "-1");
        assertThat(w.code()).isEqualTo(2);
        assertThat(w.err()).contains("--aux-weight");
        MainTest.Result c = mvp("segment", "--backbone", file.toString(), "--data", tmp.toString(), "--cat-max-ratio", "0");
        assertThat(c.code()).isEqualTo(2);
        assertThat(c.err()).contains("--cat-max-ratio must be in (0, 1]");
    }
}
