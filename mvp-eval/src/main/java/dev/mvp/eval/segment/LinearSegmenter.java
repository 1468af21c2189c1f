package dev.mvp.eval.segment;

import dev.mvp.api.Torch;
import dev.mvp.eval.optim.Param;
import dev.mvp.models.VisionTransformer;
import dev.mvp.models.nn.Linear;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * The light segmentation head for small runs: the ViT's patch tokens of its last block (after the final norm if the
 * model has one), a LayerNorm ({@code head.norm}), a linear classifier per patch ({@code head.linear}, the
 * equivalent of a 1x1 convolution), reshaped to the patch grid and bilinearly upsampled to the input
 * ({@code align_corners=False}), as the "linear" decoders of Segmenter and DINOv2 do. BEiT and MVP report ADE20K with
 * UperNet (multi-level features, a pyramid pooling module and an FPN): {@link UperNetSegmenter}.
 *
 * <p>Owns the backbone. Build outside any PointerScope.
 */
public final class LinearSegmenter extends Module implements Segmenter {
    private final VisionTransformer backbone;
    /** Containers kept reachable: train()/eval() call back into them (docs/LIBTORCH-NOTES.md). */
    private final Module headModule;
    private final Module normModule;
    private final Tensor normWeight;
    private final Tensor normBias;
    private final Linear linear;
    private final int classes;

    public LinearSegmenter(VisionTransformer backbone, int classes) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) throw new IllegalStateException("build the segmenter outside any PointerScope");
        this.backbone = backbone;
        this.classes = classes;
        register_module("backbone", backbone);
        headModule = register_module("head", new Module());
        normModule = headModule.register_module("norm", new Module());
        normWeight = torch.ones(new long[] {backbone.width()});
        normBias = torch.zeros(new long[] {backbone.width()});
        normModule.register_parameter("weight", normWeight);
        normModule.register_parameter("bias", normBias);
        linear = headModule.register_module("linear", new Linear(backbone.width(), classes, true));
        try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            dev.mvp.models.nn.Init.truncNormal_(linear.weight(), 0.02, -2, 2);
        }
    }

    @Override public Module module() {
        return this;
    }

    @Override public String describe() {
        return "light head (LayerNorm + linear per patch, bilinear upsampling)";
    }

    @Override public VisionTransformer backbone() {
        return backbone;
    }

    @Override public int classes() {
        return classes;
    }

    /** Per-pixel class logits {@code [B, classes, S, S]} of images {@code [B, 3, S, S]}. */
    @Override public Tensor forward(Tensor images) {
        return upsample(patchLogits(images), backbone.imageSize());
    }

    /** Logits on the patch grid {@code [B, classes, g, g]}. */
    public Tensor patchLogits(Tensor images) {
        int g = backbone.config().gridSize();
        Tensor tokens = backbone.forward(images, null);
        Tensor patches = tokens.narrow(1, 1, tokens.size(1) - 1);                 // [B, N, C]
        Tensor normed = torch.layer_norm(patches, new long[] {backbone.width()}, new org.bytedeco.pytorch.TensorOptional(normWeight),
                new org.bytedeco.pytorch.TensorOptional(normBias), 1e-6, true);
        Tensor logits = linear.forward(normed);                                    // [B, N, K]
        return logits.transpose(1, 2).reshape(new long[] {images.size(0), classes, g, g});
    }

    /** Bilinear, align_corners=False, to {@code size x size}. */
    static Tensor upsample(Tensor logits, int size) {
        return torch.upsample_bilinear2d(logits, new long[] {size, size}, false);
    }

    /** The head's parameters (lr scale 1, weight decay on the linear weight only), as handles of the module's own. */
    @Override public List<Param> headParams(double weightDecay) {
        return List.of(new Param("head.norm.weight", normWeight, 1, 0), new Param("head.norm.bias", normBias, 1, 0),
                new Param("head.linear.weight", linear.weight(), 1, weightDecay), new Param("head.linear.bias", linear.bias(), 1, 0));
    }
}
