package dev.mvp.train;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One writer per run folder: while a run holds {@code RUN/.lock}, a second run or a resumption of the folder is
 * refused naming the folder and the holder's pid, and the folder is left as it was; in this JVM (an overlapping lock)
 * and from another process (a child JVM holding it).
 */
@Tag("e2e")
class RunLockTest {

    @Test
    void aSecondRunOrResumeOfALockedFolderIsRefusedInThisJvm(@TempDir Path tmp) throws Exception {
        PretrainConfig a = RunFolderTest.config(tmp.resolve("A"));
        RunFolderTest.run(a, null);
        var before = RewindValidationTest.snapshot(a.out());
        String pid = Long.toString(ProcessHandle.current().pid());
        try (RunLock held = RunLock.acquire(a.out())) {
            assertThatThrownBy(() -> RunLock.acquire(a.out())).isInstanceOf(RunLock.InUseException.class);
            // a rewind to step 2 would delete steps 3 and 4
            assertThatThrownBy(() -> RunFolderTest.run(a, a.out().resolve("checkpoints/step-00000002")))
                    .isInstanceOf(RunLock.InUseException.class)
                    .hasMessage("run folder " + a.out() + " is in use by another process (pid " + pid + ")");
            assertThatThrownBy(() -> RunFolderTest.run(a, null)).isInstanceOf(RunLock.InUseException.class);
            assertThat(RewindValidationTest.snapshot(a.out())).isEqualTo(before);
        }
        // released: the folder can be locked again, and a failed fresh run's lock file goes with its folder
        RunLock.acquire(a.out()).close();
        Path fresh = tmp.resolve("fresh");
        assertThatThrownBy(() -> RunFolderTest.run(RunFolderTest.config(RunFolderTest.config(tmp.resolve("fresh")).data(),
                fresh).batchSize(100000).build(), null)).hasMessageContaining("fewer images than one batch");
        assertThat(fresh).doesNotExist();
    }

    /** The child: holds the lock of args[0] until its stdin closes. */
    public static void main(String[] args) throws Exception {
        try (RunLock lock = RunLock.acquire(Path.of(args[0]))) {
            System.out.println("LOCKED");
            System.out.flush();
            System.in.read();
        }
    }

    @Test
    void aFolderLockedByAnotherProcessIsRefusedNamingItsPid(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("R");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), RunLockTest.class.getName(),
                run.toString()).redirectErrorStream(true).start();
        try {
            var reader = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
            assertThat(reader.readLine()).isEqualTo("LOCKED");
            assertThatThrownBy(() -> RunLock.acquire(run)).isInstanceOf(RunLock.InUseException.class)
                    .hasMessage("run folder " + run + " is in use by another process (pid " + child.pid() + ")");
        } finally {
            child.getOutputStream().close();
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        RunLock.acquire(run).close();
        assertThat(Files.readString(run.resolve(RunLock.FILE)).strip()).isEqualTo(Long.toString(ProcessHandle.current().pid()));
    }
}
