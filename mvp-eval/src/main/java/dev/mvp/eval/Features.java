package dev.mvp.eval;

import dev.mvp.api.Torch;
import dev.mvp.data.ImageDataset;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Batched feature extraction over a whole dataset. */
public final class Features {
    private Features() {}

    /**
     * The features of every image of {@code dataset}, in dataset order, computed in batches of {@code batchSize}
     * with {@code workers} decoding threads. Each batch runs in its own PointerScope. Call outside any scope: the
     * result owns a long-lived tensor.
     */
    public static FeatureSet extract(FeatureExtractor extractor, ImageDataset dataset, int batchSize, int workers,
                                     String phase, Progress progress) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("extract features outside any PointerScope: the result is long-lived");
        }
        int n = dataset.size();
        Tensor all = torch.empty(new long[] {n, extractor.dim()});
        int[] labels = new int[n];
        try (EvalImages images = new EvalImages(dataset, extractor.transform(), batchSize, workers)) {
            int done = 0;
            while (images.hasNext()) {
                EvalImages.Chunk chunk = images.next();
                try (PointerScope scope = new PointerScope()) {
                    Tensor f = extractor.extract(chunk.tensor());
                    if (f.dim() != 2 || f.size(0) != chunk.count() || f.size(1) != extractor.dim()) {
                        throw new IllegalStateException(extractor.describe() + " returned " + dev.mvp.api.Tensors.shapeString(f)
                                + " for " + chunk.count() + " images; expected [" + chunk.count() + ", " + extractor.dim() + "]");
                    }
                    all.narrow(0, chunk.start(), chunk.count()).copy_(f);
                }
                System.arraycopy(chunk.labels(), 0, labels, chunk.start(), chunk.count());
                done += chunk.count();
                progress.update(phase, done, n);
            }
        } catch (RuntimeException e) {
            all.close();
            throw e;
        }
        return new FeatureSet(all, labels, dataset.classes());
    }
}
