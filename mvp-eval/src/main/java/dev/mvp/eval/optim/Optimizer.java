package dev.mvp.eval.optim;

import dev.mvp.api.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

/**
 * A first-order optimiser over {@link Param}s whose per-step learning rate is given by the caller (schedules live
 * outside). Implemented with tensor ops so that each matches its PyTorch reference formula exactly, including the
 * per-parameter learning-rate scale that layer-wise decay needs. The state tensors (momenta) are made at
 * construction: build an optimiser outside any PointerScope. {@link #step} may run inside the training step's scope.
 */
public abstract class Optimizer {
    protected final List<Param> params;
    protected final List<Tensor[]> state = new ArrayList<>();
    protected long steps;

    protected Optimizer(List<Param> params, int stateTensors) {
        Torch.init();
        if (PointerScope.getInnerScope() != null) {
            throw new IllegalStateException("build the optimiser outside any PointerScope: its state is long-lived");
        }
        this.params = List.copyOf(params);
        for (Param p : this.params) {
            Tensor[] s = new Tensor[stateTensors];
            for (int i = 0; i < stateTensors; i++) s[i] = torch.zeros_like(p.tensor());
            state.add(s);
        }
    }

    public List<Param> params() {
        return params;
    }

    /** Steps taken so far. */
    public long steps() {
        return steps;
    }

    /** Applies one update with base learning rate {@code lr} (times each parameter's scale). Skips params without grad. */
    public final void step(double lr) {
        steps++;
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (int i = 0; i < params.size(); i++) {
                Param p = params.get(i);
                Tensor g = p.tensor().grad();
                if (g == null || g.isNull() || !g.defined()) continue;
                update(p, g, state.get(i), lr * p.lrScale());
            }
        }
    }

    /** Clears every parameter's gradient (sets it to zero, as {@code zero_grad(set_to_none=False)}). */
    public final void zeroGrad() {
        try (PointerScope scope = new PointerScope()) {
            for (Param p : params) {
                Tensor g = p.tensor().grad();
                if (g != null && !g.isNull() && g.defined()) g.zero_();
            }
        }
    }

    /** Updates {@code p} in place from gradient {@code g} with learning rate {@code lr}. */
    protected abstract void update(Param p, Tensor g, Tensor[] state, double lr);

    /** Frees the state tensors. */
    public void close() {
        for (Tensor[] s : state) for (Tensor t : s) t.close();
    }
}
