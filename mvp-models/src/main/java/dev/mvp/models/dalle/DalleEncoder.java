package dev.mvp.models.dalle;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.io.PickleAllowlist;
import dev.mvp.models.io.StateDict;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The encoder of DALL-E's discrete VAE ({@code dall_e.encoder.Encoder}, openai/DALL-E), BEiT's visual tokenizer:
 * images to logits over a vocabulary of visual tokens on an 8x coarser grid, frozen.
 *
 * <pre>
 * x [B, 3, H, W]  (pixels mapped by 0.8 x + 0.1: BEiT's map_pixels)
 * blocks.input     conv 7x7 (3 -> n_hid), padding 3
 * blocks.group_g   for g = 1..4: n_blk_per_group EncoderBlocks to width n_hid * 2^(g-1),
 *                  then (g < 4) max-pool 2x2
 *     EncoderBlock(x) = id_path(x) + post_gain * res_path(x),   post_gain = 1 / (4 n_blk_per_group)^2
 *         id_path  = conv 1x1 when the width changes (the group's first block, groups 2-4), else identity
 *         res_path = relu, conv_1 3x3 (-> width/4), relu, conv_2 3x3, relu, conv_3 3x3, relu, conv_4 1x1 (-> width)
 * blocks.output    relu, conv 1x1 (8 n_hid -> vocab_size)
 * -> logits [B, vocab_size, H/8, W/8]
 * </pre>
 * Every convolution has a weight {@code w} [out, in, k, k] and a bias {@code b} [out] (DALL-E's own
 * {@code dall_e.utils.Conv2d}, padding (k - 1) / 2), registered under the encoder's state-dict names:
 * {@code blocks.input.w}, {@code blocks.group_1.block_1.res_path.conv_1.w}, {@code blocks.group_2.block_1.id_path.w},
 * ..., {@code blocks.output.conv.b}. Loading is therefore a name-by-name copy.
 *
 * <p>Frozen: no parameter requires grad. Weights are float32 whatever the file stored. Build it outside any
 * {@link PointerScope} (its weights are long-lived); release it with {@link #close()}. Every tensor a method
 * returns belongs to the caller's scope.
 */
public final class DalleEncoder extends Module {

    /**
     * The classes DALL-E's released {@code encoder.pkl} pickles (it is {@code torch.save} of a whole {@code Encoder}
     * object, not of a state dict), admitted by the restricted reader as inert data: nothing is imported or run; the
     * objects' {@code _parameters} and {@code _modules} are read as a state dict would name them.
     */
    public static final PickleAllowlist PICKLED_ENCODER = PickleAllowlist.STATE_DICTS.withInertClasses(
            "dall_e.encoder.Encoder", "dall_e.encoder.EncoderBlock", "dall_e.utils.Conv2d",
            "torch.nn.modules.container.Sequential", "torch.nn.modules.activation.ReLU",
            "torch.nn.modules.pooling.MaxPool2d", "torch.nn.modules.linear.Identity", "torch.device");

    private final DalleEncoderConfig config;
    /**
     * Every registered container module, kept reachable: a virtual call such as {@code train()} recurses into each
     * child's Java peer, which must not have been garbage-collected (docs/LIBTORCH-NOTES.md, Modules).
     */
    private final List<Module> containers = new ArrayList<>();
    private final Conv input;
    private final List<List<Block>> groups = new ArrayList<>();
    private final Conv output;

    private DalleEncoder(DalleEncoderConfig config) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("build the d-VAE encoder outside any PointerScope: its weights are "
                    + "long-lived and would be freed with the scope");
        }
        this.config = config;
        Module blocks = keep(register_module("blocks", new Module()));
        input = blocks.register_module("input", new Conv(config.inputChannels(), config.hidden(), 7));
        int width = config.hidden();
        for (int g = 1; g <= DalleEncoderConfig.GROUPS; g++) {
            Module group = keep(blocks.register_module("group_" + g, new Module()));
            List<Block> list = new ArrayList<>();
            int out = config.groupWidth(g);
            for (int i = 1; i <= config.blocksPerGroup(); i++) {
                list.add(group.register_module("block_" + i, new Block(i == 1 ? width : out, out)));
            }
            width = out;
            groups.add(list);
        }
        output = keep(blocks.register_module("output", new Module())).register_module("conv", new Conv(width, config.vocabSize(), 1));
    }

    private Module keep(Module container) {
        containers.add(container);
        return container;
    }

    /** An encoder with every weight zero: fill it with {@link StateDict#load}. */
    public static DalleEncoder create(DalleEncoderConfig config) {
        return new DalleEncoder(config);
    }

    /**
     * Loads an encoder from any weight file {@link Weights#open(Path, String, PickleAllowlist)} reads, with
     * {@link #PICKLED_ENCODER} admitted: DALL-E's own {@code encoder.pkl}, a state dict saved by {@code torch.save}
     * (zip or legacy) or a safetensors file, in the encoder's naming, optionally under {@code encoder.} (a whole
     * d-VAE's state dict), fp32 or fp16. The configuration is read from the shapes.
     *
     * @throws WeightFormatException one line naming the file (and the tensor): a forbidden pickle global, a missing
     *                               or unexpected tensor, a shape that does not fit
     */
    public static DalleEncoder load(Path path) {
        return load(path, "");
    }

    /**
     * As {@link #load(Path)}, the state dict chosen by a key path inside a {@code torch.save} checkpoint
     * ({@code model}, {@code module/encoder}: keys joined by {@code /}; empty to search as {@link Weights#open} does).
     */
    public static DalleEncoder load(Path path, String keyPath) {
        try (Weights weights = Weights.open(path, keyPath, PICKLED_ENCODER)) {
            return load(weights);
        }
    }

    /** As {@link #load(Path)}, from open weights (which stay open; the encoder owns copies). */
    public static DalleEncoder load(Weights weights) {
        String prefix = keyPrefix(weights);
        DalleEncoder encoder = new DalleEncoder(DalleEncoderConfig.inferFrom(weights, prefix));
        try {
            StateDict.load(encoder, weights, prefix);
        } catch (RuntimeException e) {
            encoder.close();
            throw e;
        }
        return encoder;
    }

    /**
     * Where the encoder's names start: {@code ""} for the encoder's own state dict, or the prefix of the unique
     * {@code ...blocks.input.w} ({@code encoder.} in a whole d-VAE's state dict, whose decoder also has a
     * {@code decoder.blocks.input.w}).
     */
    public static String keyPrefix(Weights weights) {
        List<String> found = new ArrayList<>();
        for (String name : weights.names()) {
            if (name.equals("blocks.input.w") || name.endsWith(".blocks.input.w")) {
                found.add(name.substring(0, name.length() - "blocks.input.w".length()));
            }
        }
        if (found.size() == 1) return found.getFirst();
        if (found.contains("")) return "";
        if (found.contains("encoder.")) return "encoder.";
        throw WeightFormatException.of(weights.path(), found.isEmpty()
                ? "no tensor 'blocks.input.w': not a DALL-E d-VAE encoder (dall_e.encoder.Encoder's naming)"
                : "several encoders (" + found + "blocks.input.w): choose one with a key path");
    }

    public DalleEncoderConfig config() {
        return config;
    }

    /**
     * The logits of every visual token at every position.
     *
     * @param images float32 [B, inputChannels, H, W], H and W multiples of 8, already mapped by {@code 0.8 x + 0.1}
     * @return float32 [B, vocabSize, H/8, W/8], in the caller's scope
     */
    public Tensor logits(Tensor images) {
        checkImages(images);
        Tensor x = input.forward(images);
        for (int g = 0; g < groups.size(); g++) {
            for (Block block : groups.get(g)) x = block.forward(x, config.postGain());
            if (g < groups.size() - 1) {
                x = torch.max_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
            }
        }
        return output.forward(torch.relu(x));
    }

    /**
     * The most likely token at every position, row-major: what BEiT's {@code get_codebook_indices(x).flatten(1)}
     * returns.
     *
     * @param images as for {@link #logits}
     * @return int64 [B, (H/8) * (W/8)], in the caller's scope
     */
    public Tensor tokenIds(Tensor images) {
        return torch.argmax(logits(images), new LongOptional(1), false).flatten(1, 2);
    }

    private void checkImages(Tensor images) {
        long[] s = Tensors.shape(images);
        if (s.length != 4 || s[1] != config.inputChannels() || s[2] % DalleEncoderConfig.DOWNSAMPLING != 0
                || s[3] % DalleEncoderConfig.DOWNSAMPLING != 0 || s[2] == 0 || s[3] == 0
                || images.scalar_type().intern() != ScalarType.Float) {
            throw new IllegalArgumentException("d-VAE encoder expects float32 images [B, " + config.inputChannels()
                    + ", H, W] with H and W positive multiples of 8, got " + images.scalar_type().intern() + " "
                    + Arrays.toString(s));
        }
    }

    /** DALL-E's {@code EncoderBlock}: {@code id_path(x) + post_gain * res_path(x)}. */
    static final class Block extends Module {
        private final Conv idPath;
        private final Module resPath;
        private final Conv[] convs = new Conv[4];

        Block(int in, int out) {
            idPath = in != out ? register_module("id_path", new Conv(in, out, 1)) : null;
            Module res = resPath = register_module("res_path", new Module());
            int hidden = out / 4;
            convs[0] = res.register_module("conv_1", new Conv(in, hidden, 3));
            convs[1] = res.register_module("conv_2", new Conv(hidden, hidden, 3));
            convs[2] = res.register_module("conv_3", new Conv(hidden, hidden, 3));
            convs[3] = res.register_module("conv_4", new Conv(hidden, out, 1));
        }

        Tensor forward(Tensor x, double postGain) {
            Tensor h = x;
            for (Conv conv : convs) h = conv.forward(torch.relu(h));
            Tensor id = idPath == null ? x : idPath.forward(x);
            return id.add(h.mul(Tensors.scalar(postGain)));
        }
    }

    /** DALL-E's {@code Conv2d}: weight {@code w}, bias {@code b}, stride 1, padding (k - 1) / 2. */
    static final class Conv extends Module {
        private final Tensor w;
        private final Tensor b;
        private final long padding;

        Conv(int in, int out, int kernel) {
            w = torch.zeros(new long[] {out, in, kernel, kernel});
            b = torch.zeros(new long[] {out});
            register_parameter("w", w, false);
            register_parameter("b", b, false);
            padding = (kernel - 1) / 2;
        }

        Tensor forward(Tensor x) {
            return torch.conv2d(x, w, new TensorOptional(b), new long[] {1, 1}, new long[] {padding, padding},
                    new long[] {1, 1}, 1);
        }
    }
}
