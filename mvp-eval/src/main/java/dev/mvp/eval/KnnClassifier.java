package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The weighted k-nearest-neighbour classifier of DINO's {@code eval_knn.py} ({@code knn_classifier}), the protocol
 * MAE, iBOT and the MIM papers report as "k-NN":
 * <pre>
 * features L2-normalised (F.normalize, eps 1e-12)        train [N, D], test [M, D]
 * similarity = test @ train^T                            cosine similarity [M, N]
 * the k most similar training images, sorted             (values s_1 >= ... >= s_k, their labels)
 * vote of class c = sum over neighbours of class c of exp(s_i / T)
 * classes ranked by vote, descending                      top-1 = first, top-5 = any of the first min(5, k)
 * </pre>
 * with DINO's defaults k = 20 and T = 0.07. Two details DINO leaves to {@code torch.sort}'s unstable order are fixed
 * here: classes with equal votes (in practice: the classes with no vote at all, which matter for top-5 when fewer
 * than 5 classes got votes) rank by class index, lowest first, and the vote vector has {@code numClasses} entries
 * (DINO always allocates 1000; classes without images get no votes either way). Several k share one top-k search.
 */
public final class KnnClassifier {
    /** DINO's {@code --nb_knn} recommendation: "20 is usually working the best". */
    public static final int DEFAULT_K = 20;
    /** DINO's {@code --temperature}. */
    public static final double DEFAULT_TEMPERATURE = 0.07;
    /** Test rows per similarity block (memory: rows x N floats). */
    private static final int DEFAULT_CHUNK = 256;

    private KnnClassifier() {}

    /**
     * The outcome for one k.
     *
     * @param predictions the top-1 class of each test image
     * @param top5        per test image, the first {@code min(5, numClasses)} ranked classes
     * @param top1        percent of test images whose top-1 class is their label
     * @param top5Acc     percent whose label is among the first {@code min(5, k)} ranked classes (DINO's top-5)
     */
    public record Result(int k, double temperature, int images, int[] predictions, int[][] top5, double top1,
                         double top5Acc) {
        public Result {
            predictions = predictions.clone();
        }

        @Override public int[] predictions() {
            return predictions.clone();
        }
    }

    /** {@link #evaluate(FeatureSet, FeatureSet, int[], double, int)} with one k. */
    public static Result evaluate(FeatureSet train, FeatureSet test, int k, double temperature) {
        return evaluate(train, test, new int[] {k}, temperature, Math.max(train.numClasses(), test.numClasses())).get(0);
    }

    /**
     * Classifies every row of {@code test} by its neighbours in {@code train}, for each k of {@code ks}.
     *
     * @throws IllegalArgumentException if a label is missing (-1) or out of range, the dimensions differ, or a k is
     *                                  not in [1, train size]
     */
    public static List<Result> evaluate(FeatureSet train, FeatureSet test, int[] ks, double temperature, int numClasses) {
        Torch.init();
        if (train.dim() != test.dim()) {
            throw new IllegalArgumentException("train features have dimension " + train.dim() + ", test features " + test.dim());
        }
        if (!(temperature > 0)) throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        if (ks.length == 0) throw new IllegalArgumentException("no k given");
        int maxK = 0;
        for (int k : ks) {
            if (k < 1 || k > train.size()) {
                throw new IllegalArgumentException("k = " + k + " must be in [1, " + train.size() + "] (the training set size)");
            }
            maxK = Math.max(maxK, k);
        }
        checkLabels("train", train.labels(), numClasses);
        checkLabels("test", test.labels(), numClasses);
        int m = test.size();
        int[][] predictions = new int[ks.length][m];
        int[][][] top5 = new int[ks.length][m][];
        long[] correct1 = new long[ks.length], correct5 = new long[ks.length];
        int[] testLabels = test.labels();
        try (PointerScope outer = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor trainT = normalize(train.features()).t();                 // [D, N]
            long[] tl = new long[train.size()];
            for (int i = 0; i < tl.length; i++) tl[i] = train.label(i);
            Tensor trainLabels = Tensors.ofLongs(tl, tl.length);
            for (int start = 0; start < m; start += DEFAULT_CHUNK) {
                int b = Math.min(DEFAULT_CHUNK, m - start);
                try (PointerScope scope = new PointerScope()) {
                    Tensor q = normalize(test.features().narrow(0, start, b));
                    Tensor similarity = q.mm(trainT);                         // [b, N]
                    T_TensorTensor_T top = similarity.topk(maxK, 1, true, true);
                    Tensor distances = top.get0(), indices = top.get1();
                    Tensor neighbours = trainLabels.index_select(0, indices.reshape(new long[] {-1})).view(new long[] {b, maxK});
                    Tensor weights = distances.div(new Scalar(temperature)).exp();
                    for (int ki = 0; ki < ks.length; ki++) {
                        int k = ks[ki];
                        Tensor votes = torch.zeros(new long[] {b, numClasses})
                                .scatter_add_(1, neighbours.narrow(1, 0, k), weights.narrow(1, 0, k));
                        float[] v = Tensors.toFloats(votes);
                        for (int r = 0; r < b; r++) {
                            int[] ranked = rank(v, r * numClasses, numClasses);
                            int label = testLabels[start + r];
                            predictions[ki][start + r] = ranked[0];
                            top5[ki][start + r] = Arrays.copyOf(ranked, Math.min(5, numClasses));
                            if (ranked[0] == label) correct1[ki]++;
                            for (int j = 0; j < Math.min(5, Math.min(k, numClasses)); j++) {
                                if (ranked[j] == label) correct5[ki]++;
                            }
                        }
                    }
                }
            }
        }
        List<Result> out = new ArrayList<>();
        for (int ki = 0; ki < ks.length; ki++) {
            out.add(new Result(ks[ki], temperature, m, predictions[ki], top5[ki],
                    m == 0 ? Double.NaN : 100.0 * correct1[ki] / m, m == 0 ? Double.NaN : 100.0 * correct5[ki] / m));
        }
        return out;
    }

    /** {@code x / max(||x||_2, 1e-12)} per row, as {@code F.normalize(x, dim=1, p=2)}. */
    static Tensor normalize(Tensor x) {
        Tensor norm = x.mul(x).sum(new long[] {1}, true, new ScalarTypeOptional()).sqrt().clamp_min(new Scalar(1e-12));
        return x.div(norm);
    }

    /**
     * Class indices of {@code v[offset .. offset + n)} by value, descending; equal values by index, ascending (the
     * order of a stable descending sort). Used for every top-k accuracy in this module.
     */
    public static int[] rank(float[] v, int offset, int n) {
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, c) -> {
            int cmp = Float.compare(v[offset + c], v[offset + a]);
            return cmp != 0 ? cmp : Integer.compare(a, c);
        });
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = order[i];
        return out;
    }

    private static void checkLabels(String which, int[] labels, int numClasses) {
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException(which + " image " + i + " has label " + labels[i] + ", outside [0, "
                        + numClasses + "): k-NN needs labelled images of known classes");
            }
        }
    }
}
