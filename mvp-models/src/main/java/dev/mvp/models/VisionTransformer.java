package dev.mvp.models;

import dev.mvp.api.Backbone;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.VitConfig.AttentionKernel;
import dev.mvp.models.VitConfig.Pooling;
import dev.mvp.models.VitConfig.QkvBias;
import dev.mvp.models.VitConfig.RelativePosition;
import dev.mvp.models.nn.Init;
import dev.mvp.models.nn.LayerNorm;
import dev.mvp.models.nn.Linear;
import dev.mvp.models.nn.Placement;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * The student: a Vision Transformer computing what timm's {@code VisionTransformer} and BEiT's models compute, with
 * their parameter names, and BEiT's learnable mask token.
 *
 * <pre>
 * images [B,3,H,W] -> patch_embed.proj (conv p x p, stride p) -> [B,N,C]
 *   masked patches replaced by mask_token              x * (1 - w) + mask_token * w, as BEiT
 *   prepend cls_token, add pos_embed [1, 1+N, C]       (if absolutePosition)
 *   blocks: x + drop_path(ls1 * attn(norm1(x)))        pre-LayerNorm; ls = layer scale (if layerScale > 0)
 *           x + drop_path(ls2 * mlp(norm2(x)))         mlp = fc1, GELU, fc2
 *       attn = softmax(q k^T / sqrt(d) + relative position bias) v, proj
 *   norm -> [B, 1+N, C]                                 (absent with MEAN pooling, as in timm and BEiT)
 * pool:  CLS -> token 0;  MEAN -> fc_norm(mean of the patch tokens)    [B, C]
 * head:  Linear(C, numClasses)                         (if numClasses > 0)
 * </pre>
 *
 * <p>Parameter names are timm's {@code VisionTransformer}'s ({@code patch_embed.proj.weight}, {@code cls_token},
 * {@code pos_embed}, {@code blocks.0.norm1.weight}, {@code blocks.0.attn.qkv.weight}, {@code blocks.0.attn.qkv.bias},
 * {@code blocks.0.ls1.gamma}, {@code blocks.0.mlp.fc1.weight}, ..., {@code norm.weight}, {@code fc_norm.weight},
 * {@code head.weight}) plus {@code mask_token}, and, for what only BEiT has, BEiT's: {@code blocks.0.attn.q_bias},
 * {@code blocks.0.attn.v_bias}, {@code blocks.0.attn.relative_position_bias_table},
 * {@code rel_pos_bias.relative_position_bias_table}. {@link VitCheckpoints} converts to and from timm's and BEiT's
 * full layouts.
 *
 * <p>Initialisation is BEiT's pre-training one: truncated normal (std 0.02, cut at plus or minus 0.02) for the patch
 * projection, the tokens, the position embedding and every linear weight; zero biases and relative position
 * tables; unit LayerNorms; layer scales at their initial value; each block's {@code attn.proj} and {@code mlp.fc2}
 * weights divided by sqrt(2 * block number). A classifier head is BEiT's fine-tuning one: truncated normal std 0.02
 * scaled by 0.001. All draws come from libtorch's default generator: seed it ({@code torch.manual_seed}) first.
 *
 * <p>Training mode (libtorch's default; {@code eval()} / {@code train(true)} switch it) only matters with stochastic
 * depth: block i then drops each sample's residual branches with probability {@link VitConfig#dropPathOf(int)} and
 * scales kept ones by 1 / (1 - p) (timm's {@code drop_path}), drawing from libtorch's default generator.
 *
 * <p>Build it outside any {@link PointerScope}: its parameters are long-lived. Every tensor a method returns belongs
 * to the caller's scope.
 */
public final class VisionTransformer extends Module implements Backbone {
    /** BEiT's {@code init_scale} for the classifier head of its fine-tuning model. */
    private static final double HEAD_INIT_SCALE = 0.001;
    private static final double INIT_STD = 0.02;

    private final VitConfig config;
    private final Tensor patchWeight;
    private final Tensor patchBias;
    private final Tensor clsToken;
    private final Tensor posEmbed;
    private final Tensor maskToken;
    private final RelativePositionBias sharedRelativePosition;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNorm norm;
    private final LayerNorm fcNorm;
    private final Linear head;
    /**
     * The plain container modules ({@code patch_embed}, {@code blocks}, ...), held so that their Java objects stay
     * reachable: libtorch calls back into a Java-made module for {@code train()}/{@code eval()}, and one that was
     * garbage-collected makes that call fail with a NullPointerException (docs/LIBTORCH-NOTES.md).
     */
    private final List<Module> containers = new ArrayList<>();

    private VisionTransformer(VitConfig config) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("build the VisionTransformer outside any PointerScope: its parameters are "
                    + "long-lived and would be freed with the scope");
        }
        this.config = config;
        int c = config.width(), p = config.patchSize();
        Module patchEmbed = keep(containers, register_module("patch_embed", new Module()));
        Module proj = keep(containers, patchEmbed.register_module("proj", new Module()));
        patchWeight = Init.beitTruncNormal(new long[] {c, 3, p, p}, INIT_STD);
        patchBias = torch.zeros(new long[] {c});
        proj.register_parameter("weight", patchWeight);
        proj.register_parameter("bias", patchBias);

        clsToken = Init.beitTruncNormal(new long[] {1, 1, c}, INIT_STD);
        register_parameter("cls_token", clsToken);
        if (config.absolutePosition()) {
            posEmbed = Init.beitTruncNormal(new long[] {1, config.numTokens(), c}, INIT_STD);
            register_parameter("pos_embed", posEmbed);
        } else {
            posEmbed = null;
        }
        maskToken = Init.beitTruncNormal(new long[] {1, 1, c}, INIT_STD);
        register_parameter("mask_token", maskToken);
        sharedRelativePosition = config.relativePosition() == RelativePosition.SHARED
                ? new RelativePositionBias(keep(containers, register_module("rel_pos_bias", new Module())), config.gridSize(), config.heads())
                : null;

        Module blockList = keep(containers, register_module("blocks", new Module()));
        for (int i = 0; i < config.depth(); i++) {
            blocks.add(blockList.register_module(Integer.toString(i), new Block(config, i)));
        }
        boolean mean = config.pooling() == Pooling.MEAN;
        norm = mean ? null : register_module("norm", new LayerNorm(c, config.layerNormEps()));
        fcNorm = mean ? register_module("fc_norm", new LayerNorm(c, config.layerNormEps())) : null;
        if (config.numClasses() > 0) {
            head = register_module("head", new Linear(c, config.numClasses(), true));
            try (NoGradGuard noGrad = new NoGradGuard()) {
                Init.truncNormal_(head.weight(), INIT_STD, -2, 2).mul_(Tensors.scalar(HEAD_INIT_SCALE));
            }
        } else {
            head = null;
        }
    }

    /** A randomly initialised network (see the class comment; seed libtorch first for reproducibility). */
    public static VisionTransformer create(VitConfig config) {
        return new VisionTransformer(config);
    }

    public VitConfig config() {
        return config;
    }

    /**
     * Moves the network to {@code device} in place ({@link Placement#move(Module, Device, ScalarType)}): every
     * parameter and buffer, and the relative position bias's lookup index and BEiT's zero k bias, which are not
     * registered. Floating-point tensors become {@code floating} unless it is {@code null}.
     */
    public void moveTo(Device device, ScalarType floating) {
        Placement.move(this, device, floating);
        if (sharedRelativePosition != null) Placement.move(sharedRelativePosition.index(), device, null);
        for (Block block : blocks) {
            Attention attn = block.attn;
            if (attn.relativePosition != null) Placement.move(attn.relativePosition.index(), device, null);
            if (attn.kBiasZeros != null) Placement.move(attn.kBiasZeros, device, floating);
        }
    }

    /**
     * Every token after the last block and the final norm (with MEAN pooling there is no final norm: the tokens are
     * the last block's output, as timm's {@code forward_features} returns them).
     *
     * @param images float32 [B, 3, S, S], S = {@link #imageSize()}
     * @param mask   bool [B, N] ({@code true} = masked) or {@code null}
     * @return float32 [B, 1 + N, C], part of the autograd graph
     */
    @Override public Tensor forward(Tensor images, Tensor mask) {
        Tensor x = inOwnScope(() -> embed(images, mask));
        Tensor shared = sharedBias();
        for (Block block : blocks) {
            Tensor input = x;
            x = inOwnScope(() -> block.forward(input, shared));
            input.close();  // our handle only: autograd keeps the tensor while backward needs it
        }
        if (norm == null) return x;
        Tensor out = norm.forward(x);
        x.close();
        return out;
    }

    /**
     * Runs {@code body} in a PointerScope of its own and returns its result into the caller's scope. The Java
     * handles of every other tensor {@code body} made are released at once, so an intermediate lives only as long
     * as autograd needs it for backward, as under Python's reference counting. Without this, the caller's scope
     * would hold every pre-softmax logit, pre-residual branch and reshape source of every block until the step
     * ends (about 0.35 GB more at ViT-B/16, batch 8, 224), and none of the activations could be freed during
     * backward.
     */
    private static Tensor inOwnScope(Supplier<Tensor> body) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope inner = new PointerScope()) {
            Tensor out = body.get();
            if (outer != null) {
                outer.attach(out);
            } else {
                out.retainReference();   // no scope above: the handle is the caller's, freed by its GC
            }
            inner.detach(out);
            return out;
        }
    }

    /**
     * The token sequence entering the first block: patch embeddings with masked ones replaced by the mask token,
     * the CLS token prepended, position embeddings added (if any). [B, 1 + N, C].
     */
    public Tensor embed(Tensor images, Tensor mask) {
        checkInput(images, mask);
        int c = config.width(), p = config.patchSize();
        Tensor x = torch.conv2d(images, patchWeight, new TensorOptional(patchBias), new long[] {p, p},
                new long[] {0, 0}, new long[] {1, 1}, 1).flatten(2, 3).transpose(1, 2);     // [B, N, C]
        if (mask != null) {
            Tensor w = mask.unsqueeze(-1).to(x.scalar_type());
            x = x.mul(w.neg().add(Tensors.scalar(1))).add(maskToken.mul(w));
        }
        x = torch.cat(new TensorVector(clsToken.expand(new long[] {images.size(0), 1, c}), x), 1);
        return posEmbed == null ? x : x.add(posEmbed);
    }

    /**
     * The image-level features a classifier reads: the CLS token of {@code tokens} (CLS pooling) or
     * {@code fc_norm} of the mean of the patch tokens (MEAN pooling).
     *
     * @param tokens [B, 1 + N, C] as returned by {@link #forward}
     * @return [B, C]
     */
    public Tensor pool(Tensor tokens) {
        if (config.pooling() == Pooling.CLS) return tokens.select(1, 0);
        Tensor patches = tokens.narrow(1, 1, tokens.size(1) - 1);
        return fcNorm.forward(patches.mean(new long[] {1}, false, new ScalarTypeOptional()));
    }

    /**
     * Class logits of unmasked images: {@code head(pool(forward(images, null)))}, [B, numClasses].
     *
     * @throws IllegalStateException if the configuration has no classifier ({@code numClasses} 0)
     */
    public Tensor classify(Tensor images) {
        if (head == null) {
            throw new IllegalStateException("this VisionTransformer has no classifier (numClasses is 0); use pool(forward(...))");
        }
        return head.forward(pool(forward(images, null)));
    }

    /**
     * The attention weights of block {@code block} (0-based): {@code softmax(q k^T / sqrt(d) + bias)}, float32
     * [B, heads, 1 + N, 1 + N], rows summing to 1 (row 0 is the CLS token's attention). Runs the blocks before it;
     * the normal {@link #forward} path is untouched. Call in {@code eval()} mode for deterministic maps when the model
     * has stochastic depth.
     */
    public Tensor attentionWeights(Tensor images, Tensor mask, int block) {
        if (block < 0 || block >= blocks.size()) {
            throw new IndexOutOfBoundsException("block " + block + " does not exist: the model has blocks 0.." + (blocks.size() - 1));
        }
        Tensor x = embed(images, mask);
        Tensor shared = sharedBias();
        for (int i = 0; i < block; i++) x = blocks.get(i).forward(x, shared);
        Block b = blocks.get(block);
        return b.attn.weights(b.norm1.forward(x), shared);
    }

    /**
     * The token sequences leaving the given blocks (0-based, ascending; repeats allowed), without the final norm, as BEiT's
     * segmentation backbone reads its multi-level features ({@code out_indices}): float32 [B, 1 + N, C] each, part of
     * the autograd graph, in the caller's scope. Blocks after the last index are not run.
     */
    public List<Tensor> blockOutputs(Tensor images, int... indices) {
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= blocks.size() || (i > 0 && indices[i] < indices[i - 1])) {
                throw new IllegalArgumentException("block indices must be ascending in 0.." + (blocks.size() - 1) + ", got "
                        + Arrays.toString(indices));
            }
        }
        List<Tensor> out = new ArrayList<>();
        if (indices.length == 0) return out;
        Tensor x = embed(images, null);
        Tensor shared = sharedBias();
        for (int i = 0, next = 0; i <= indices[indices.length - 1]; i++) {
            x = blocks.get(i).forward(x, shared);
            while (next < indices.length && i == indices[next]) {
                out.add(x);
                next++;
            }
        }
        return out;
    }

    /**
     * A new model for {@code imageSize} x {@code imageSize} images holding this one's weights, position embeddings
     * and relative position tables resampled to the new grid ({@link PositionResampling}, timm's style for the
     * absolute embedding).
     */
    public VisionTransformer withImageSize(int imageSize) {
        return VitCheckpoints.resized(this, config.withImageSize(imageSize), PositionResampling.Style.TIMM);
    }

    /** Adds {@code m} to {@code kept} and returns it (see {@link #containers}). */
    private static Module keep(List<Module> kept, Module m) {
        kept.add(m);
        return m;
    }

    private Tensor sharedBias() {
        return sharedRelativePosition == null ? null : sharedRelativePosition.bias();
    }

    private void checkInput(Tensor images, Tensor mask) {
        long[] s = Tensors.shape(images);
        int size = config.imageSize();
        if (s.length != 4 || s[1] != 3 || s[2] != size || s[3] != size || images.scalar_type().value != ScalarType.Float.value) {
            throw new IllegalArgumentException("expected float32 images [B, 3, " + size + ", " + size + "], got "
                    + images.scalar_type() + " " + Arrays.toString(s));
        }
        if (mask != null) {
            long[] m = Tensors.shape(mask);
            if (m.length != 2 || m[0] != s[0] || m[1] != config.numPatches()) {
                throw new IllegalArgumentException("expected mask [" + s[0] + ", " + config.numPatches() + "], got "
                        + Arrays.toString(m));
            }
        }
    }

    @Override public int width() {
        return config.width();
    }

    @Override public int imageSize() {
        return config.imageSize();
    }

    @Override public int patchSize() {
        return config.patchSize();
    }

    @Override public Module module() {
        return this;
    }

    @Override public String description() {
        return "vit(width " + config.width() + ", depth " + config.depth() + ", heads " + config.heads() + ", patch "
                + config.patchSize() + ", image " + config.imageSize() + ")";
    }

    /** Pre-LN block: {@code x + drop_path(ls1 * attn(norm1(x)))}, then {@code x + drop_path(ls2 * mlp(norm2(x)))}. */
    static final class Block extends Module {
        private final LayerNorm norm1;
        private final Attention attn;
        private final LayerNorm norm2;
        private final Linear fc1;
        private final Linear fc2;
        private final Tensor gamma1;
        private final Tensor gamma2;
        private final double dropPath;
        private final List<Module> containers = new ArrayList<>();

        Block(VitConfig config, int index) {
            int c = config.width();
            norm1 = register_module("norm1", new LayerNorm(c, config.layerNormEps()));
            attn = register_module("attn", new Attention(config));
            norm2 = register_module("norm2", new LayerNorm(c, config.layerNormEps()));
            Module mlp = keep(containers, register_module("mlp", new Module()));
            fc1 = mlp.register_module("fc1", new Linear(c, config.mlpHidden(), true));
            fc2 = mlp.register_module("fc2", new Linear(config.mlpHidden(), c, true));
            if (config.layerScale() > 0) {
                gamma1 = layerScale(keep(containers, register_module("ls1", new Module())), c, config.layerScale());
                gamma2 = layerScale(keep(containers, register_module("ls2", new Module())), c, config.layerScale());
            } else {
                gamma1 = gamma2 = null;
            }
            dropPath = config.dropPathOf(index);
            // BEiT's fix_init_weight: the residual branches' output projections divided by sqrt(2 * layer_id)
            try (NoGradGuard noGrad = new NoGradGuard()) {
                attn.proj.weight().div_(Tensors.scalar(Math.sqrt(2.0 * (index + 1))));
                fc2.weight().div_(Tensors.scalar(Math.sqrt(2.0 * (index + 1))));
            }
        }

        Tensor forward(Tensor x, Tensor sharedBias) {
            x = x.add(residual(attn.forward(norm1.forward(x), sharedBias), gamma1));
            return x.add(residual(fc2.forward(torch.gelu(fc1.forward(norm2.forward(x)))), gamma2));
        }

        /** {@code drop_path(gamma * branch)}. */
        private Tensor residual(Tensor branch, Tensor gamma) {
            if (gamma != null) branch = branch.mul(gamma);
            if (dropPath == 0 || !is_training()) return branch;
            double keep = 1 - dropPath;
            // float32 on the branch's device (a CPU mask would not multiply a CUDA branch)
            Tensor keepMask = branch.new_empty(new long[] {branch.size(0), 1, 1}, new TensorOptions(ScalarType.Float))
                    .bernoulli_(keep, new GeneratorOptional());
            return branch.mul(keepMask.div_(Tensors.scalar(keep)));
        }

        private static Tensor layerScale(Module owner, int width, double init) {
            Tensor gamma = torch.full(new long[] {width}, Tensors.scalar(init));
            owner.register_parameter("gamma", gamma);
            return gamma;
        }
    }

    /**
     * Multi-head self-attention with a fused q/k/v projection ({@code attn.qkv}, {@code attn.proj}), timm's fused
     * bias or BEiT's q and v biases, and BEiT's relative position bias (its own table, or the shared one passed in).
     */
    static final class Attention extends Module {
        private final int heads;
        private final double scale;
        private final AttentionKernel kernel;
        private final Linear qkv;
        private final Linear proj;
        private final Tensor qBias;
        private final Tensor vBias;
        private final Tensor kBiasZeros;
        private final RelativePositionBias relativePosition;

        Attention(VitConfig config) {
            int width = config.width();
            this.heads = config.heads();
            this.scale = Math.pow(width / (double) heads, -0.5);
            this.kernel = config.attention();
            qkv = register_module("qkv", new Linear(width, 3 * width, config.qkvBias() == QkvBias.QKV));
            if (config.qkvBias() == QkvBias.QV) {
                qBias = torch.zeros(new long[] {width});
                vBias = torch.zeros(new long[] {width});
                kBiasZeros = torch.zeros(new long[] {width});
                register_parameter("q_bias", qBias);
                register_parameter("v_bias", vBias);
            } else {
                qBias = vBias = kBiasZeros = null;
            }
            proj = register_module("proj", new Linear(width, width, true));
            relativePosition = config.relativePosition() == RelativePosition.PER_BLOCK
                    ? new RelativePositionBias(this, config.gridSize(), heads) : null;
        }

        Tensor forward(Tensor x, Tensor sharedBias) {
            long b = x.size(0), t = x.size(1), c = x.size(2);
            Tensor[] qkv = project(x);
            Tensor bias = bias(sharedBias);
            Tensor out;
            if (kernel == AttentionKernel.SDPA) {
                TensorOptional mask = bias == null ? new TensorOptional() : new TensorOptional(bias.unsqueeze(0));
                out = torch.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask, 0.0, false,
                        new DoubleOptional(), false);
            } else {
                out = softmax(qkv[0], qkv[1], bias).matmul(qkv[2]);
            }
            return proj.forward(out.transpose(1, 2).reshape(new long[] {b, t, c}));
        }

        /** The attention weights [B, H, T, T] (always the explicit path). */
        Tensor weights(Tensor x, Tensor sharedBias) {
            Tensor[] qkv = project(x);
            return softmax(qkv[0], qkv[1], bias(sharedBias));
        }

        /** q, k, v as [B, H, T, C/H] each. */
        private Tensor[] project(Tensor x) {
            long b = x.size(0), t = x.size(1), c = x.size(2);
            Tensor out = qBias == null ? qkv.forward(x)
                    : torch.linear(x, qkv.weight(), new TensorOptional(torch.cat(new TensorVector(qBias, kBiasZeros, vBias))));
            Tensor split = out.reshape(new long[] {b, t, 3, heads, c / heads}).permute(new long[] {2, 0, 3, 1, 4});
            return new Tensor[] {split.select(0, 0), split.select(0, 1), split.select(0, 2)};
        }

        /** The relative position bias [H, T, T] (own table, plus the shared one), or null. */
        private Tensor bias(Tensor sharedBias) {
            Tensor own = relativePosition == null ? null : relativePosition.bias();
            if (own == null) return sharedBias;
            return sharedBias == null ? own : own.add(sharedBias);
        }

        /** {@code softmax(q * scale @ k^T + bias)}, as timm's non-fused path and BEiT. */
        private Tensor softmax(Tensor q, Tensor k, Tensor bias) {
            Tensor logits = q.mul(Tensors.scalar(scale)).matmul(k.transpose(-2, -1));
            if (bias != null) logits = logits.add(bias.unsqueeze(0));
            return torch.softmax(logits, -1);
        }
    }
}
