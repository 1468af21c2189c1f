package dev.mvp.cli;

import dev.mvp.api.Tensors;
import dev.mvp.cli.MainTest.Result;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.VitCheckpoints;
import dev.mvp.models.VitCheckpoints.Layout;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.StateDict;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import dev.mvp.train.BackboneExport;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code mvp export} on a real (tiny) pre-training run: ViT-Ti at 32x32 with 8x8 patches, 2 steps on CIFAR-10
 * images, a checkpoint after each. tools/fixtures/check_vit_export.py checks the same kind of files in Python.
 */
@Tag("e2e")
class ExportCommandTest {
    @TempDir
    static Path tmp;
    static Path run;

    @BeforeAll
    static void pretrain() {
        run = tmp.resolve("run");
        Result r = mvp(MainTest.tinyRun(TestPaths.sharedData().resolve("cifar10/test"), run,
                "--steps", "2", "--checkpoint-every", "1").toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
    }

    @Test
    void timmExportIsTheStudentUnderTimmsNamesAndReimportsBitIdentically() {
        Path file = tmp.resolve("vit_timm.safetensors");
        Result r = mvp("export", "--checkpoint", run.toString(), "--format", "timm", "--out", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step-00000002 (step 2)", "width 192, depth 12, heads 3, patch 8, image 32",
                "timm layout", "timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8");
        Path checkpoint = run.resolve("checkpoints/step-00000002");
        try (SafeTensorsFile exported = SafeTensorsFile.open(file);
             SafeTensorsFile source = SafeTensorsFile.open(checkpoint.resolve("model.safetensors"));
             PointerScope scope = new PointerScope()) {
            // every backbone tensor but the mask token, under its own (= timm's) name, bit for bit; no head
            Set<String> expected = new HashSet<>();
            for (String name : source.names()) {
                if (name.startsWith("backbone.") && !name.equals("backbone.mask_token")) expected.add(name.substring(9));
            }
            assertThat(exported.names()).containsExactlyInAnyOrderElementsOf(expected).contains("blocks.11.attn.qkv.bias");
            for (String name : exported.names()) {
                assertThat(exported.tensor(name).equal(source.tensor("backbone." + name))).as(name).isTrue();
            }
            assertThat(exported.metadata()).containsEntry("layout", "timm").containsEntry("mvp_step", "2")
                    .containsEntry("format", "pt").containsKey("mvp_vit_config");
        }
        try (VisionTransformer student = BackboneExport.loadStudent(checkpoint);
             VisionTransformer copy = VitCheckpoints.load(file, student.config()); PointerScope scope = new PointerScope()) {
            torch.manual_seed(0);
            Tensor images = Tensors.randn(3, 3, 32, 32);
            assertThat(TensorAssert.maxAbsDiff(copy.forward(images, null), student.forward(images, null))).isZero();
        }
    }

    @Test
    void beitExportSplitsTheBiasAndReexportsBitIdentically() {
        Path file = tmp.resolve("vit_beit.safetensors");
        Result r = mvp("export", "--checkpoint", run.resolve("checkpoints").toString(), "--format", "BEIT", "--out", file.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("beit layout", "timm.models.beit.Beit(");
        // inspect calls it BEiT's layout (q_bias / v_bias), though this student has no relative position tables
        Result inspected = mvp("inspect", file.toString());
        assertThat(inspected.out()).contains("layout: vit beit: ViT backbone in BEiT's layout", "backbone: beit layout");
        Path checkpoint = run.resolve("checkpoints/step-00000002");
        try (VisionTransformer student = BackboneExport.loadStudent(checkpoint);
             VisionTransformer copy = VitCheckpoints.load(file, student.config().withQkvBias(QkvBias.QV));
             SafeTensorsFile exported = SafeTensorsFile.open(file); PointerScope scope = new PointerScope()) {
            Tensor fused = StateDict.of(student).get("blocks.3.attn.qkv.bias");
            assertThat(exported.names()).contains("blocks.3.attn.q_bias", "blocks.3.attn.v_bias").doesNotContain("blocks.3.attn.qkv.bias");
            assertThat(exported.tensor("blocks.3.attn.q_bias").equal(fused.narrow(0, 0, 192))).isTrue();
            assertThat(exported.tensor("blocks.3.attn.v_bias").equal(fused.narrow(0, 384, 192))).isTrue();
            // re-imported and exported again: the same tensors, bit for bit
            Map<String, Tensor> again = VitCheckpoints.export(StateDict.of(copy), Layout.BEIT);
            assertThat(again.keySet()).containsExactlyInAnyOrderElementsOf(exported.names());
            for (String name : exported.names()) assertThat(again.get(name).equal(exported.tensor(name))).as(name).isTrue();
            // the k bias BEiT's layout cannot hold changes rounding only
            torch.manual_seed(0);
            Tensor images = Tensors.randn(3, 3, 32, 32);
            assertThat(TensorAssert.maxAbsDiff(copy.forward(images, null), student.forward(images, null))).isLessThan(1e-5);
        }
    }

    @Test
    void aRunFolderGivesItsLatestCompleteCheckpoint() throws Exception {
        Path copy = tmp.resolve("copied/checkpoints");
        for (String step : new String[] {"step-00000001", "step-00000002"}) {
            Files.createDirectories(copy.resolve(step));
            for (String f : new String[] {"model.safetensors", "state.json"}) {
                Files.copy(run.resolve("checkpoints").resolve(step).resolve(f), copy.resolve(step).resolve(f));
            }
        }
        Files.createDirectories(copy.resolve("step-00000003.tmp-123"));   // a half-written one is ignored
        Path out = tmp.resolve("latest.safetensors");
        // no 'latest' file: the largest complete step
        assertThat(mvp("export", "--checkpoint", copy.getParent().toString(), "--format", "timm", "--out", out.toString()).out())
                .contains("(step 2)");
        // 'latest' names step 1: it wins
        Files.writeString(copy.resolve("latest"), "step-00000001\n");
        assertThat(mvp("export", "--checkpoint", copy.getParent().toString(), "--format", "timm", "--out", out.toString()).out())
                .contains("(step 1)");
        try (SafeTensorsFile f = SafeTensorsFile.open(out)) {
            assertThat(f.metadata()).containsEntry("mvp_step", "1");
        }
    }

    @Test
    void helpNamesEveryFlag() {
        Result r = mvp("export", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("--checkpoint", "--format", "--out", "timm", "beit");
        assertThat(mvp("--help").out()).contains("export");
    }

    @Test
    void badInputsAreOneLineWithExitCodeTwoForUsageAndOneForContent() throws Exception {
        Path out = tmp.resolve("bad.safetensors");
        Result missing = mvp("export", "--checkpoint", tmp.resolve("nope").toString(), "--format", "timm", "--out", out.toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("nope", "no such folder").doesNotContain("\tat ");
        Path file = Files.writeString(tmp.resolve("model.safetensors"), "x");
        Result notAFolder = mvp("export", "--checkpoint", file.toString(), "--format", "timm", "--out", out.toString());
        assertThat(notAFolder.code()).isEqualTo(2);
        assertThat(notAFolder.err()).contains(file.toString(), "a file, expected a run folder");

        Result format = mvp("export", "--checkpoint", run.toString(), "--format", "onnx", "--out", out.toString());
        assertThat(format.code()).isEqualTo(2);
        assertThat(format.err()).contains("--format", "onnx");

        // missing folders are created (as plot and the run folders are); a file where a folder must be is a usage error
        Path deep = tmp.resolve("no/dir/x.safetensors");
        Result noOutDir = mvp("export", "--checkpoint", run.toString(), "--format", "timm", "--out", deep.toString());
        assertThat(noOutDir.code()).as(noOutDir.err()).isZero();
        assertThat(deep).isRegularFile();
        Path blocker = Files.writeString(tmp.resolve("blocker"), "x");
        Result fileInTheWay = mvp("export", "--checkpoint", run.toString(), "--format", "timm", "--out",
                blocker.resolve("sub/x.safetensors").toString());
        assertThat(fileInTheWay.code()).isEqualTo(2);
        assertThat(fileInTheWay.err().strip().lines().toList()).singleElement().satisfies(l -> assertThat(l).contains(
                "--out " + blocker.resolve("sub/x.safetensors") + ": " + blocker + " is a file, not a folder"));

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Result none = mvp("export", "--checkpoint", empty.toString(), "--format", "timm", "--out", out.toString());
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err().strip().lines()).hasSize(1);
        assertThat(none.err()).contains(empty.toString(), "holds no checkpoint");

        // a checkpoint whose weights hold no student
        Path broken = Files.createDirectories(tmp.resolve("broken"));
        Files.copy(run.resolve("checkpoints/step-00000002/state.json"), broken.resolve("state.json"));
        try (PointerScope scope = new PointerScope()) {
            SafeTensorsWriter.write(broken.resolve("model.safetensors"), Map.of("head.weight", Tensors.zeros(4, 4)));
        }
        Result noStudent = mvp("export", "--checkpoint", broken.toString(), "--format", "beit", "--out", out.toString());
        assertThat(noStudent.code()).isEqualTo(1);
        assertThat(noStudent.err().strip().lines()).hasSize(1);
        assertThat(noStudent.err()).contains("model.safetensors", "backbone.cls_token");
        assertThat(out).doesNotExist();
    }
}
