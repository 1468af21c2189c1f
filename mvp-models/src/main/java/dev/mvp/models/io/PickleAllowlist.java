package dev.mvp.models.io;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The module-level names ("globals") a restricted pickle may reference, and what each one means to the reader.
 * Any other global is refused before anything else happens, with its name in the message. No global is ever
 * imported or called: each allowed one has a fixed Java meaning.
 *
 * <p>{@link #STATE_DICTS}, the default, admits what {@code torch.save} writes for state dicts and training
 * checkpoints:
 * <ul>
 *   <li>{@code torch._utils._rebuild_tensor_v2}, {@code _rebuild_parameter}, {@code _rebuild_parameter_with_state}:
 *       a tensor ({@link Pickled.TensorRef});</li>
 *   <li>{@code torch.FloatStorage}, {@code torch.HalfStorage}, ... (one per dtype): the storage types inside the
 *       storages' persistent ids;</li>
 *   <li>{@code collections.OrderedDict}: a map; {@code builtins.set}, {@code builtins.frozenset}: a set;</li>
 *   <li>{@code argparse.Namespace}: the {@code args} that DINO, BEiT and MAE checkpoints carry, as an inert
 *       {@link Pickled.Instance}.</li>
 * </ul>
 * {@link #withInertClasses} admits more classes as inert instances, for files that pickle whole modules (DALL-E's
 * {@code encoder.pkl}): the object's class name and {@code __dict__} are kept as data, its code is never run.
 */
public final class PickleAllowlist {

    /** What an allowed global means. */
    enum Kind { ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, STORAGE, SET, FROZENSET, INERT }

    /** Storage classes of {@code torch.save}'s persistent ids, by dtype. */
    private static final Map<String, Dtype> STORAGES = Map.ofEntries(
            Map.entry("torch.DoubleStorage", Dtype.F64), Map.entry("torch.FloatStorage", Dtype.F32),
            Map.entry("torch.HalfStorage", Dtype.F16), Map.entry("torch.BFloat16Storage", Dtype.BF16),
            Map.entry("torch.LongStorage", Dtype.I64), Map.entry("torch.IntStorage", Dtype.I32),
            Map.entry("torch.ShortStorage", Dtype.I16), Map.entry("torch.CharStorage", Dtype.I8),
            Map.entry("torch.ByteStorage", Dtype.U8), Map.entry("torch.BoolStorage", Dtype.BOOL));

    /** State dicts and training checkpoints: see the class comment. */
    public static final PickleAllowlist STATE_DICTS = defaults();

    private final Map<String, Kind> kinds;

    private PickleAllowlist(Map<String, Kind> kinds) {
        this.kinds = Collections.unmodifiableMap(kinds);
    }

    private static PickleAllowlist defaults() {
        Map<String, Kind> k = new LinkedHashMap<>();
        k.put("torch._utils._rebuild_tensor_v2", Kind.REBUILD_TENSOR);
        k.put("torch._utils._rebuild_parameter", Kind.REBUILD_PARAMETER);
        k.put("torch._utils._rebuild_parameter_with_state", Kind.REBUILD_PARAMETER_WITH_STATE);
        STORAGES.keySet().stream().sorted().forEach(s -> k.put(s, Kind.STORAGE));
        k.put("collections.OrderedDict", Kind.ORDERED_DICT);
        k.put("builtins.set", Kind.SET);
        k.put("builtins.frozenset", Kind.FROZENSET);
        k.put("argparse.Namespace", Kind.INERT);
        return new PickleAllowlist(k);
    }

    /** This list plus {@code classNames} ({@code module.Class}) admitted as inert instances. */
    public PickleAllowlist withInertClasses(String... classNames) {
        Map<String, Kind> k = new LinkedHashMap<>(kinds);
        for (String c : classNames) {
            if (c.indexOf('.') < 1) throw new IllegalArgumentException("expected module.Class, got '" + c + "'");
            k.putIfAbsent(c, Kind.INERT);
        }
        return new PickleAllowlist(k);
    }

    /** Every allowed global, {@code module.name}. */
    public Set<String> names() {
        return kinds.keySet();
    }

    /** What {@code qualifiedName} means, or null if it is not allowed. */
    Kind kind(String qualifiedName) {
        return kinds.get(qualifiedName);
    }

    /** The dtype of an allowed storage class. */
    static Dtype storageDtype(String qualifiedName) {
        return STORAGES.get(qualifiedName);
    }
}
