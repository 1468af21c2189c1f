package dev.mvp.models;

import dev.mvp.api.Backbone;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.nn.Init;
import dev.mvp.models.nn.LayerNorm;
import dev.mvp.models.nn.Linear;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

/**
 * The student: a Vision Transformer in timm's layout, with BEiT's learnable mask token.
 *
 * <pre>
 * images [B,3,H,W] -> patch_embed.proj (conv p x p, stride p) -> [B,N,C]
 *   masked patches replaced by mask_token           (x = x * (1 - w) + mask_token * w, as BEiT)
 *   prepend cls_token, add pos_embed [1, 1+N, C]
 *   blocks: x + attn(norm1(x)), x + mlp(norm2(x))   (pre-LayerNorm, GELU MLP)
 *   norm -> [B, 1+N, C]
 * </pre>
 * Parameter names are timm's ({@code patch_embed.proj.weight}, {@code cls_token}, {@code pos_embed},
 * {@code blocks.0.norm1.weight}, {@code blocks.0.attn.qkv.weight}, ..., {@code norm.bias}) plus {@code mask_token}.
 * Initialisation follows BEiT's pre-training model: truncated normal std 0.02 for tokens, position embedding and
 * linear weights, zero biases, unit LayerNorms, and each block's output projections rescaled by 1/sqrt(2 layer).
 */
public final class VisionTransformer extends Module implements Backbone {
    private final VitConfig config;
    private final Tensor patchWeight;
    private final Tensor patchBias;
    private final Tensor clsToken;
    private final Tensor posEmbed;
    private final Tensor maskToken;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNorm norm;

    private VisionTransformer(VitConfig config) {
        Torch.init();
        this.config = config;
        int c = config.width(), p = config.patchSize();
        Module patchEmbed = new Module();
        Module proj = new Module();
        patchWeight = Init.pytorchDefault(new long[] {c, 3, p, p}, 3L * p * p);
        patchBias = Init.pytorchDefault(new long[] {c}, 3L * p * p);
        proj.register_parameter("weight", patchWeight);
        proj.register_parameter("bias", patchBias);
        patchEmbed.register_module("proj", proj);
        register_module("patch_embed", patchEmbed);

        clsToken = Init.truncNormal(new long[] {1, 1, c}, 0.02);
        posEmbed = Init.truncNormal(new long[] {1, 1 + config.numPatches(), c}, 0.02);
        maskToken = Init.truncNormal(new long[] {1, 1, c}, 0.02);
        register_parameter("cls_token", clsToken);
        register_parameter("pos_embed", posEmbed);
        register_parameter("mask_token", maskToken);

        Module blockList = new Module();
        for (int i = 0; i < config.depth(); i++) {
            Block block = new Block(config, i + 1);
            blocks.add(block);
            blockList.register_module(Integer.toString(i), block);
        }
        register_module("blocks", blockList);
        norm = register_module("norm", new LayerNorm(c, config.layerNormEps()));
    }

    /** A randomly initialised network (seed libtorch with {@code torch.manual_seed} first for reproducibility). */
    public static VisionTransformer create(VitConfig config) {
        return new VisionTransformer(config);
    }

    public VitConfig config() {
        return config;
    }

    @Override public Tensor forward(Tensor images, Tensor mask) {
        Tensor x = embed(images, mask);
        for (Block block : blocks) x = block.forward(x);
        return norm.forward(x);
    }

    /**
     * The token sequence entering the first block: patch embeddings with masked ones replaced by the mask token,
     * the CLS token prepended, position embeddings added. [B, 1 + N, C].
     */
    public Tensor embed(Tensor images, Tensor mask) {
        checkInput(images, mask);
        int c = config.width();
        long b = images.size(0);
        // [B, C, g, g] -> [B, N, C]
        Tensor x = torch.conv2d(images, patchWeight, new TensorOptional(patchBias),
                        new long[] {config.patchSize(), config.patchSize()}, new long[] {0, 0}, new long[] {1, 1}, 1)
                .flatten(2, 3).transpose(1, 2);
        if (mask != null) {
            Tensor w = mask.unsqueeze(-1).to(x.scalar_type());
            x = x.mul(w.neg().add(Tensors.scalar(1))).add(maskToken.mul(w));
        }
        Tensor cls = clsToken.expand(new long[] {b, 1, c});
        return torch.cat(new org.bytedeco.pytorch.TensorVector(cls, x), 1).add(posEmbed);
    }

    private void checkInput(Tensor images, Tensor mask) {
        long[] s = Tensors.shape(images);
        if (s.length != 4 || s[1] != 3 || s[2] != config.imageSize() || s[3] != config.imageSize()) {
            throw new IllegalArgumentException("expected images [B, 3, " + config.imageSize() + ", " + config.imageSize()
                    + "], got " + java.util.Arrays.toString(s));
        }
        if (mask != null) {
            long[] m = Tensors.shape(mask);
            if (m.length != 2 || m[0] != s[0] || m[1] != config.numPatches()) {
                throw new IllegalArgumentException("expected mask [" + s[0] + ", " + config.numPatches() + "], got "
                        + java.util.Arrays.toString(m));
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

    /** Pre-LN transformer block: {@code x + attn(norm1(x))}, then {@code x + mlp(norm2(x))}. */
    static final class Block extends Module {
        private final LayerNorm norm1;
        private final Attention attn;
        private final LayerNorm norm2;
        private final Linear fc1;
        private final Linear fc2;

        Block(VitConfig config, int layerId) {
            int c = config.width();
            norm1 = register_module("norm1", new LayerNorm(c, config.layerNormEps()));
            attn = register_module("attn", new Attention(c, config.heads(), config.qkvBias()));
            norm2 = register_module("norm2", new LayerNorm(c, config.layerNormEps()));
            Module mlp = new Module();
            fc1 = mlp.register_module("fc1", new Linear(c, config.mlpHidden(), true));
            fc2 = mlp.register_module("fc2", new Linear(config.mlpHidden(), c, true));
            register_module("mlp", mlp);
            // BEiT's fix_init_weight: rescale the residual branches' output projections by 1/sqrt(2 * layer_id)
            double rescale = 1.0 / Math.sqrt(2.0 * layerId);
            attn.proj.weight().detach().mul_(Tensors.scalar(rescale));
            fc2.weight().detach().mul_(Tensors.scalar(rescale));
        }

        Tensor forward(Tensor x) {
            x = x.add(attn.forward(norm1.forward(x)));
            return x.add(fc2.forward(torch.gelu(fc1.forward(norm2.forward(x)))));
        }
    }

    /** Multi-head self-attention with a fused qkv projection (timm's {@code attn.qkv}, {@code attn.proj}). */
    static final class Attention extends Module {
        private final int heads;
        private final double scale;
        private final Linear qkv;
        private final Linear proj;

        Attention(int width, int heads, boolean qkvBias) {
            this.heads = heads;
            this.scale = Math.pow(width / (double) heads, -0.5);
            qkv = register_module("qkv", new Linear(width, 3 * width, qkvBias));
            proj = register_module("proj", new Linear(width, width, true));
        }

        Tensor forward(Tensor x) {
            long b = x.size(0), t = x.size(1), c = x.size(2);
            // [B, T, 3C] -> [3, B, H, T, C/H]
            Tensor qkvOut = qkv.forward(x).reshape(new long[] {b, t, 3, heads, c / heads}).permute(new long[] {2, 0, 3, 1, 4});
            Tensor q = qkvOut.select(0, 0).mul(Tensors.scalar(scale));
            Tensor k = qkvOut.select(0, 1);
            Tensor v = qkvOut.select(0, 2);
            Tensor attn = torch.softmax(q.matmul(k.transpose(-2, -1)), -1);
            Tensor out = attn.matmul(v).transpose(1, 2).reshape(new long[] {b, t, c});
            return proj.forward(out);
        }
    }
}
