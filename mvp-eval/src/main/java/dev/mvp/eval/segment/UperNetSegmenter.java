package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Param;
import dev.mvp.models.VisionTransformer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * UperNet on a ViT, as BEiT and MVP segment ADE20K: BEiT's multi-level neck on four blocks' patch tokens
 * ({@code semantic_segmentation/backbone/beit.py}, its patch-16 branch) and mmsegmentation's {@code UPerHead}.
 * <pre>
 * features: the patch tokens leaving blocks outIndices (BEiT: 3, 5, 7, 11 of 12), no final norm, as [B, C, g, g]
 * neck:     fpn1 = deconv 2x2/2, BatchNorm, GELU, deconv 2x2/2 (4g);  fpn2 = deconv 2x2/2 (2g);  fpn3 = identity (g);
 *           fpn4 = max-pool 2x2/2 (g/2)
 * UPerHead: PPM on the last level (adaptive average pools 1, 2, 3, 6, each a 1x1 ConvModule, resized back) + the level
 *           itself -> 3x3 ConvModule "bottleneck"; 1x1 lateral ConvModules on the other levels; top-down: each lateral
 *           += the bilinear resize of the one above; 3x3 fpn ConvModules; all resized to the finest level,
 *           concatenated -> 3x3 "fpn_bottleneck"; Dropout2d(0.1); 1x1 conv_seg -> [B, classes, 4g, 4g]
 *           (ConvModule = convolution without bias, BatchNorm (eps 1e-5, momentum 0.1), ReLU; resizes bilinear,
 *           align_corners=False)
 * output:   bilinear to the input size
 * </pre>
 * Parameter names are BEiT's/mmseg's ({@code fpn1.0.weight}, {@code fpn1.1.running_mean},
 * {@code decode_head.psp_modules.0.1.conv.weight}, {@code decode_head.lateral_convs.0.bn.weight},
 * {@code decode_head.conv_seg.weight}, ...), the backbone's under {@code backbone.}. The eval-mode forward pass equals
 * a transcription of the reference code ({@code UperNetTest}). Left out: mmseg's auxiliary FCN head (loss weight 0.4 in
 * BEiT's configs), and the neck of patch-8 models (the 4x/2x/1x/0.5x neck is used for every patch size).
 * BatchNorm in training mode uses batch statistics: train with at least 2 crops per batch.
 *
 * <p>Initialisation: convolutions Kaiming-normal (fan-out, ReLU gain), deconvolutions normal with std
 * {@code 1 / sqrt(fan-in)}, BatchNorms at 1 and 0, {@code conv_seg} normal(0, 0.01), zero biases. Build outside any
 * PointerScope; it owns the backbone.
 */
public final class UperNetSegmenter extends Module implements Segmenter {
    private static final int[] POOL_SCALES = {1, 2, 3, 6};
    private static final double BN_EPS = 1e-5, BN_MOMENTUM = 0.1, DROPOUT = 0.1;

    private final VisionTransformer backbone;
    private final int[] outIndices;
    private final int classes;
    private final int channels;
    /** Every container module, kept reachable: train()/eval() call back into them (docs/LIBTORCH-NOTES.md). */
    private final List<Module> containers = new ArrayList<>();
    /** The trainable tensors of neck and head by name, and which ones decay. */
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final List<String> decaying = new ArrayList<>();

    private final Tensor deconv1a, deconv1aBias, deconv1b, deconv1bBias, deconv2, deconv2Bias;
    private final ConvBn fpn1Bn;
    private final ConvBn[] psp = new ConvBn[POOL_SCALES.length];
    private final ConvBn bottleneck;
    private final ConvBn[] lateral = new ConvBn[3];
    private final ConvBn[] fpnConvs = new ConvBn[3];
    private final ConvBn fpnBottleneck;
    private final Tensor segWeight, segBias;

    /**
     * @param outIndices the four blocks whose tokens feed the neck, ascending, repeats allowed (see {@link #defaultIndices})
     * @param channels   UPerHead's channels (BEiT's ViT-B config: 768)
     */
    public UperNetSegmenter(VisionTransformer backbone, int classes, int channels, int[] outIndices) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) throw new IllegalStateException("build the segmenter outside any PointerScope");
        if (outIndices.length != 4) throw new IllegalArgumentException("UperNet takes 4 levels, got " + Arrays.toString(outIndices));
        if (classes < 1 || channels < 1) throw new IllegalArgumentException("classes and channels must be >= 1");
        for (int i = 0; i < 4; i++) {
            if (outIndices[i] < 0 || outIndices[i] >= backbone.config().depth() || (i > 0 && outIndices[i] < outIndices[i - 1])) {
                throw new IllegalArgumentException("UperNet's blocks " + Arrays.toString(outIndices) + " must be ascending in 0.."
                        + (backbone.config().depth() - 1));
            }
        }
        this.backbone = backbone;
        this.outIndices = outIndices.clone();
        this.classes = classes;
        this.channels = channels;
        register_module("backbone", backbone);
        int e = backbone.width();
        Module fpn1 = container(this, "fpn1"), fpn2 = container(this, "fpn2");
        Module f10 = container(fpn1, "0"), f13 = container(fpn1, "3"), f20 = container(fpn2, "0");
        deconv1a = param(f10, "fpn1.0.weight", deconvInit(e), true);
        deconv1aBias = param(f10, "fpn1.0.bias", torch.zeros(new long[] {e}), false);
        fpn1Bn = new ConvBn(null, container(fpn1, "1"), "fpn1.1.", e);
        deconv1b = param(f13, "fpn1.3.weight", deconvInit(e), true);
        deconv1bBias = param(f13, "fpn1.3.bias", torch.zeros(new long[] {e}), false);
        deconv2 = param(f20, "fpn2.0.weight", deconvInit(e), true);
        deconv2Bias = param(f20, "fpn2.0.bias", torch.zeros(new long[] {e}), false);

        Module head = container(this, "decode_head");
        Module pspList = container(head, "psp_modules");
        for (int i = 0; i < POOL_SCALES.length; i++) {
            psp[i] = convModule(container(container(pspList, Integer.toString(i)), "1"),
                    "decode_head.psp_modules." + i + ".1.", e, channels, 1);
        }
        bottleneck = convModule(container(head, "bottleneck"), "decode_head.bottleneck.", e + POOL_SCALES.length * channels, channels, 3);
        Module laterals = container(head, "lateral_convs"), fpns = container(head, "fpn_convs");
        for (int i = 0; i < 3; i++) {
            lateral[i] = convModule(container(laterals, Integer.toString(i)), "decode_head.lateral_convs." + i + ".", e, channels, 1);
            fpnConvs[i] = convModule(container(fpns, Integer.toString(i)), "decode_head.fpn_convs." + i + ".", channels, channels, 3);
        }
        fpnBottleneck = convModule(container(head, "fpn_bottleneck"), "decode_head.fpn_bottleneck.", 4 * channels, channels, 3);
        Module seg = container(head, "conv_seg");
        Tensor w = torch.empty(new long[] {classes, channels, 1, 1});
        try (NoGradGuard g = new NoGradGuard()) {
            w.normal_(0, 0.01, new GeneratorOptional());
        }
        segWeight = param(seg, "decode_head.conv_seg.weight", w, true);
        segBias = param(seg, "decode_head.conv_seg.bias", torch.zeros(new long[] {classes}), false);
    }

    /** BEiT's out_indices for depth 12 (3, 5, 7, 11) and 24 (7, 11, 15, 23); otherwise the ends of the four quarters. */
    public static int[] defaultIndices(int depth) {
        if (depth == 12) return new int[] {3, 5, 7, 11};
        if (depth == 24) return new int[] {7, 11, 15, 23};
        if (depth < 4) throw new IllegalArgumentException("UperNet needs 4 levels: the backbone has only " + depth + " blocks");
        return new int[] {depth / 4 - 1, depth / 2 - 1, 3 * depth / 4 - 1, depth - 1};
    }

    @Override public Tensor forward(Tensor images) {
        int g = backbone.config().gridSize();
        long b = images.size(0);
        List<Tensor> levels = new ArrayList<>();
        for (Tensor tokens : backbone.blockOutputs(images, outIndices)) {
            levels.add(tokens.narrow(1, 1, tokens.size(1) - 1).transpose(1, 2).reshape(new long[] {b, backbone.width(), g, g}));
        }
        return LinearSegmenter.upsample(decode(levels), backbone.imageSize());
    }

    /** Neck and UPerHead on four feature maps {@code [B, C, g, g]}: logits {@code [B, classes, 4g, 4g]}. */
    Tensor decode(List<Tensor> f) {
        boolean training = is_training();
        Tensor l1 = deconv(f.get(0), deconv1a, deconv1aBias);
        l1 = deconv(torch.gelu(fpn1Bn.bn(l1, training)), deconv1b, deconv1bBias);
        Tensor l2 = deconv(f.get(1), deconv2, deconv2Bias);
        Tensor l3 = f.get(2);
        Tensor l4 = torch.max_pool2d(f.get(3), new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, false);
        Tensor[] inputs = {l1, l2, l3, l4};

        Tensor[] laterals = new Tensor[4];
        for (int i = 0; i < 3; i++) laterals[i] = lateral[i].forward(inputs[i], training);
        TensorVector pspOuts = new TensorVector(l4);
        for (int i = 0; i < POOL_SCALES.length; i++) {
            Tensor pooled = torch.adaptive_avg_pool2d(l4, new long[] {POOL_SCALES[i], POOL_SCALES[i]});
            pspOuts.push_back(resize(psp[i].forward(pooled, training), l4));
        }
        laterals[3] = bottleneck.forward(torch.cat(pspOuts, 1), training);
        for (int i = 3; i > 0; i--) laterals[i - 1] = laterals[i - 1].add(resize(laterals[i], laterals[i - 1]));
        Tensor[] outs = new Tensor[4];
        for (int i = 0; i < 3; i++) outs[i] = fpnConvs[i].forward(laterals[i], training);
        outs[3] = laterals[3];
        for (int i = 3; i > 0; i--) outs[i] = resize(outs[i], outs[0]);
        Tensor fused = fpnBottleneck.forward(torch.cat(new TensorVector(outs[0], outs[1], outs[2], outs[3]), 1), training);
        if (training) fused = torch.feature_dropout(fused, DROPOUT, true);
        return torch.conv2d(fused, segWeight, new TensorOptional(segBias), new long[] {1, 1}, new long[] {0, 0}, new long[] {1, 1}, 1);
    }

    private static Tensor resize(Tensor x, Tensor like) {
        if (x.size(2) == like.size(2) && x.size(3) == like.size(3)) return x;
        return torch.upsample_bilinear2d(x, new long[] {like.size(2), like.size(3)}, false);
    }

    private static Tensor deconv(Tensor x, Tensor w, Tensor b) {
        return torch.conv_transpose2d(x, w, new TensorOptional(b), new long[] {2, 2}, new long[] {0, 0}, new long[] {0, 0}, 1,
                new long[] {1, 1});
    }

    @Override public VisionTransformer backbone() {
        return backbone;
    }

    @Override public int classes() {
        return classes;
    }

    public int channels() {
        return channels;
    }

    public int[] outIndices() {
        return outIndices.clone();
    }

    @Override public Module module() {
        return this;
    }

    @Override public String describe() {
        return "UperNet (BEiT's neck on blocks " + Arrays.toString(outIndices) + ", UPerHead with " + channels + " channels)";
    }

    @Override public List<Param> headParams(double weightDecay) {
        List<Param> out = new ArrayList<>();
        params.forEach((name, t) -> out.add(new Param(name, t, 1, decaying.contains(name) ? weightDecay : 0)));
        return out;
    }

    // ---- construction helpers ---------------------------------------------------------------------------------------

    private Module container(Module parent, String name) {
        Module m = parent.register_module(name, new Module());
        containers.add(m);
        return m;
    }

    private Tensor param(Module owner, String fullName, Tensor t, boolean decays) {
        owner.register_parameter(fullName.substring(fullName.lastIndexOf('.') + 1), t);
        params.put(fullName, t);
        if (decays) decaying.add(fullName);
        return t;
    }

    private static Tensor deconvInit(int e) {
        // ConvTranspose2d weight [in, out, 2, 2]
        return torch.randn(new long[] {e, e, 2, 2}).mul_(new Scalar(1 / Math.sqrt(e * 4.0)));
    }

    private ConvBn convModule(Module owner, String prefix, int cin, int cout, int k) {
        Tensor w = torch.randn(new long[] {cout, cin, k, k}).mul_(new Scalar(Math.sqrt(2.0 / (cout * k * k))));
        param(container(owner, "conv"), prefix + "conv.weight", w, true);
        return new ConvBn(w, container(owner, "bn"), prefix + "bn.", cout);
    }

    /** A convolution without bias (or none) followed by BatchNorm, with ReLU in {@link #forward}. */
    private final class ConvBn {
        final Tensor weight;
        final Tensor gamma, beta, mean, var;

        ConvBn(Tensor weight, Module bnModule, String bnPrefix, int c) {
            this.weight = weight;
            gamma = param(bnModule, bnPrefix + "weight", torch.ones(new long[] {c}), false);
            beta = param(bnModule, bnPrefix + "bias", torch.zeros(new long[] {c}), false);
            mean = torch.zeros(new long[] {c});
            var = torch.ones(new long[] {c});
            bnModule.register_buffer("running_mean", mean);
            bnModule.register_buffer("running_var", var);
        }

        Tensor bn(Tensor x, boolean training) {
            return torch.batch_norm(x, new TensorOptional(gamma), new TensorOptional(beta), new TensorOptional(mean),
                    new TensorOptional(var), training, BN_MOMENTUM, BN_EPS, false);
        }

        Tensor forward(Tensor x, boolean training) {
            long k = weight.size(2);
            Tensor y = torch.conv2d(x, weight, new TensorOptional(), new long[] {1, 1}, new long[] {k / 2, k / 2},
                    new long[] {1, 1}, 1);
            return torch.relu(bn(y, training));
        }
    }
}
