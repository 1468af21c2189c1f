package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.BatchLoader;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.data.ImageFolder;
import dev.mvp.data.RgbImage;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitConfig;
import dev.mvp.models.io.StateDict;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Figure-3 maps: a backbone whose last block's CLS attention is forced onto one patch gives maps that peak there. */
class AttentionMapsTest {
    static final int ROW = 1, COL = 2, G = 4, P = 8;   // patch (1, 2) of a 4x4 grid of 8x8 patches: not symmetric

    /**
     * A 2-block ViT whose first block is the identity (zero output projections) and whose patch projection is zero,
     * so the tokens entering the last block are the position embeddings: the CLS token's and patch (ROW, COL)'s are
     * the same vector u, the others random. The last block's q and k projections are the identity (times 2), so the
     * CLS query matches patch (ROW, COL) best in every head. Block 0 keeps random q/k: reading the wrong block would
     * not peak there.
     */
    static VisionTransformer forcedModel() {
        Torch.init();
        torch.manual_seed(5);
        VitConfig config = VitConfig.timm(64, 2, 4, P).withImageSize(G * P);
        VisionTransformer vit = VisionTransformer.create(config);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> w = StateDict.of(vit);
            w.get("patch_embed.proj.weight").zero_();
            w.get("patch_embed.proj.bias").zero_();
            w.get("cls_token").zero_();
            Tensor pos = w.get("pos_embed");
            pos.copy_(torch.randn(new long[] {1, G * G + 1, 64}));
            Tensor u = torch.randn(new long[] {64});
            pos.select(1, 0).select(0, 0).copy_(u);
            pos.select(1, 1 + ROW * G + COL).select(0, 0).copy_(u);
            for (String n : new String[] {"blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.mlp.fc2.weight",
                    "blocks.0.mlp.fc2.bias"}) {
                w.get(n).zero_();
            }
            Tensor qkv = w.get("blocks.1.attn.qkv.weight");                              // [192, 64]
            Tensor eye = torch.eye(64).mul(new Scalar(2));
            qkv.narrow(0, 0, 64).copy_(eye);
            qkv.narrow(0, 64, 64).copy_(eye);
            w.get("blocks.1.attn.qkv.bias").zero_();
        }
        vit.eval();
        return vit;
    }

    static List<RgbImage> images(EvalTransform t, int n) throws Exception {
        var folder = ImageFolder.open(TestPaths.repoRoot().resolve("data/cifar10-sample"));
        var one = Subset.perClass(folder, 1);
        ImageDecoder decoder = ImageDecoders.fastest();
        List<RgbImage> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(t.crop(decoder.decode(one.path(i))));
        return out;
    }

    @Test
    void theMapPeaksAtTheForcedPatchAndUpsamplesOntoItsPixels(@TempDir Path tmp) throws Exception {
        try (VisionTransformer vit = forcedModel()) {
            EvalTransform t = new EvalTransform(32, 1.0, dev.mvp.api.Interpolation.BICUBIC, dev.mvp.api.ImageNormalization.IMAGENET);
            // the evaluation loader gives the same model input as cropping and normalising one image at a time
            try (BatchLoader loader = BatchLoader.evaluation(Subset.perClass(ImageFolder.open(
                    TestPaths.repoRoot().resolve("data/cifar10-sample")), 1), t, Features.loaderConfig(3, 1));
                 PointerScope scope = new PointerScope()) {
                float[] loaded = Tensors.toFloats(loader.next().view(0));
                float[] one = new float[3 * 32 * 32];
                List<RgbImage> crops = images(t, 3);
                for (int i = 0; i < 3; i++) {
                    t.toPlanar(crops.get(i), one, 0);
                    assertThat(java.util.Arrays.copyOfRange(loaded, i * one.length, (i + 1) * one.length)).containsExactly(one);
                }
            }
            List<RgbImage> pics = images(t, 3);
            float[] pixels = new float[3 * 3 * 32 * 32];
            for (int i = 0; i < 3; i++) t.toPlanar(pics.get(i), pixels, i * 3 * 32 * 32);
            float[][] maps;
            try (PointerScope scope = new PointerScope()) {
                maps = AttentionMaps.clsAttention(vit, Tensors.ofFloats(pixels, 3, 3, 32, 32));
            }
            int forced = ROW * G + COL;
            for (float[] m : maps) {
                assertThat(m).hasSize(G * G);
                assertThat(AttentionMaps.argmax(m)).isEqualTo(forced);
                float second = 0, sum = 0;
                for (int i = 0; i < m.length; i++) {
                    sum += m[i];
                    if (i != forced) second = Math.max(second, m[i]);
                }
                assertThat(m[forced]).isGreaterThan(5 * second);
                assertThat(sum).isLessThan(1f);          // the CLS token's attention to itself is not in the map
            }
            float[] up = AttentionMaps.upsample(maps[0], G, 32, AttentionMaps.Upsampling.NEAREST);
            int peak = AttentionMaps.argmax(up);
            assertThat(peak / 32 / P).isEqualTo(ROW);
            assertThat(peak % 32 / P).isEqualTo(COL);
            for (int y = ROW * P; y < (ROW + 1) * P; y++) {
                for (int x = COL * P; x < (COL + 1) * P; x++) assertThat(up[y * 32 + x]).isEqualTo(maps[0][forced]);
            }
            float[] smooth = AttentionMaps.upsample(maps[0], G, 32, AttentionMaps.Upsampling.BILINEAR);
            int sp = AttentionMaps.argmax(smooth);
            assertThat(sp / 32 / P).isEqualTo(ROW);
            assertThat(sp % 32 / P).isEqualTo(COL);

            Path sheet = tmp.resolve("sheet.png");
            List<AttentionMaps.Entry> entries = new ArrayList<>();
            for (int i = 0; i < 3; i++) entries.add(new AttentionMaps.Entry(pics.get(i), AttentionMaps.upsample(maps[i], G, 32,
                    AttentionMaps.Upsampling.NEAREST), "image " + i));
            AttentionMaps.writeSheet(entries, 4, sheet);
            BufferedImage png = ImageIO.read(sheet.toFile());
            assertThat(png.getWidth()).isEqualTo(3 * 128 + 4 * 6);
            assertThat(png.getHeight()).isEqualTo(3 * (128 + 16 + 6) + 6);
            // the heat panel of the first row is red (the top of the jet scale) exactly over the forced patch
            int panelX = 2 * 6 + 128, panelY = 6 + 16;
            int red = png.getRGB(panelX + (COL * P + 3) * 4, panelY + (ROW * P + 3) * 4) & 0xFFFFFF;
            int elsewhere = png.getRGB(panelX + 2, panelY + 2) & 0xFFFFFF;
            assertThat(red >> 16).isGreaterThan(120);
            assertThat(red & 0xFF).isZero();
            assertThat(elsewhere).isNotEqualTo(red);
        }
    }
}
