package dev.mvp.api;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Boots libtorch once per JVM, safely, and sets its thread count.
 *
 * <p>Call {@link #init()} before touching any {@code org.bytedeco.pytorch} class; every factory in this library
 * does. Two traps of the bytedeco presets are handled here (see docs/LIBTORCH-NOTES.md):
 * <ul>
 *   <li>On a fresh {@code ~/.javacpp/cache}, JavaCPP extracts and loads {@code libtorch.so} before
 *       {@code libtorch_cpu.so} is on disk, so the dynamic linker resolves it elsewhere (a system libtorch if one is
 *       installed) and the JVM dies with SIGSEGV. We extract the whole native folder first.</li>
 *   <li>OpenBLAS is loaded before libtorch and would bind the system {@code libgomp.so.1}, after which libtorch loads
 *       its own copy: two OpenMP runtimes in one process. We load libtorch's {@code libgomp.so.1} first so that
 *       both bind the same one.</li>
 * </ul>
 * It also makes libgomp's idle threads wait passively unless {@code OMP_WAIT_POLICY} is set (see
 * {@code preferPassiveOpenMpWaiting}).
 */
public final class Torch {
    private static volatile boolean loaded;

    private Torch() {}

    /** Loads libtorch (idempotent, thread-safe). */
    public static void init() {
        if (loaded) return;
        synchronized (Torch.class) {
            if (loaded) return;
            preferPassiveOpenMpWaiting();
            try {
                // the CPU jar keeps its libraries under <platform>/, the GPU jar under <platform>-gpu/
                for (String extension : new String[] {"", "-gpu"}) {
                    String folder = "/org/bytedeco/pytorch/" + Loader.getPlatform() + extension + "/";
                    if (Torch.class.getResource(folder + "libjnitorch.so") == null) continue;
                    for (File dir : Loader.cacheResources(folder)) {
                        File gomp = new File(dir, "libgomp.so.1");
                        if (gomp.isFile()) System.load(gomp.getAbsolutePath());
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot extract libtorch's native libraries into the JavaCPP cache "
                        + "(set -Dorg.bytedeco.javacpp.cachedir to a writable folder): " + e.getMessage(), e);
            }
            Loader.load(torch.class);
            loaded = true;
        }
    }

    /**
     * Sets {@code OMP_WAIT_POLICY=PASSIVE} in the process environment, unless the user set a policy, before libgomp
     * is loaded (it reads the variable once, then). With libgomp's default, its idle workers spin after every
     * parallel region and take the cores OpenBLAS's threads need for the matmuls that follow: a ViT-Ti/16 training
     * step (batch 8, 2 threads on 2 cores) took 2.0-2.4 s instead of 0.53-0.62 s (docs/BENCHMARKS.md, Backbone).
     * Set {@code OMP_WAIT_POLICY=ACTIVE} to get spinning back on machines with cores to spare.
     */
    private static void preferPassiveOpenMpWaiting() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            try (Arena arena = Arena.ofConfined()) {
                // overwrite = 0: a policy set by the user stays; setenv copies the strings
                int ignored = (int) setenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"), arena.allocateFrom("PASSIVE"), 0);
            }
        } catch (Throwable e) {
            // no setenv (not a POSIX libc): libgomp keeps its default policy, which is only slower
        }
    }

    /**
     * Sets the number of threads for libtorch's intra-op pool and for OpenBLAS's own pool (libtorch's
     * {@code set_num_threads} does not reach the bundled OpenBLAS, which runs the matmuls).
     */
    public static void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        init();
        torch.set_num_threads(threads);
        org.bytedeco.openblas.global.openblas.blas_set_num_threads(threads);
    }

    /** libtorch's intra-op thread count. */
    public static int threads() {
        init();
        return torch.get_num_threads();
    }
}
