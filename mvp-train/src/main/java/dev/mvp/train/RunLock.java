package dev.mvp.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The exclusive lock of a run folder, {@code RUN/.lock}, held by the one run (or resumption) that writes it: a second
 * run, resumption or rewind of a folder in use is refused with {@link InUseException} (exit 1 on the command line),
 * naming the folder and the holder's pid (written into the lock file). The lock is the operating system's
 * ({@link FileChannel#tryLock()}), so it is released however its process ends, SIGKILL included; within one JVM,
 * where such locks are per process, a second holder is refused too ({@link OverlappingFileLockException} is mapped to
 * the same error). The file itself stays (deleting it would race with a process about to lock it); a fresh run that
 * fails before its first step removes it with the rest of what it wrote.
 */
public final class RunLock implements AutoCloseable {
    /** The name of the lock file inside a run folder. */
    public static final String FILE = ".lock";

    /** A run folder locked by another run. */
    public static final class InUseException extends IllegalStateException {
        InUseException(String message) {
            super(message);
        }
    }

    private final FileChannel channel;
    private final FileLock lock;

    private RunLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code runDir} (creating it if needed), or throws {@link InUseException} when another run holds it. */
    public static RunLock acquire(Path runDir) {
        Path file = runDir.resolve(FILE);
        FileChannel channel = null;
        try {
            Files.createDirectories(runDir);
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException sameJvm) {
                lock = null;
            }
            if (lock == null) {
                String pid = holder(channel);
                channel.close();
                throw new InUseException("run folder " + runDir + " is in use by another process"
                        + (pid.isEmpty() ? "" : " (pid " + pid + ")"));
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
            return new RunLock(channel, lock);
        } catch (IOException e) {
            try {
                if (channel != null) channel.close();
            } catch (IOException ignored) {
                // the lock error is what matters
            }
            throw new UncheckedIOException("cannot lock run folder " + runDir + ": " + Checkpoints.reason(e), e);
        }
    }

    private static String holder(FileChannel channel) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            channel.read(b, 0);
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "";
        }
    }

    @Override public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }
}
