package dev.mvp.cli;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.cli.MainTest.Result;
import dev.mvp.data.ImageDecoders;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.testing.TensorAssert;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.mvp.cli.MainTest.mvp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code mvp targets} on the CLIP fixtures (width 64, 2 blocks, patch 16, image 64, output 32), against the references
 * of tools/fixtures/make_clip_fixtures.py (OpenAI's code), make_clip_layout_fixtures.py (Hugging Face's arithmetic) and
 * make_clip_image_fixtures.py (CLIP's own preprocessing of image files, then OpenAI's code).
 */
class TargetsCommandTest {
    private static final Path OPENAI_FP32 = TestPaths.fixture("clip/clip_w64_p16.fp32.safetensors");
    private static final Path OPENAI_JIT = TestPaths.fixture("clip/clip_w64_p16.jit.pt");
    private static final Path HF_CLIP = TestPaths.fixture("clip/hf_clip_w64_p16/pytorch_model.bin");
    private static final Path OPEN_CLIP = TestPaths.fixture("clip/open_clip_w64_p16/epoch_3.pt");
    private static final Path IO = TestPaths.fixture("clip/clip_w64_p16.io.safetensors");
    private static final Path LAYOUTS = TestPaths.fixture("clip/clip_w64_p16.layouts.io.safetensors");
    private static final Path IMAGES_IO = TestPaths.fixture("clip/clip_w64_p16.images.io.safetensors");
    private static final List<String> PNGS = List.of("data/decode/rgb8.png", "data/decode/gray8.png",
            "data/decode/palette_alpha.png");

    @TempDir Path tmp;

    @Test void pixelsGiveTheReferenceFeaturesWhateverTheWeightsLayout() {
        // OpenAI's TorchScript release holds halved weights: its reference is the fp16 one
        assertTargets(run(OPENAI_JIT, "--pixels", IO.toString(), "--key", "images"), IO, "features_fp16", 2, 17, 32);
        assertTargets(run(OPENAI_FP32, "--pixels", IO.toString(), "--key", "images"), IO, "features_fp32", 2, 17, 32);
        Result hf = run(HF_CLIP, "--pixels", IO.toString(), "--key", "images");
        assertTargets(hf, IO, "features_fp32", 2, 17, 32);
        assertThat(hf.out()).contains("mvp targets: clip-vit(width 64, layers 2, heads 1, patch 16, image 64, output 32, "
                + "quick_gelu) from " + HF_CLIP + " (hf layout)", "pixels " + IO + " 'images' [2, 3, 64, 64]",
                "mvp targets: targets [2, 17, 32] F32 -> ");
        assertTargets(run(OPEN_CLIP, "--pixels", IO.toString(), "--key", "images", "--layout", "open_clip"), IO,
                "features_fp32", 2, 17, 32);
    }

    @Test void theLastBlockAndAnotherInputSizeAreChosenByFlags() {
        assertTargets(run(HF_CLIP, "--pixels", IO.toString(), "--key", "images", "--layout", "hf", "--target", "last_block"),
                IO, "last_block_fp32", 2, 17, 64);
        // 160-pixel pixels (stored as float16): the teacher runs at their size, position embeddings interpolated
        Result r = run(OPENAI_FP32, "--pixels", LAYOUTS.toString(), "--key", "images160", "--batch-size", "1");
        assertTargets(r, LAYOUTS, "features160", 1, 101, 32);
        assertThat(r.out()).contains("(openai layout, input 160 px)");
    }

    /** Image files are prepared as CLIP's own preprocessing does (Resize, CenterCrop, Normalize), then the teacher. */
    @Test void imageFilesAreTurnedIntoTheTeachersView() throws Exception {
        List<String> args = new ArrayList<>(List.of("--images"));
        for (String png : PNGS) args.add(TestPaths.fixture(png).toString());
        args.addAll(List.of("--batch-size", "2"));
        Result r = run(OPENAI_FP32, args.toArray(String[]::new));
        assertTargets(r, IMAGES_IO, "features", 3, 17, 32);
        String auto = ImageDecoders.resolve("auto");
        assertThat(r.out()).contains("3 images (decoder " + auto + ") -> the teacher's view: 64 px (short side resized, "
                + "centre crop), bicubic, MeanStd(mean=[0.4814");
        try (SafeTensorsFile written = SafeTensorsFile.open(tmp.resolve("targets.safetensors"))) {
            assertThat(written.metadata().get("decoder")).isEqualTo(auto);
        }

        // a folder: its image files in name order, other files ignored
        Path folder = Files.createDirectories(tmp.resolve("pictures/sub"));
        for (int i = 0; i < PNGS.size(); i++) Files.copy(TestPaths.fixture(PNGS.get(i)), folder.resolve(i + ".png"));
        Files.writeString(folder.resolve("notes.txt"), "not an image");
        Result fromFolder = run(OPENAI_FP32, "--images", tmp.resolve("pictures").toString(), "--target", "last_block",
                "--decoder", "imageio");
        assertTargets(fromFolder, IMAGES_IO, "last_block", 3, 17, 64);
        try (SafeTensorsFile written = SafeTensorsFile.open(tmp.resolve("targets.safetensors"))) {
            assertThat(written.metadata().get("decoder")).isEqualTo("imageio");
            assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readValue(written.metadata().get("images"), List.class))
                    .isEqualTo(List.of(folder.resolve("0.png").toString(), folder.resolve("1.png").toString(),
                            folder.resolve("2.png").toString()));
        }
    }

    /** An undecodable file among --images is skipped with a warning, within --max-bad-fraction; the rows say whose. */
    @Test void anUndecodableImageIsSkippedAndTheMetadataListsTheRowsFiles() throws Exception {
        Path folder = Files.createDirectories(tmp.resolve("mixed"));
        for (int i = 0; i < PNGS.size(); i++) Files.copy(TestPaths.fixture(PNGS.get(i)), folder.resolve(i + ".png"));
        Path broken = Files.write(folder.resolve("1x.png"), java.util.Arrays.copyOf(
                Files.readAllBytes(TestPaths.fixture(PNGS.get(0))), 60)); // sorted between 1.png and 2.png
        Result r = run(OPENAI_FP32, "--images", folder.toString(), "--batch-size", "2", "--max-bad-fraction", "0.5");
        assertTargets(r, IMAGES_IO, "features", 3, 17, 32);
        assertThat(r.err().strip().lines()).hasSize(1).first().asString().startsWith("skipping undecodable image " + broken + ": ");
        assertThat(r.out()).contains("(1 undecodable image skipped; the metadata 'images' lists the rows' files)");
        try (SafeTensorsFile written = SafeTensorsFile.open(tmp.resolve("targets.safetensors"))) {
            assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readValue(written.metadata().get("images"), List.class))
                    .isEqualTo(List.of(folder.resolve("0.png").toString(), folder.resolve("1.png").toString(),
                            folder.resolve("2.png").toString()));
            assertThat(written.metadata().get("input")).isEqualTo("4 images (1 undecodable skipped)");
        }
        // more than the fraction allows: stops, naming the flag, and writes nothing
        Files.delete(tmp.resolve("targets.safetensors"));
        Result stopped = run(OPENAI_FP32, "--images", folder.toString(), "--max-bad-fraction", "0.2");
        assertThat(stopped.code()).isEqualTo(1);
        assertThat(stopped.err()).contains("1 of the 4 images could not be decoded", "more than --max-bad-fraction 0.2");
        assertThat(tmp.resolve("targets.safetensors")).doesNotExist();
    }

    /** The other kinds through the same command: DINO's tokens and the d-VAE's ids (tools/fixtures/make_teacher_fixtures.py). */
    @Test void dinoFeaturesAndDalleTokenIds() {
        Path dinoPixels = pixels("dino/dino.io.safetensors", "images224", ImageNormalization.IMAGENET);
        Result dino = mvp("targets", "--tokenizer", "dino", "--weights", TestPaths.fixture("dino/dino_train_w32.pth").toString(),
                "--pixels", dinoPixels.toString(), "--out", tmp.resolve("targets.safetensors").toString());
        assertTargets(dino, TestPaths.fixture("dino/dino.io.safetensors"), "teacher224", 2, 197, 32);

        Path dallePixels = pixels("dalle/dalle.io.safetensors", "images112", ImageNormalization.DALLE);
        Result dalle = mvp("targets", "--tokenizer", "dalle", "--weights", TestPaths.fixture("dalle/encoder_w16.pkl").toString(),
                "--pixels", dallePixels.toString(), "--out", tmp.resolve("ids.safetensors").toString());
        assertThat(dalle.code()).as(dalle.err()).isZero();
        assertThat(dalle.out()).contains("targets [2, 196] I64");
        try (SafeTensorsFile written = SafeTensorsFile.open(tmp.resolve("ids.safetensors"));
             SafeTensorsFile ref = SafeTensorsFile.open(TestPaths.fixture("dalle/dalle.io.safetensors"));
             PointerScope scope = new PointerScope()) {
            assertThat(Tensors.toLongs(written.tensor("targets"))).containsExactly(Tensors.toLongs(ref.tensor("ids")));
        }
    }

    @Test void impossibleChoicesAreUsageErrors() {
        Path out = tmp.resolve("t.safetensors");
        assertUsage(mvp("targets", "--tokenizer", "dino", "--weights", TestPaths.fixture("dino/dino_train_w32.pth").toString(),
                "--target", "last_block", "--pixels", IO.toString(), "--out", out.toString()), "final-normed tokens only");
        assertUsage(mvp("targets", "--tokenizer", "dalle", "--weights", TestPaths.fixture("dalle/encoder_w16.pkl").toString(),
                "--layout", "hf", "--pixels", IO.toString(), "--out", out.toString()), "layout hf is not a d-VAE layout");
        assertUsage(mvp("targets", "--tokenizer", "clip", "--weights", OPENAI_FP32.toString(), "--layout", "timm",
                "--pixels", IO.toString(), "--key", "images", "--out", out.toString()), "layout timm is not a CLIP layout");
        assertUsage(mvp("targets", "--tokenizer", "vqgan", "--weights", OPENAI_FP32.toString(), "--pixels", IO.toString(),
                "--out", out.toString()), "unknown tokenizer 'vqgan'");
        assertUsage(mvp("targets", "--tokenizer", "clip", "--weights", OPENAI_FP32.toString(), "--out", out.toString()),
                "--images");
        assertUsage(mvp("targets", "--tokenizer", "clip", "--weights", OPENAI_FP32.toString(), "--pixels", IO.toString(),
                "--images", IO.toString(), "--out", out.toString()), "mutually exclusive");
        assertUsage(run(OPENAI_FP32, "--images", TestPaths.fixture(PNGS.get(0)).toString(), "--key", "images"),
                "--key selects a tensor of --pixels");
        assertUsage(run(OPENAI_FP32, "--pixels", LAYOUTS.toString()), "holds 7 tensors");
        assertUsage(run(OPENAI_FP32, "--images", TestPaths.fixture(PNGS.get(0)).toString(), "--decoder", "pil"), "--decoder");
        assertUsage(run(OPENAI_FP32, "--images", TestPaths.fixture(PNGS.get(0)).toString(), "--image-size", "100000"),
                "--image-size 100000 with --batch-size 16: a batch would hold more than 2^31 values");
        assertUsage(run(tmp, "--pixels", IO.toString()), "--weights " + tmp + ": a folder, expected a file");
        for (String flag : List.of("--threads")) {
            assertUsage(mvp("targets", "--tokenizer", "clip", "--weights", OPENAI_FP32.toString(), "--pixels", IO.toString(),
                    "--out", out.toString(), flag, "100000"), flag + " must be in 0.." + 4 * Runtime.getRuntime().availableProcessors());
        }
        // without --key, a file with a tensor named images (or pixels) gives that one
        assertTargets(run(OPENAI_FP32, "--pixels", IO.toString()), IO, "features_fp32", 2, 17, 32);
        assertUsage(run(OPENAI_FP32, "--pixels", IO.toString(), "--key", "pictures"), "--key pictures: " + IO + " has no such tensor");
        assertRuntime(run(tmp.resolve("none.pt"), "--pixels", IO.toString(), "--key", "images"), "--weights " + tmp.resolve("none.pt") + ": no such file");
        assertUsage(run(OPENAI_FP32, "--pixels", LAYOUTS.toString(), "--key", "images160", "--image-size", "100"),
                "teacher input size 100 is not a multiple of the CLIP checkpoint's patch size 16");
        assertThat(out).doesNotExist();
    }

    @Test void unusableFilesAreOneLineRuntimeErrorsNamingThem() throws Exception {
        Path incomplete = tmp.resolve("incomplete.safetensors");
        try (SafeTensorsFile full = SafeTensorsFile.open(OPENAI_FP32); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> kept = new java.util.LinkedHashMap<>();
            for (String name : full.names()) if (!name.equals("visual.ln_post.weight")) kept.put(name, full.tensor(name));
            SafeTensorsWriter.write(incomplete, kept);
        }
        assertRuntime(run(incomplete, "--pixels", IO.toString(), "--key", "images"),
                incomplete + ": tensor 'visual.ln_post.weight': missing");
        assertRuntime(run(OPENAI_FP32, "--pixels", IO.toString(), "--key", "features_fp32"),
                IO + ": tensor 'features_fp32': F32 [2, 17, 32] is not a float tensor [batch, 3, S, S] of prepared images");
        Path broken = Files.write(tmp.resolve("broken.png"), java.util.Arrays.copyOf(
                Files.readAllBytes(TestPaths.fixture(PNGS.get(0))), 60));
        Result one = run(OPENAI_FP32, "--images", broken.toString());
        assertThat(one.code()).as(one.err()).isEqualTo(1);
        assertThat(one.err().strip().lines()).hasSize(2).first().asString().startsWith("skipping undecodable image " + broken + ": ");
        assertThat(one.err()).contains("targets: 1 of the 1 images could not be decoded", "--max-bad-fraction 0.01")
                .doesNotContain("\tat ");
        assertThat(tmp.resolve("targets.safetensors")).doesNotExist();
        Path empty = Files.createDirectories(tmp.resolve("empty images"));
        assertRuntime(run(OPENAI_FP32, "--images", empty.toString()), "--images " + empty + ": no image files (.jpg");
    }

    /** {@code key} of a reference file (8-bit [B, 3, S, S]) prepared with {@code normalization}, as a pixels file. */
    private Path pixels(String fixture, String key, ImageNormalization normalization) {
        Path out = tmp.resolve(key + ".safetensors");
        try (SafeTensorsFile io = SafeTensorsFile.open(TestPaths.fixture(fixture)); PointerScope scope = new PointerScope()) {
            Tensor images = normalization.apply(io.tensor(key).to(ScalarType.Float).div(Tensors.scalar(255)));
            SafeTensorsWriter.write(out, Map.of("pixels", images));
        }
        return out;
    }

    private Result run(Path weights, String... more) {
        List<String> args = new ArrayList<>(List.of("targets", "--tokenizer", "clip", "--weights", weights.toString(),
                "--out", tmp.resolve("targets.safetensors").toString(), "--threads", "2"));
        args.addAll(List.of(more));
        return mvp(args.toArray(String[]::new));
    }

    private void assertTargets(Result r, Path reference, String key, long... shape) {
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("targets " + java.util.Arrays.toString(shape) + " F32");
        try (SafeTensorsFile written = SafeTensorsFile.open(tmp.resolve("targets.safetensors"));
             SafeTensorsFile ref = SafeTensorsFile.open(reference); PointerScope scope = new PointerScope()) {
            assertThat(written.names()).containsExactly("targets");
            assertThat(written.info("targets").shape()).containsExactly(shape);
            Tensor targets = written.tensor("targets");
            assertThat(targets.scalar_type().intern()).isEqualTo(ScalarType.Float);
            TensorAssert.assertClose(targets, ref.tensor(key, ScalarType.Float), 1e-4);
            assertThat(torch.isfinite(targets).all().item_bool()).isTrue();
        }
    }

    private static void assertUsage(Result r, String fragment) {
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err()).contains(fragment).doesNotContain("\tat ");
    }

    private static void assertRuntime(Result r, String fragment) {
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.err()).contains(fragment).doesNotContain("\tat ");
        assertThat(r.err().strip().lines()).hasSize(1);
    }
}
