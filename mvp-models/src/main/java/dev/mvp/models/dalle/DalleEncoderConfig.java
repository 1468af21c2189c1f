package dev.mvp.models.dalle;

import dev.mvp.models.io.TensorInfo;
import dev.mvp.models.io.WeightFormatException;
import dev.mvp.models.io.Weights;

import java.util.Arrays;

/**
 * The shape of DALL-E's d-VAE encoder ({@code dall_e.encoder.Encoder}, openai/DALL-E), named as its attributes.
 * The released encoder (BEiT's tokenizer) is {@code Encoder(n_hid=256, n_blk_per_group=2, input_channels=3,
 * vocab_size=8192)}: {@link #RELEASED}.
 *
 * @param hidden         {@code n_hid}: channels of the first group; groups 2, 3 and 4 have 2, 4 and 8 times as many
 * @param blocksPerGroup {@code n_blk_per_group}: residual blocks in each of the four groups
 * @param inputChannels  {@code input_channels} (3)
 * @param vocabSize      {@code vocab_size}: logits per position, the number of visual tokens
 */
public record DalleEncoderConfig(int hidden, int blocksPerGroup, int inputChannels, int vocabSize) {

    /** The encoder of DALL-E's released {@code encoder.pkl}. */
    public static final DalleEncoderConfig RELEASED = new DalleEncoderConfig(256, 2, 3, 8192);

    /** {@code Encoder.group_count}. */
    public static final int GROUPS = 4;

    /** The input side shrinks by this factor (three 2x2 max-poolings): 112 pixels give a 14 x 14 grid. */
    public static final int DOWNSAMPLING = 8;

    public DalleEncoderConfig {
        if (hidden < 1 || blocksPerGroup < 1 || inputChannels < 1 || vocabSize < 2) {
            throw new IllegalArgumentException("d-VAE encoder needs n_hid, n_blk_per_group, input_channels >= 1 and "
                    + "vocab_size >= 2, got " + hidden + ", " + blocksPerGroup + ", " + inputChannels + ", " + vocabSize);
        }
    }

    /** {@code n_layers = group_count * n_blk_per_group}, whose inverse square scales every residual branch. */
    public int layers() {
        return GROUPS * blocksPerGroup;
    }

    /** The residual branches' {@code post_gain = 1 / n_layers^2}. */
    public double postGain() {
        return 1.0 / ((double) layers() * layers());
    }

    /** Output channels of group {@code g} (1-based): {@code n_hid, 2 n_hid, 4 n_hid, 8 n_hid}. */
    public int groupWidth(int g) {
        if (g < 1 || g > GROUPS) throw new IndexOutOfBoundsException("group " + g + " of " + GROUPS);
        return hidden << (g - 1);
    }

    /**
     * The configuration a state dict in the encoder's naming describes, read from the shapes: {@code n_hid} and the
     * input channels from {@code blocks.input.w}, the blocks per group by counting
     * {@code blocks.group_1.block_<i>.res_path.conv_1.w}, the vocabulary from {@code blocks.output.conv.w}.
     *
     * @param prefix put before every name ({@code ""}, or {@code "encoder."} for a whole d-VAE's state dict)
     * @throws WeightFormatException naming the file and the tensor that is missing or has an unexpected shape
     */
    public static DalleEncoderConfig inferFrom(Weights weights, String prefix) {
        TensorInfo input = require(weights, prefix + "blocks.input.w");
        long[] in = input.shape();
        if (in.length != 4 || in[2] != 7 || in[3] != 7) {
            throw WeightFormatException.of(weights.path(), input.name(), "shape " + Arrays.toString(in)
                    + " is not the 7x7 input convolution [n_hid, channels, 7, 7]");
        }
        int blocks = 0;
        while (weights.contains(prefix + "blocks.group_1.block_" + (blocks + 1) + ".res_path.conv_1.w")) blocks++;
        if (blocks == 0) {
            throw WeightFormatException.of(weights.path(), prefix + "blocks.group_1.block_1.res_path.conv_1.w", "missing");
        }
        TensorInfo output = require(weights, prefix + "blocks.output.conv.w");
        long[] out = output.shape();
        if (out.length != 4 || out[1] != 8 * in[0] || out[2] != 1 || out[3] != 1) {
            throw WeightFormatException.of(weights.path(), output.name(), "shape " + Arrays.toString(out)
                    + " is not the 1x1 output convolution [vocab_size, " + 8 * in[0] + ", 1, 1]");
        }
        return new DalleEncoderConfig(Math.toIntExact(in[0]), blocks, Math.toIntExact(in[1]), Math.toIntExact(out[0]));
    }

    private static TensorInfo require(Weights weights, String name) {
        if (!weights.contains(name)) {
            throw WeightFormatException.of(weights.path(), name, "missing: not a DALL-E d-VAE encoder in "
                    + "dall_e.encoder.Encoder's naming");
        }
        return weights.info(name);
    }

    /** {@code n_hid 256, blocks/group 2, vocab 8192}. */
    @Override public String toString() {
        return "n_hid " + hidden + ", blocks/group " + blocksPerGroup + ", vocab " + vocabSize
                + (inputChannels == 3 ? "" : ", channels " + inputChannels);
    }
}
