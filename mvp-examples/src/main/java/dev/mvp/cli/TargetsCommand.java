package dev.mvp.cli;

import dev.mvp.api.TargetSpec;
import dev.mvp.api.Tensors;
import dev.mvp.api.Tokenizer;
import dev.mvp.api.Torch;
import dev.mvp.api.ViewSpec;
import dev.mvp.data.DecodeException;
import dev.mvp.data.EvalTransform;
import dev.mvp.data.ImageDecoder;
import dev.mvp.data.ImageDecoders;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.models.io.SafeTensorsWriter;
import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.tokenizers.InvalidChoiceException;
import dev.mvp.tokenizers.TargetChoice;
import dev.mvp.tokenizers.Teachers;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code mvp targets}: a teacher's per-token targets of some images, written to a safetensors file under the key
 * {@code targets}: float32 [batch, tokens, dim] for feature teachers, int64 [batch, tokens] for token ids. Inputs are
 * image files, prepared as the teacher's declared view ({@link Tokenizer#inputSpec()}: resize of the short side and
 * centre crop to its size, its filter and normalisation, as torchvision's eval transform), or an already prepared
 * float tensor [batch, 3, S, S] (to compare with a Python pipeline). Exit 2 for bad flags or choices (including a
 * tokenizer not available in this build), 1 for unreadable weights, pixels or images (messages name the file).
 */
@Command(name = "targets", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        header = "A frozen teacher's per-token targets of images, as safetensors.",
        description = {
                "Compute a frozen teacher's per-token targets for images and write them to a safetensors file "
                        + "(key 'targets': float32 [batch, tokens, dim], or int64 [batch, tokens] token ids).",
                "--images are prepared as the teacher's view (short side resized to its size, centre crop, its "
                        + "normalisation); --pixels takes an already prepared float tensor [batch, 3, S, S]."})
final class TargetsCommand implements Callable<Integer> {

    @Option(names = "--tokenizer", paramLabel = "clip|dino|dalle", required = true,
            description = "The teacher: clip (MVP), dino, dalle (BEiT's d-VAE).")
    String tokenizer;

    @Option(names = "--weights", paramLabel = "FILE", required = true,
            description = "The teacher's weights: safetensors, torch.save (.pt, .pth, .bin) or TorchScript (OpenAI's "
                    + "CLIP releases).")
    Path weights;

    @Option(names = "--layout", paramLabel = "auto|openai|hf|open_clip|timm|dino", defaultValue = "auto",
            description = "How the weight file names its tensors; auto detects it.")
    String layout;

    @Option(names = "--target", paramLabel = "features|last_block", defaultValue = "features",
            description = "features: the teacher's final per-token features (the paper's); last_block: the last "
                    + "block's output before the final LayerNorm.")
    String target;

    @Option(names = "--image-size", paramLabel = "N", defaultValue = "0",
            description = "The teacher's input side in pixels; 0: the checkpoint's own (with --pixels: the tensor's). "
                    + "CLIP interpolates its position embeddings for other sizes.")
    int imageSize;

    @Option(names = "--key-path", paramLabel = "PATH", defaultValue = "",
            description = "Where the state dict is inside a torch.save checkpoint (e.g. teacher); empty: searched.")
    String keyPath;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--images", paramLabel = "PATH", arity = "1..*",
                description = "Image files (JPEG, PNG, BMP, GIF, TIFF), or folders searched recursively for them (in "
                        + "name order).")
        List<Path> images;

        @Option(names = "--pixels", paramLabel = "FILE",
                description = "A safetensors file holding a prepared float tensor [batch, 3, S, S].")
        Path pixels;
    }

    @Option(names = "--key", paramLabel = "NAME",
            description = "The tensor of --pixels to read (default: its only tensor, or 'pixels' or 'images').")
    String key;

    @Option(names = "--out", paramLabel = "FILE", required = true,
            description = "The safetensors file to write (replaced atomically if it exists; missing folders are created).")
    Path out;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "16",
            description = "Images per forward pass.")
    int batchSize;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "libtorch/OpenBLAS threads (0: all cores" + Flags.THREADS_BOUND + ").")
    int threads;

    @Mixin DecoderOption decoderOption;

    @Mixin BadImagesOption badImages;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private static final List<String> IMAGE_EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff");

    @Override public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        Teachers.Spec teacherSpec = checkFlags();
        double maxBad = badImages.checked();
        String decoderName = input.images == null ? null : ImageDecoders.resolve(decoderOption.checkedName());
        List<Path> files = input.images == null ? List.of() : imageFiles(input.images);
        long[] pixelShape = input.pixels == null ? null : pixelShape(input.pixels);
        if (pixelShape != null && teacherSpec.imageSize() == 0) teacherSpec = teacherSpec.withImageSize(Math.toIntExact(pixelShape[2]));
        if (threads > 0) Torch.setThreads(threads);

        // the teacher's weights are long-lived: loaded outside any PointerScope
        try (Tokenizer teacher = open(teacherSpec)) {
            w.println("mvp targets: " + teacher.name());
            ViewSpec view = teacher.inputSpec();
            String source;
            if (pixelShape != null) {
                if (pixelShape[2] != view.size()) {
                    throw new Main.UsageException("--pixels " + input.pixels + ": images of " + pixelShape[2]
                            + " pixels, but the teacher takes " + view.size() + " (--image-size " + imageSize + ")");
                }
                source = "pixels " + input.pixels + " '" + key + "' " + Arrays.toString(pixelShape);
                w.println("mvp targets: " + source);
            } else {
                source = files.size() + " image" + (files.size() == 1 ? "" : "s");
                w.println("mvp targets: " + source + " (decoder " + decoderName + ") -> the teacher's view: " + describe(view));
            }
            try (PointerScope scope = new PointerScope()) {
                Tensor pixels = pixelShape == null ? null : readPixels(input.pixels);
                ImageDecoder decoder = decoderName == null ? null : DecoderOption.open(decoderName);
                Computed computed = compute(teacher, pixels, files, pixels != null ? pixelShape[0] : files.size(), decoder,
                        maxBad, spec.commandLine().getErr());
                Tensor targets = computed.targets();
                if (computed.skipped() > 0) source += " (" + computed.skipped() + " undecodable skipped)";
                Map<String, String> metadata = new LinkedHashMap<>();
                metadata.put("tokenizer", teacher.name());
                metadata.put("target", teacher.targetSpec().toString());
                metadata.put("view", describe(view));
                metadata.put("input", source);
                if (decoderName != null) metadata.put("decoder", decoderName);
                if (!files.isEmpty()) {
                    // a JSON array of the rows' files: unambiguous for any file name (a newline is a legal one)
                    metadata.put("images", jsonArray(computed.files()));
                }
                SafeTensorsWriter.write(out, Map.of("targets", targets), metadata);
                w.printf(Locale.ROOT, "mvp targets: targets %s %s -> %s%s%n", Arrays.toString(Tensors.shape(targets)),
                        dtypeName(targets), out, computed.skipped() == 0 ? "" : " (" + computed.skipped()
                                + " undecodable image" + (computed.skipped() == 1 ? "" : "s") + " skipped; the metadata 'images' lists the rows' files)");
            }
        }
        return 0;
    }

    /** The usage checks that need no file to be read; the teacher spec the flags name. */
    private Teachers.Spec checkFlags() {
        if (!Files.isRegularFile(weights)) {
            throw Files.isDirectory(weights) ? new Main.UsageException("--weights " + weights + ": a folder, expected a file")
                    : Main.noSuch("--weights", weights, "file");
        }
        if (key != null && input.pixels == null) throw new Main.UsageException("--key selects a tensor of --pixels, which is not given");
        if (input.pixels != null && !Files.isRegularFile(input.pixels)) {
            throw Main.noSuch("--pixels", input.pixels, "file");
        }
        if (batchSize < 1) throw new Main.UsageException("--batch-size must be at least 1, got " + batchSize);
        Flags.threads("--threads", threads);
        if (imageSize < 0) throw new Main.UsageException("--image-size must be 0 (the teacher's own) or more, got " + imageSize);
        if (3L * imageSize * imageSize * batchSize > Integer.MAX_VALUE - 8) {
            throw new Main.UsageException("--image-size " + imageSize + " with --batch-size " + batchSize
                    + ": a batch would hold more than 2^31 values; lower one of them");
        }
        RunFolders.checkOutputFile("--out", out);
        try {
            return new Teachers.Spec(Teachers.Kind.parse(tokenizer), weights, Teachers.Layout.parse(layout),
                    TargetChoice.parse(target), imageSize, keyPath);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    private static Tokenizer open(Teachers.Spec spec) {
        try {
            return Teachers.open(spec);
        } catch (InvalidChoiceException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    /** The targets of the inputs that could be read, the image files they are of (none for --pixels), the skipped. */
    private record Computed(Tensor targets, List<Path> files, int skipped) {}

    /**
     * Every batch through the teacher; the targets of all, float32 or int64, in the caller's scope. An image file that
     * cannot be decoded is warned about (one line on standard error) and left out, its row with it, unless that makes
     * more than --max-bad-fraction of the files (then the command stops naming the flag).
     */
    private Computed compute(Tokenizer teacher, Tensor pixels, List<Path> files, long count, ImageDecoder decoder,
                             double maxBad, PrintWriter err) {
        TargetSpec spec = teacher.targetSpec();
        boolean ids = spec instanceof TargetSpec.TokenIds;
        ViewSpec view = teacher.inputSpec();
        EvalTransform transform = new EvalTransform(view.size(), 1.0, view.interpolation(), view.normalization());
        int plane = 3 * view.size() * view.size();
        float[] features = null;
        long[] tokens = null;
        long[] shape = null;
        int per = 0;
        long rows = 0; // rows written
        List<Path> read = new ArrayList<>();
        int skipped = 0;
        for (long next = 0; next < count; ) {
            try (PointerScope batchScope = new PointerScope()) {
                Tensor batch;
                int n;
                if (pixels != null) {
                    n = (int) Math.min(batchSize, count - next);
                    batch = pixels.narrow(0, next, n).contiguous();
                    next += n;
                } else {
                    float[] data = new float[batchSize * plane];
                    float[] one = new float[plane];
                    n = 0;
                    while (n < batchSize && next < count) {
                        Path file = files.get((int) next++);
                        try {
                            transform.apply(decoder.decode(file), one);
                        } catch (DecodeException e) {
                            skipped++;
                            err.println("skipping undecodable image " + e.getMessage());
                            err.flush();
                            if (skipped > maxBad * files.size()) {
                                throw BadImagesOption.explain(new dev.mvp.eval.TooManyBadImages(skipped, files.size(),
                                        maxBad, "--images " + input.images.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(" ")),
                                        e.getMessage(), e), "targets");
                            }
                            continue;
                        }
                        System.arraycopy(one, 0, data, n * plane, plane);
                        read.add(file);
                        n++;
                    }
                    if (n == 0) continue;
                    batch = Tensors.ofFloats(n == batchSize ? data : Arrays.copyOf(data, n * plane), n, 3, view.size(), view.size());
                }
                Tensor t = teacher.targets(batch);
                long[] s = Tensors.shape(t);
                if (shape == null) {
                    shape = s.clone();
                    long total = Math.multiplyExact(count, Arrays.stream(s).skip(1).reduce(1, Math::multiplyExact));
                    if (total > Integer.MAX_VALUE - 16) {
                        throw new Main.UsageException("the targets of " + count + " images would hold " + total
                                + " values, more than one tensor here can: give fewer images per run");
                    }
                    if (ids) tokens = new long[(int) total];
                    else features = new float[(int) total];
                    per = (int) (Arrays.stream(s).skip(1).reduce(1, Math::multiplyExact));
                }
                if (ids) System.arraycopy(Tensors.toLongs(t), 0, tokens, (int) rows * per, n * per);
                else System.arraycopy(Tensors.toFloats(t.to(ScalarType.Float)), 0, features, (int) rows * per, n * per);
                rows += n;
            }
        }
        if (shape == null) {
            throw new IllegalStateException("--images: none of the " + files.size() + " image files could be decoded");
        }
        shape[0] = rows;
        int values = (int) rows * per;
        Tensor targets = ids ? Tensors.ofLongs(Arrays.copyOf(tokens, values), shape) : Tensors.ofFloats(Arrays.copyOf(features, values), shape);
        return new Computed(targets, read, skipped);
    }

    /** Chooses the --pixels tensor (--key, its only one, or 'pixels' or 'images'), checks it: its shape. */
    private long[] pixelShape(Path file) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            if (key == null) {
                if (f.names().size() == 1) key = f.names().iterator().next();
                else if (f.contains("pixels")) key = "pixels";
                else if (f.contains("images")) key = "images";
                else {
                    throw new Main.UsageException("--pixels " + file + " holds " + f.names().size() + " tensors ("
                            + String.join(", ", f.names().stream().limit(10).toList()) + "): name one with --key");
                }
            }
            if (!f.contains(key)) {
                throw new Main.UsageException("--key " + key + ": " + file + " has no such tensor (it has "
                        + String.join(", ", f.names().stream().limit(10).toList()) + ")");
            }
            TensorInfo info = f.info(key);
            long[] s = info.shape();
            if (!info.isFloatingPoint() || s.length != 4 || s[0] < 1 || s[1] != 3 || s[2] != s[3] || s[2] < 1) {
                throw WeightFormatException.of(file, key, info.dtype() + " " + Arrays.toString(s)
                        + " is not a float tensor [batch, 3, S, S] of prepared images");
            }
            return s;
        }
    }

    /** The --pixels tensor as float32, in the caller's scope. */
    private Tensor readPixels(Path file) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            return f.tensor(key, ScalarType.Float);
        }
    }

    /** The files of --images: files as given, folders' image files in name order. */
    private static List<Path> imageFiles(List<Path> paths) {
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isRegularFile(p)) {
                files.add(p);
            } else if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    walk.filter(f -> Files.isRegularFile(f) && isImage(f)).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new UncheckedIOException(dev.mvp.api.io.AtomicFiles.failure("cannot list", p, e), e);
                }
            } else {
                throw Main.noSuch("--images", p, "file or folder");
            }
        }
        // an empty input folder is a runtime error (exit 1), as for pretrain, knn and attention
        if (files.isEmpty()) {
            throw new IllegalStateException("--images " + paths.stream().map(Path::toString)
                    .collect(java.util.stream.Collectors.joining(" ")) + ": no image files ("
                    + String.join(", ", IMAGE_EXTENSIONS) + ") found");
        }
        return files;
    }

    private static boolean isImage(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return IMAGE_EXTENSIONS.stream().anyMatch(name::endsWith);
    }

    private static String jsonArray(List<Path> files) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(files.stream().map(Path::toString).toList());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String describe(ViewSpec view) {
        return view.size() + " px (short side resized, centre crop), " + view.interpolation().name().toLowerCase(Locale.ROOT)
                + ", " + view.normalization();
    }

    private static String dtypeName(Tensor t) {
        return dev.mvp.models.io.Dtype.of(t.scalar_type()).map(Enum::name).orElse(String.valueOf(t.scalar_type()));
    }
}
