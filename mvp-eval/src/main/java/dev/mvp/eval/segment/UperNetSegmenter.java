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
 * ({@code semantic_segmentation/backbone/beit.py}), mmsegmentation's {@code UPerHead} and, for training only, its
 * auxiliary {@code FCNHead} ({@code configs/_base_/models/upernet_beit.py}).
 * <pre>
 * features: the patch tokens leaving blocks outIndices (BEiT: 3, 5, 7, 11 of 12), no final norm, as [B, C, g, g]
 * neck, chosen by the backbone's patch size (beit.py has these two; other patch sizes are refused):
 *   patch 16: fpn1 = deconv 2x2/2, BatchNorm, GELU, deconv 2x2/2 (4g);  fpn2 = deconv 2x2/2 (2g);  fpn3 = identity (g);
 *             fpn4 = max-pool 2x2/2 (g/2)
 *   patch 8:  fpn1 = deconv 2x2/2 (2g);  fpn2 = identity (g);  fpn3 = max-pool 2x2/2 (g/2);  fpn4 = max-pool 4x4/4 (g/4)
 *   (the same strides from the image: 1/4, 1/8, 1/16, 1/32)
 * UPerHead: PPM on the last level (adaptive average pools 1, 2, 3, 6, each a 1x1 ConvModule, resized back) + the level
 *           itself -> 3x3 ConvModule "bottleneck"; 1x1 lateral ConvModules on the other levels; top-down: each lateral
 *           += the bilinear resize of the one above; 3x3 fpn ConvModules; all resized to the finest level,
 *           concatenated -> 3x3 "fpn_bottleneck"; Dropout2d(0.1); 1x1 conv_seg -> [B, classes, 4g, 4g] (patch 16)
 * FCNHead (auxiliary, training only): on the neck's third level (in_index 2): numConvs 3x3 ConvModules with
 *           {@link Auxiliary#channels()} channels (BEiT: one, 256), no concat_input, Dropout2d(0.1), 1x1 conv_seg
 * (ConvModule = convolution without bias, BatchNorm (eps 1e-5, momentum 0.1), ReLU; resizes bilinear,
 * align_corners=False)
 * output:   the UPerHead's logits, bilinear to the input size
 * loss:     {@link SegLoss#crossEntropy} of the UPerHead's logits (weight 1) + {@link Auxiliary#lossWeight()} (BEiT: 0.4)
 *           times that of the FCNHead's, each resized to the labels first (mmseg's BaseDecodeHead.losses)
 * </pre>
 * Parameter names are BEiT's/mmseg's ({@code fpn1.0.weight}, {@code fpn1.1.running_mean},
 * {@code decode_head.psp_modules.0.1.conv.weight}, {@code decode_head.lateral_convs.0.bn.weight},
 * {@code decode_head.conv_seg.weight}, {@code auxiliary_head.convs.0.conv.weight}, {@code auxiliary_head.conv_seg.bias},
 * ...), the backbone's under {@code backbone.}. The eval-mode outputs of both heads, and the loss, equal a
 * transcription of the reference code for both necks ({@code UperNetTest}). BatchNorm in training mode uses batch
 * statistics: train with at least 2 crops per batch.
 *
 * <p>Initialisation: convolutions Kaiming-normal (fan-out, ReLU gain), deconvolutions normal with std
 * {@code 1 / sqrt(fan-in)}, BatchNorms at 1 and 0, {@code conv_seg} normal(0, 0.01) (mmseg's), zero biases. Build
 * outside any PointerScope; it owns the backbone.
 */
public final class UperNetSegmenter extends Module implements Segmenter {
    private static final int[] POOL_SCALES = {1, 2, 3, 6};
    private static final double BN_EPS = 1e-5, BN_MOMENTUM = 0.1, DROPOUT = 0.1;
    /** The neck level the auxiliary head reads (mmseg's in_index in BEiT's config). */
    static final int AUX_INDEX = 2;

    /**
     * mmseg's auxiliary {@code FCNHead} (kernel 3, {@code concat_input=False}, dropout 0.1) and the weight of its
     * loss; {@link #NONE} builds no auxiliary head.
     *
     * @param channels   channels of its convolutions (BEiT: 256)
     * @param numConvs   3x3 ConvModules before {@code conv_seg} (BEiT: 1)
     * @param lossWeight weight of its cross-entropy in the training loss (BEiT: 0.4); 0 only with {@link #NONE}
     */
    public record Auxiliary(int channels, int numConvs, double lossWeight) {
        /** BEiT's and MVP's ADE20K configuration ({@code upernet_beit.py}). */
        public static final Auxiliary BEIT = new Auxiliary(256, 1, 0.4);
        /** No auxiliary head. */
        public static final Auxiliary NONE = new Auxiliary(0, 0, 0);

        public Auxiliary {
            boolean none = channels == 0 && numConvs == 0 && lossWeight == 0;
            if (!none && (channels < 1 || numConvs < 1 || !(lossWeight > 0) || Double.isInfinite(lossWeight))) {
                throw new IllegalArgumentException("auxiliary head: channels and convolutions must be >= 1 and the loss "
                        + "weight > 0 (or all 0 for none), got " + channels + ", " + numConvs + ", " + lossWeight);
            }
        }

        public boolean enabled() {
            return lossWeight > 0;
        }
    }

    private final VisionTransformer backbone;
    private final int[] outIndices;
    private final int classes;
    private final int channels;
    private final int patchSize;
    private final Auxiliary auxiliary;
    /** Every container module, kept reachable: train()/eval() call back into them (docs/LIBTORCH-NOTES.md). */
    private final List<Module> containers = new ArrayList<>();
    /** The trainable tensors of neck and heads by name, and which ones decay. */
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final List<String> decaying = new ArrayList<>();

    // neck: patch 16 uses all of these; patch 8 only deconv1a (fpn1.0)
    private final Tensor deconv1a, deconv1aBias, deconv1b, deconv1bBias, deconv2, deconv2Bias;
    private final ConvBn fpn1Bn;
    private final ConvBn[] psp = new ConvBn[POOL_SCALES.length];
    private final ConvBn bottleneck;
    private final ConvBn[] lateral = new ConvBn[3];
    private final ConvBn[] fpnConvs = new ConvBn[3];
    private final ConvBn fpnBottleneck;
    private final Tensor segWeight, segBias;
    private final ConvBn[] auxConvs;
    private final Tensor auxSegWeight, auxSegBias;

    /** With BEiT's auxiliary head ({@link Auxiliary#BEIT}). */
    public UperNetSegmenter(VisionTransformer backbone, int classes, int channels, int[] outIndices) {
        this(backbone, classes, channels, outIndices, Auxiliary.BEIT);
    }

    /**
     * @param outIndices the four blocks whose tokens feed the neck, ascending, repeats allowed (see {@link #defaultIndices})
     * @param channels   UPerHead's channels (BEiT's ViT-B config: 768)
     * @param auxiliary  the auxiliary FCN head, or {@link Auxiliary#NONE}
     * @throws IllegalArgumentException for a patch size other than 16 and 8, or bad indices or sizes
     */
    public UperNetSegmenter(VisionTransformer backbone, int classes, int channels, int[] outIndices, Auxiliary auxiliary) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) throw new IllegalStateException("build the segmenter outside any PointerScope");
        checkPatchSize(backbone.patchSize());
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
        this.patchSize = backbone.patchSize();
        this.auxiliary = auxiliary;
        register_module("backbone", backbone);
        int e = backbone.width();
        Module fpn1 = container(this, "fpn1");
        deconv1a = param(container(fpn1, "0"), "fpn1.0.weight", deconvInit(e), true);
        deconv1aBias = param(containers.getLast(), "fpn1.0.bias", torch.zeros(new long[] {e}), false);
        if (patchSize == 16) {
            fpn1Bn = new ConvBn(null, container(fpn1, "1"), "fpn1.1.", e);
            deconv1b = param(container(fpn1, "3"), "fpn1.3.weight", deconvInit(e), true);
            deconv1bBias = param(containers.getLast(), "fpn1.3.bias", torch.zeros(new long[] {e}), false);
            Module f20 = container(container(this, "fpn2"), "0");
            deconv2 = param(f20, "fpn2.0.weight", deconvInit(e), true);
            deconv2Bias = param(f20, "fpn2.0.bias", torch.zeros(new long[] {e}), false);
        } else {
            fpn1Bn = null;
            deconv1b = deconv1bBias = deconv2 = deconv2Bias = null;
        }

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
        Tensor[] seg = convSeg(container(head, "conv_seg"), "decode_head.conv_seg.", channels);
        segWeight = seg[0];
        segBias = seg[1];

        if (auxiliary.enabled()) {
            Module aux = container(this, "auxiliary_head");
            Module convs = container(aux, "convs");
            auxConvs = new ConvBn[auxiliary.numConvs()];
            for (int i = 0; i < auxConvs.length; i++) {
                auxConvs[i] = convModule(container(convs, Integer.toString(i)), "auxiliary_head.convs." + i + ".",
                        i == 0 ? e : auxiliary.channels(), auxiliary.channels(), 3);
            }
            Tensor[] auxSeg = convSeg(container(aux, "conv_seg"), "auxiliary_head.conv_seg.", auxiliary.channels());
            auxSegWeight = auxSeg[0];
            auxSegBias = auxSeg[1];
        } else {
            auxConvs = new ConvBn[0];
            auxSegWeight = auxSegBias = null;
        }
    }

    /**
     * Refuses patch sizes that BEiT's {@code beit.py} has no neck for (it builds fpn1..fpn4 for 16 and 8 only).
     *
     * @throws IllegalArgumentException naming the patch size
     */
    public static void checkPatchSize(int patchSize) {
        if (patchSize != 16 && patchSize != 8) {
            throw new IllegalArgumentException("UperNet's neck (BEiT's beit.py) exists for patch sizes 16 and 8; the backbone "
                    + "has patch size " + patchSize);
        }
    }

    /** BEiT's out_indices for depth 12 (3, 5, 7, 11) and 24 (7, 11, 15, 23); otherwise the ends of the four quarters. */
    public static int[] defaultIndices(int depth) {
        if (depth == 12) return new int[] {3, 5, 7, 11};
        if (depth == 24) return new int[] {7, 11, 15, 23};
        if (depth < 4) throw new IllegalArgumentException("UperNet needs 4 levels: the backbone has only " + depth + " blocks");
        return new int[] {depth / 4 - 1, depth / 2 - 1, 3 * depth / 4 - 1, depth - 1};
    }

    /** Inference: the UPerHead's logits {@code [B, classes, S, S]}; the auxiliary head is not run. */
    @Override public Tensor forward(Tensor images) {
        return LinearSegmenter.upsample(decodeHead(neck(features(images))), backbone.imageSize());
    }

    /**
     * The training loss: {@code crossEntropy(UPerHead) + lossWeight * crossEntropy(FCNHead)} ({@link SegLoss}, each on
     * logits resized to the labels), as mmseg's EncoderDecoder sums its heads' losses. Runs in the module's current
     * mode (training: batch statistics, dropout).
     */
    @Override public Tensor loss(Tensor images, Tensor labels) {
        return loss(features(images), labels);
    }

    /** {@link #loss(Tensor, Tensor)} from the four feature maps {@code [B, C, g, g]}. */
    Tensor loss(List<Tensor> features, Tensor labels) {
        List<Tensor> levels = neck(features);
        Tensor l = SegLoss.crossEntropy(decodeHead(levels), labels);
        if (!auxiliary.enabled()) return l;
        return l.add(SegLoss.crossEntropy(auxHead(levels), labels).mul(new Scalar(auxiliary.lossWeight())));
    }

    /** The patch tokens of the {@link #outIndices} blocks as feature maps {@code [B, C, g, g]}. */
    private List<Tensor> features(Tensor images) {
        int g = backbone.config().gridSize();
        long b = images.size(0);
        List<Tensor> levels = new ArrayList<>();
        for (Tensor tokens : backbone.blockOutputs(images, outIndices)) {
            levels.add(tokens.narrow(1, 1, tokens.size(1) - 1).transpose(1, 2).reshape(new long[] {b, backbone.width(), g, g}));
        }
        return levels;
    }

    /** Neck and UPerHead on four feature maps {@code [B, C, g, g]}: logits at the neck's finest level. */
    Tensor decode(List<Tensor> f) {
        return decodeHead(neck(f));
    }

    /** BEiT's fpn1..fpn4 for this patch size (see the class comment). */
    List<Tensor> neck(List<Tensor> f) {
        if (f.size() != 4) throw new IllegalArgumentException("the neck takes 4 feature maps, got " + f.size());
        if (patchSize == 16) {
            Tensor l1 = deconv(f.get(0), deconv1a, deconv1aBias);
            l1 = deconv(torch.gelu(fpn1Bn.bn(l1, is_training())), deconv1b, deconv1bBias);
            return List.of(l1, deconv(f.get(1), deconv2, deconv2Bias), f.get(2), maxPool(f.get(3), 2));
        }
        return List.of(deconv(f.get(0), deconv1a, deconv1aBias), f.get(1), maxPool(f.get(2), 2), maxPool(f.get(3), 4));
    }

    /** mmseg's UPerHead on the neck's four levels: logits at the first level's resolution. */
    Tensor decodeHead(List<Tensor> inputs) {
        boolean training = is_training();
        Tensor top = inputs.get(3);
        Tensor[] laterals = new Tensor[4];
        for (int i = 0; i < 3; i++) laterals[i] = lateral[i].forward(inputs.get(i), training);
        TensorVector pspOuts = new TensorVector(top);
        for (int i = 0; i < POOL_SCALES.length; i++) {
            Tensor pooled = torch.adaptive_avg_pool2d(top, new long[] {POOL_SCALES[i], POOL_SCALES[i]});
            pspOuts.push_back(resize(psp[i].forward(pooled, training), top));
        }
        laterals[3] = bottleneck.forward(torch.cat(pspOuts, 1), training);
        for (int i = 3; i > 0; i--) laterals[i - 1] = laterals[i - 1].add(resize(laterals[i], laterals[i - 1]));
        Tensor[] outs = new Tensor[4];
        for (int i = 0; i < 3; i++) outs[i] = fpnConvs[i].forward(laterals[i], training);
        outs[3] = laterals[3];
        for (int i = 3; i > 0; i--) outs[i] = resize(outs[i], outs[0]);
        Tensor fused = fpnBottleneck.forward(torch.cat(new TensorVector(outs[0], outs[1], outs[2], outs[3]), 1), training);
        return classify(fused, segWeight, segBias, training);
    }

    /** mmseg's FCNHead on the neck's level {@link #AUX_INDEX}: logits at that level's resolution. */
    Tensor auxHead(List<Tensor> inputs) {
        if (!auxiliary.enabled()) throw new IllegalStateException("this UperNet has no auxiliary head");
        boolean training = is_training();
        Tensor x = inputs.get(AUX_INDEX);
        for (ConvBn c : auxConvs) x = c.forward(x, training);
        return classify(x, auxSegWeight, auxSegBias, training);
    }

    /** BaseDecodeHead.cls_seg: Dropout2d(0.1) in training, then the 1x1 conv_seg. */
    private static Tensor classify(Tensor x, Tensor w, Tensor b, boolean training) {
        if (training) x = torch.feature_dropout(x, DROPOUT, true);
        return torch.conv2d(x, w, new TensorOptional(b), new long[] {1, 1}, new long[] {0, 0}, new long[] {1, 1}, 1);
    }

    private static Tensor resize(Tensor x, Tensor like) {
        if (x.size(2) == like.size(2) && x.size(3) == like.size(3)) return x;
        return torch.upsample_bilinear2d(x, new long[] {like.size(2), like.size(3)}, false);
    }

    private static Tensor maxPool(Tensor x, long k) {
        return torch.max_pool2d(x, new long[] {k, k}, new long[] {k, k}, new long[] {0, 0}, new long[] {1, 1}, false);
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

    public Auxiliary auxiliary() {
        return auxiliary;
    }

    @Override public Module module() {
        return this;
    }

    @Override public String describe() {
        return "UperNet (BEiT's patch-" + patchSize + " neck on blocks " + Arrays.toString(outIndices) + ", UPerHead with "
                + channels + " channels, " + (auxiliary.enabled() ? "auxiliary FCNHead with " + auxiliary.channels()
                + " channels, loss weight " + auxiliary.lossWeight() : "no auxiliary head") + ")";
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

    /** A 1x1 conv_seg: weight normal(0, 0.01) as mmseg's BaseDecodeHead.init_weights, bias 0. */
    private Tensor[] convSeg(Module owner, String prefix, int cin) {
        Tensor w = torch.empty(new long[] {classes, cin, 1, 1});
        try (NoGradGuard g = new NoGradGuard()) {
            w.normal_(0, 0.01, new GeneratorOptional());
        }
        return new Tensor[] {param(owner, prefix + "weight", w, true), param(owner, prefix + "bias", torch.zeros(new long[] {classes}), false)};
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
