package dev.mvp.eval;

import dev.mvp.api.Torch;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Damaged or inconsistent backbone files are refused with one line naming the file and tensor, never loaded silently. */
class BackboneFilesTest {
    /** timm's layout, width 64, depth 2, patch 8, image 32. */
    private static final Path TIMM = TestPaths.fixture("vit/timm_plain.safetensors");

    /** The fixture's tensors, changed by {@code edit}, written with {@code metadata} to {@code out}. */
    private static Path variant(Path out, Map<String, String> metadata, Consumer<Map<String, Tensor>> edit) {
        Torch.init();
        try (SafeTensorsFile f = SafeTensorsFile.open(TIMM); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (String n : f.names()) all.put(n, f.tensor(n).clone());
            edit.accept(all);
            SafeTensorsWriter.write(out, all, metadata);
        }
        return out;
    }

    private static void set(Tensor t, long index, double value) {
        t.view(-1).narrow(0, index, 1).fill_(new org.bytedeco.pytorch.Scalar(value));
    }

    private static void renameBlock(Map<String, Tensor> all, int from, int to) {
        for (String n : java.util.List.copyOf(all.keySet())) {
            if (n.startsWith("blocks." + from + ".")) all.put("blocks." + to + n.substring(("blocks." + from).length()), all.remove(n));
        }
    }

    @Test
    void aGapInTheBlockNumberingNamesTheMissingTensor(@TempDir Path tmp) {
        // blocks 0 and 2: block 1 is gone
        Path gap = variant(tmp.resolve("gap.safetensors"), Map.of(), all -> renameBlock(all, 1, 2));
        assertThatThrownBy(() -> BackboneFiles.inferConfig(gap, 0)).isInstanceOf(WeightFormatException.class)
                .hasMessage(gap + ": tensor 'blocks.1.attn.proj.bias': missing (the file has blocks 0 and 2)");
        assertThatThrownBy(() -> BackboneFiles.load(gap, BackboneFiles.Options.inferred().withBlocks(1)))
                .as("even when only the first block is kept").hasMessageContaining("blocks.1.attn.proj.bias");
        assertThatThrownBy(() -> BackboneFiles.loadForFinetuning(gap, 0, 0, 10, false, 0)).as("the non-strict load too")
                .hasMessageContaining("'blocks.1.attn.proj.bias': missing");
        Path noFirst = variant(tmp.resolve("nofirst.safetensors"), Map.of(), all -> {
            all.keySet().removeIf(n -> n.startsWith("blocks.0."));
        });
        assertThatThrownBy(() -> BackboneFiles.inferConfig(noFirst, 0))
                .hasMessage(noFirst + ": tensor 'blocks.0.*': missing (the file has blocks 1)");
        Path oneGone = variant(tmp.resolve("onegone.safetensors"), Map.of(), all -> all.remove("blocks.1.mlp.fc2.weight"));
        assertThatThrownBy(() -> BackboneFiles.inferConfig(oneGone, 0)).hasMessage(oneGone
                + ": tensor 'blocks.1.mlp.fc2.weight': missing (the file has blocks 0..1; block 1 lacks a tensor block 0 has)");
    }

    @Test
    void metadataContradictingTheTensorsIsRefused(@TempDir Path tmp) {
        // the last block removed: without metadata it is a (valid) depth-1 model, with it the cut is caught
        Path cut = variant(tmp.resolve("cut.safetensors"), Map.of("mvp_vit_config", "{\"depth\":2,\"width\":64,\"heads\":1}"),
                all -> all.keySet().removeIf(n -> n.startsWith("blocks.1.")));
        assertThatThrownBy(() -> BackboneFiles.load(cut, BackboneFiles.Options.inferred()))
                .isInstanceOf(WeightFormatException.class)
                .hasMessage(cut + ": metadata mvp_vit_config says depth 2 but the tensors give 1 (blocks.0..blocks.0): "
                        + "a damaged file or metadata of another model");
        Path plainCut = variant(tmp.resolve("plaincut.safetensors"), Map.of(), all -> all.keySet().removeIf(n -> n.startsWith("blocks.1.")));
        assertThat(BackboneFiles.inferConfig(plainCut, 0).depth()).as("nothing states the depth: not detectable").isEqualTo(1);

        String[][] contradictions = {
                {"mvp_vit_config", "{\"depth\":12}", "metadata mvp_vit_config says depth 12 but the tensors give 2"},
                {"mvp_vit_config", "{\"width\":768}", "metadata mvp_vit_config says width 768 but the tensors give 64 (cls_token)"},
                {"mvp_vit_config", "{\"patchSize\":16}", "says patch size 16 but the tensors give 8 (patch_embed.proj.weight)"},
                {"mvp_vit_config", "{\"imageSize\":224}", "says image size 224 but the tensors give 32 (the position parameters' grid)"},
                {"depth", "12", "metadata depth says depth 12 but the tensors give 2 (blocks.0..blocks.1)"},
                {"embed_dim", "768", "metadata embed_dim says width 768"},
                {"patch_size", "16", "metadata patch_size says patch size 16"},
                {"img_size", "224", "metadata img_size says image size 224"},
                {"depth", "twelve", "metadata depth 'twelve' is not a number"},
        };
        for (String[] c : contradictions) {
            Path f = variant(tmp.resolve("meta.safetensors"), Map.of(c[0], c[1]), all -> {});
            assertThatThrownBy(() -> BackboneFiles.inferConfig(f, 0)).as(c[0] + "=" + c[1])
                    .isInstanceOf(WeightFormatException.class).hasMessageStartingWith(f.toString()).hasMessageContaining(c[2]);
        }
        Path agreeing = variant(tmp.resolve("agree.safetensors"), Map.of("mvp_vit_config",
                "{\"imageSize\":32,\"patchSize\":8,\"width\":64,\"depth\":2,\"heads\":1}", "depth", "2", "img_size", "32"), all -> {});
        try (VisionTransformer vit = BackboneFiles.load(agreeing, BackboneFiles.Options.inferred()).model()) {
            assertThat(vit.config().depth()).isEqualTo(2);
        }
    }

    @Test
    void nanOrInfiniteWeightsAreRefusedNamingTheTensor(@TempDir Path tmp) {
        Path nan = variant(tmp.resolve("nan.safetensors"), Map.of(), all -> set(all.get("blocks.1.attn.qkv.weight"), 5, Double.NaN));
        assertThatThrownBy(() -> BackboneFiles.load(nan, BackboneFiles.Options.inferred()))
                .isInstanceOf(WeightFormatException.class)
                .hasMessage(nan + ": tensor 'blocks.1.attn.qkv.weight': holds 1 NaN value of 12288: a damaged file or a diverged run");
        assertThatThrownBy(() -> BackboneFiles.loadForFinetuning(nan, 0, 0, 10, false, 0))
                .hasMessageContaining("'blocks.1.attn.qkv.weight': holds 1 NaN value");
        Path inf = variant(tmp.resolve("inf.safetensors"), Map.of(), all -> {
            Tensor pos = all.get("pos_embed");
            set(pos, 0, Double.POSITIVE_INFINITY);
            set(pos, 1, Double.NEGATIVE_INFINITY);
            set(pos, 2, Double.NaN);
        });
        assertThatThrownBy(() -> BackboneFiles.load(inf, BackboneFiles.Options.inferred()))
                .hasMessage(inf + ": tensor 'pos_embed': holds 1 NaN and 2 infinite values of 1088: a damaged file or a diverged run");
        // a clean file loads
        try (VisionTransformer vit = BackboneFiles.load(TIMM, BackboneFiles.Options.inferred()).model()) {
            assertThat(vit.config().depth()).isEqualTo(2);
        }
    }

    /** float8 weights (F8_E4M3, F8_E5M2) have no isfinite in libtorch: they are checked, and loaded, as float32. */
    @Test
    void float8WeightsAreCheckedAndLoadedAsFloat32(@TempDir Path tmp) {
        var f8 = org.bytedeco.pytorch.global.torch.ScalarType.Float8_e4m3fn;
        Path clean = variant(tmp.resolve("f8.safetensors"), Map.of(), all -> all.replaceAll((n, t) -> t.to(f8)));
        try (VisionTransformer vit = BackboneFiles.load(clean, BackboneFiles.Options.inferred()).model()) {
            assertThat(vit.config().depth()).isEqualTo(2);
        }
        Path nan = variant(tmp.resolve("f8nan.safetensors"), Map.of(), all -> {
            set(all.get("blocks.1.attn.qkv.weight"), 5, Double.NaN);
            all.replaceAll((n, t) -> t.to(f8));
        });
        assertThatThrownBy(() -> BackboneFiles.load(nan, BackboneFiles.Options.inferred()))
                .isInstanceOf(WeightFormatException.class)
                .hasMessage(nan + ": tensor 'blocks.1.attn.qkv.weight': holds 1 NaN value of 12288: a damaged file or a diverged run");
    }
}
