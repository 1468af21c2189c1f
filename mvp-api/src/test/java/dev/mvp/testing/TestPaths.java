package dev.mvp.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where tests find the repository and the shared real images ({@code ../shared/data} next to the checkout). */
public final class TestPaths {
    private TestPaths() {}

    /** The repository root: the {@code mvp.repo.root} property Maven sets, or the nearest folder with mvp-api/. */
    public static Path repoRoot() {
        String p = System.getProperty("mvp.repo.root");
        if (p != null && !p.isBlank()) return Path.of(p).toAbsolutePath().normalize();
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("mvp-api"))) dir = dir.getParent();
        if (dir == null) throw new IllegalStateException("cannot find the repository root from " + Path.of("").toAbsolutePath());
        return dir;
    }

    /**
     * The shared data folder: {@code $MVP_SHARED_DATA} if set, else {@code <repo>/../shared/data}. Fails loudly when
     * it is missing: tests on real images must not silently pass without them.
     */
    public static Path sharedData() {
        String env = System.getenv("MVP_SHARED_DATA");
        Path dir = env != null && !env.isBlank() ? Path.of(env) : repoRoot().resolve("../shared/data").normalize();
        if (!Files.isDirectory(dir.resolve("cifar10")) || !Files.isDirectory(dir.resolve("imagenet-sample"))) {
            throw new IllegalStateException("shared data not found at " + dir
                    + " (expected cifar10/ and imagenet-sample/; set MVP_SHARED_DATA to its location)");
        }
        return dir;
    }

    /** A committed test fixture: {@code <repo>/fixtures/<relative>}. */
    public static Path fixture(String relative) {
        Path p = repoRoot().resolve("fixtures").resolve(relative);
        if (!Files.exists(p)) throw new IllegalStateException("missing fixture " + p + " (see fixtures/README.md)");
        return p;
    }
}
