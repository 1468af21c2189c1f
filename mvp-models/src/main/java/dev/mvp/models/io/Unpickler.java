package dev.mvp.models.io;

import dev.mvp.models.io.PickleAllowlist.Kind;
import dev.mvp.models.io.Pickled.Global;
import dev.mvp.models.io.Pickled.Instance;
import dev.mvp.models.io.Pickled.Storage;
import dev.mvp.models.io.Pickled.TensorRef;
import dev.mvp.models.io.Pickled.Tuple;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pickle virtual machine that builds data and never runs code: the opcodes of protocols 2 to 5 that carry data
 * (no {@code INST}/{@code OBJ}, no text-mode protocol 0, no out-of-band buffers), and only the globals of a
 * {@link PickleAllowlist}, each with a fixed Java meaning. Everything read is bounds-checked against the pickle's
 * bytes; a violation is a {@link Refusal} naming the opcode and its byte offset.
 */
final class Unpickler {

    /** Resolves a persistent id ({@code BINPERSID}): torch's storages, and classes in legacy files. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid);
    }

    /** Why a pickle was refused; the reader adds the file and the position. */
    static final class Refusal extends RuntimeException {
        Refusal(String message) {
            super(message, null, false, false);
        }
    }

    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE_BE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Longer integers than this are not tensor metadata: refuse rather than build huge BigIntegers. */
    private static final int MAX_LONG_BYTES = 64;
    private static final int MAX_RANK = 64;
    private static final Object MARK = new Object();

    private final MemorySegment bytes;
    private final long start;
    private final long end;
    private final PickleAllowlist allowlist;
    private final PersistentLoader persistentLoader;
    private final List<Object> stack = new ArrayList<>();
    private final Deque<Integer> marks = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long pos;
    private long opcodeAt;

    Unpickler(MemorySegment bytes, long start, long end, PickleAllowlist allowlist, PersistentLoader persistentLoader) {
        this.bytes = bytes;
        this.start = start;
        this.end = end;
        this.allowlist = allowlist;
        this.persistentLoader = persistentLoader;
        this.pos = start;
    }

    /** The offset, relative to the pickle's first byte, of the opcode being (or last) executed. */
    long opcodeOffset() {
        return opcodeAt - start;
    }

    /** Where the next pickle starts: the byte after {@code STOP}. */
    long position() {
        return pos;
    }

    /** Runs the pickle to its {@code STOP} and returns the value it leaves. */
    Object load() {
        while (true) {
            opcodeAt = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int protocol = u8();
                    if (protocol < 2 || protocol > 5) throw new Refusal("pickle protocol " + protocol + " is not supported (2 to 5 are)");
                }
                case 0x95 -> { // FRAME: a length hint only
                    long frame = i64();
                    if (frame < 0 || frame > end - pos) throw new Refusal("frame of " + frame + " bytes runs past the end");
                }
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> { // MARK
                    marks.push(stack.size());
                    stack.add(MARK);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) i32()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (read(SHORT_LE, 2) & 0xffff)); // BININT2
                case 0x8a -> push(longOf(u8())); // LONG1
                case 0x8b -> push(longOf(i32())); // LONG4
                case 'G' -> push(read(DOUBLE_BE, 8)); // BINFLOAT
                case 'X' -> push(utf8(u32())); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(i64())); // BINUNICODE8
                case 'T' -> push(latin1(i32())); // BINSTRING (Python 2 str)
                case 'U' -> push(latin1(u8())); // SHORT_BINSTRING
                case 'B' -> push(raw(u32())); // BINBYTES
                case 'C' -> push(raw(u8())); // SHORT_BINBYTES
                case 0x8e -> push(raw(i64())); // BINBYTES8
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 0x85 -> push(tupleOf(1)); // TUPLE1
                case 0x86 -> push(tupleOf(2)); // TUPLE2
                case 0x87 -> push(tupleOf(3)); // TUPLE3
                case 't' -> push(new Tuple(popMark())); // TUPLE
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'a' -> { // APPEND
                    Object v = pop();
                    listAt(peek()).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    listAt(peek()).addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                case 'd' -> { // DICT
                    Map<Object, Object> map = new LinkedHashMap<>();
                    putPairs(map, popMark());
                    push(map);
                }
                case 's' -> { // SETITEM
                    Object value = pop(), key = pop();
                    mapAt(peek()).put(key, value);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(mapAt(peek()), items);
                }
                case 0x8f -> push(new LinkedHashSet<>()); // EMPTY_SET
                case 0x90 -> { // ADDITEMS
                    List<Object> items = popMark();
                    setAt(peek()).addAll(items);
                }
                case 0x91 -> push(java.util.Collections.unmodifiableSet(new LinkedHashSet<>(popMark()))); // FROZENSET
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(u32(), peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(u32())); // LONG_BINGET
                case 'c' -> push(global(line(), line())); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw new Refusal("STACK_GLOBAL needs two strings, got " + describe(module) + " and " + describe(name));
                    }
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoader.load(pop())); // BINPERSID
                case 'R' -> { // REDUCE
                    Object args = pop(), callable = pop();
                    push(reduce(callable, args));
                }
                case 0x81 -> { // NEWOBJ
                    Object args = pop(), cls = pop();
                    push(reduce(cls, args));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                default -> throw new Refusal(String.format("pickle opcode 0x%02x%s is not allowed (only the opcodes "
                        + "that carry data are)", op, op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : ""));
            }
        }
    }

    // ---- globals and calls ------------------------------------------------------------------------------------------

    private Global global(String module, String name) {
        String m = module.equals("__builtin__") ? "builtins" : module; // protocol 2 writes Python 2's module name
        Global g = new Global(m, name);
        if (allowlist.kind(g.qualifiedName()) == null) {
            throw new Refusal("forbidden global '" + g.qualifiedName() + "': only tensors, storages, ordered dicts, "
                    + "lists, tuples, sets and primitives are read (and nothing is ever executed)");
        }
        return g;
    }

    private Object reduce(Object callable, Object argsObject) {
        if (!(callable instanceof Global g)) throw new Refusal("cannot call " + describe(callable) + ": only allowlisted globals");
        if (!(argsObject instanceof Tuple args)) throw new Refusal("arguments of " + g + " are " + describe(argsObject) + ", not a tuple");
        Kind kind = allowlist.kind(g.qualifiedName());
        return switch (kind) {
            case ORDERED_DICT -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                if (args.size() == 1) {
                    for (Object pair : iterable(args.get(0), g)) {
                        if (!(pair instanceof Tuple t && t.size() == 2) && !(pair instanceof List<?> l && l.size() == 2)) {
                            throw new Refusal(g + " item is " + describe(pair) + ", not a (key, value) pair");
                        }
                        List<?> kv = pair instanceof Tuple t ? t.items() : (List<?>) pair;
                        map.put(kv.get(0), kv.get(1));
                    }
                } else if (args.size() != 0) {
                    throw new Refusal(g + " takes at most one argument, got " + args.size());
                }
                yield map;
            }
            case SET, FROZENSET -> {
                Set<Object> set = new LinkedHashSet<>();
                if (args.size() == 1) set.addAll(iterable(args.get(0), g));
                else if (args.size() != 0) throw new Refusal(g + " takes at most one argument, got " + args.size());
                yield kind == Kind.SET ? set : java.util.Collections.unmodifiableSet(set);
            }
            case REBUILD_TENSOR -> rebuildTensor(g, args);
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                int expected = kind == Kind.REBUILD_PARAMETER ? 3 : 4;
                if (args.size() != expected || !(args.get(0) instanceof TensorRef t) || !(args.get(1) instanceof Boolean grad)) {
                    throw new Refusal(g + " needs (tensor, requires_grad, hooks" + (expected == 4 ? ", state" : "")
                            + "), got " + describe(args));
                }
                yield new TensorRef(t.storage(), t.offset(), t.shape(), t.strides(), grad);
            }
            case INERT -> new Instance(g.qualifiedName(), args);
            case STORAGE -> throw new Refusal(g + " may only appear in a storage's persistent id");
        };
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private TensorRef rebuildTensor(Global g, Tuple args) {
        String tensor = tensorLabel();
        if (args.size() < 6 || args.size() > 7 || !(args.get(0) instanceof Storage storage)) {
            throw new Refusal(tensor + ": " + g + " needs (storage, offset, size, stride, requires_grad, hooks[, metadata]), got "
                    + describe(args));
        }
        long offset = nonNegative(args.get(1), tensor + " storage offset");
        long[] shape = longs(args.get(2), tensor, "size");
        long[] strides = longs(args.get(3), tensor, "stride");
        if (shape.length != strides.length) {
            throw new Refusal(tensor + " of storage " + storage.key() + ": size has " + shape.length + " dimensions but stride "
                    + strides.length);
        }
        if (!(args.get(4) instanceof Boolean requiresGrad)) throw new Refusal(tensor + ": " + g + " requires_grad is " + describe(args.get(4)));
        try {
            long last = offset, numel = 1;
            for (int i = 0; i < shape.length; i++) {
                numel = Math.multiplyExact(numel, shape[i]);
                if (shape[i] > 0) last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, strides[i]));
            }
            Math.multiplyExact(numel, storage.dtype().size());
            if (numel > 0 && last >= storage.numel()) {
                throw new Refusal(tensor + " of size " + java.util.Arrays.toString(shape) + ", stride "
                        + java.util.Arrays.toString(strides) + " at offset " + offset + " reaches element " + last
                        + " of storage " + storage.key() + ", which has " + storage.numel());
            }
        } catch (ArithmeticException e) {
            throw new Refusal(tensor + " of size " + java.util.Arrays.toString(shape) + " and stride "
                    + java.util.Arrays.toString(strides) + " overflows 64-bit indexing");
        }
        return new TensorRef(storage, offset, shape, strides, requiresGrad);
    }

    /**
     * {@code tensor '<key>'} when the tensor being rebuilt is a dict value (a state dict entry, a module's parameter):
     * pickle pushes the key, then the value's callable ({@code _rebuild_tensor_v2}, maybe inside
     * {@code _rebuild_parameter}); so the nearest value below those callables is the key. Plain {@code tensor}
     * otherwise.
     */
    private String tensorLabel() {
        for (int i = stack.size() - 1; i >= 0; i--) {
            Object o = stack.get(i);
            if (o instanceof Global) continue;
            return o instanceof String key ? "tensor '" + (key.length() > 200 ? key.substring(0, 200) + "..." : key) + "'" : "tensor";
        }
        return "tensor";
    }

    private void build(Object target, Object state) {
        if (target instanceof Instance instance) {
            instance.setState(state);
        } else if (target instanceof Map<?, ?> && (state instanceof Map<?, ?> || state instanceof Tuple)) {
            // the instance attributes of an OrderedDict (a state dict's _metadata): not items, not needed
        } else {
            throw new Refusal("cannot set the state of " + describe(target));
        }
    }

    // ---- stack ---------------------------------------------------------------------------------------------------------

    private void push(Object v) {
        stack.add(v);
    }

    private Object pop() {
        if (stack.isEmpty() || stack.getLast() == MARK) throw new Refusal("stack underflow");
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.isEmpty() || stack.getLast() == MARK) throw new Refusal("stack underflow");
        return stack.getLast();
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw new Refusal("no MARK on the stack");
        int at = marks.pop();
        List<Object> items = new ArrayList<>(stack.subList(at + 1, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Tuple tupleOf(int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) items[i] = pop();
        return new Tuple(java.util.Arrays.asList(items));
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) throw new Refusal("memo entry " + index + " was never stored");
        return memo.get(index);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> listAt(Object o) {
        if (o instanceof ArrayList<?> list) return (List<Object>) list;
        throw new Refusal("cannot append to " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> mapAt(Object o) {
        if (o instanceof LinkedHashMap<?, ?> map) return (Map<Object, Object>) map;
        throw new Refusal("cannot set items of " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private static Set<Object> setAt(Object o) {
        if (o instanceof LinkedHashSet<?> set) return (Set<Object>) set;
        throw new Refusal("cannot add items to " + describe(o));
    }

    private static void putPairs(Map<Object, Object> map, List<Object> items) {
        if (items.size() % 2 != 0) throw new Refusal("odd number of items for a dict (" + items.size() + ")");
        for (int i = 0; i < items.size(); i += 2) {
            Object key = items.get(i);
            if (key instanceof Collection<?> || key instanceof Map<?, ?>) throw new Refusal("unhashable dict key " + describe(key));
            map.put(key, items.get(i + 1));
        }
    }

    private static Collection<?> iterable(Object o, Global g) {
        if (o instanceof Tuple t) return t.items();
        if (o instanceof Collection<?> c) return c;
        throw new Refusal(g + " argument is " + describe(o) + ", not a list or tuple");
    }

    private static long nonNegative(Object o, String what) {
        if (o instanceof Long v && v >= 0) return v;
        if (o instanceof BigInteger) throw new Refusal(what + " is " + describe(o) + ", which does not fit in 64 bits");
        throw new Refusal(what + " is " + describe(o) + ", not a non-negative integer");
    }

    private static long[] longs(Object o, String tensor, String what) {
        if (!(o instanceof Tuple t)) throw new Refusal(tensor + " " + what + " is " + describe(o) + ", not a tuple");
        if (t.size() > MAX_RANK) throw new Refusal(tensor + " " + what + " has " + t.size() + " dimensions (at most " + MAX_RANK + ")");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (t.get(i) instanceof Long v && v < 0) {
                throw new Refusal(tensor + " " + what + " " + t.items() + " has a negative entry " + v
                        + (what.equals("size") ? " (negative dimension)" : ""));
            }
            out[i] = nonNegative(t.get(i), tensor + " " + what + " entry " + i);
        }
        return out;
    }

    /** A short description of a value for messages (never its full contents). */
    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof String s) return "'" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        if (o instanceof Long || o instanceof Boolean || o instanceof Double || o instanceof BigInteger) return o.toString();
        if (o instanceof Tuple t) return "a tuple of " + t.size();
        if (o instanceof List<?> l) return "a list of " + l.size();
        if (o instanceof Map<?, ?> m) return "a dict of " + m.size();
        if (o instanceof Set<?> s) return "a set of " + s.size();
        if (o instanceof byte[] b) return b.length + " bytes";
        if (o instanceof Global g) return "global " + g;
        if (o instanceof Instance i) return "an object of " + i.className();
        if (o instanceof TensorRef) return "a tensor";
        if (o instanceof Storage s) return "storage " + s.key();
        return o.getClass().getSimpleName();
    }

    // ---- bytes ---------------------------------------------------------------------------------------------------------

    private void need(long n) {
        if (n < 0 || n > end - pos) throw new Refusal("truncated: " + n + " more bytes needed, " + (end - pos) + " left");
    }

    private int u8() {
        need(1);
        return bytes.get(ValueLayout.JAVA_BYTE, pos++) & 0xff;
    }

    private int i32() {
        return read(INT_LE, 4);
    }

    private long u32() {
        return i32() & 0xffffffffL;
    }

    private long i64() {
        return read(LONG_LE, 8);
    }

    private int read(ValueLayout.OfInt layout, int n) {
        need(n);
        int v = bytes.get(layout, pos);
        pos += n;
        return v;
    }

    private short read(ValueLayout.OfShort layout, int n) {
        need(n);
        short v = bytes.get(layout, pos);
        pos += n;
        return v;
    }

    private long read(ValueLayout.OfLong layout, int n) {
        need(n);
        long v = bytes.get(layout, pos);
        pos += n;
        return v;
    }

    private double read(ValueLayout.OfDouble layout, int n) {
        need(n);
        double v = bytes.get(layout, pos);
        pos += n;
        return v;
    }

    private byte[] raw(long n) {
        need(n);
        if (n > Integer.MAX_VALUE - 8) throw new Refusal("a " + n + "-byte string is too long");
        byte[] out = new byte[(int) n];
        MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, pos, out, 0, out.length);
        pos += n;
        return out;
    }

    private String utf8(long n) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(raw(n))).toString();
        } catch (CharacterCodingException e) {
            throw new Refusal("a string is not valid UTF-8");
        }
    }

    private String latin1(long n) {
        return new String(raw(n), StandardCharsets.ISO_8859_1);
    }

    /** A text line of GLOBAL: printable ASCII up to a newline. */
    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') return sb.toString();
            if (c < 0x20 || c >= 0x7f || sb.length() > 256) throw new Refusal("malformed GLOBAL name");
            sb.append((char) c);
        }
    }

    /** A little-endian two's-complement integer of {@code n} bytes (LONG1/LONG4). */
    private Object longOf(long n) {
        if (n > MAX_LONG_BYTES) throw new Refusal("a " + n + "-byte integer is larger than any tensor metadata");
        byte[] le = raw(n);
        if (n == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }
}
