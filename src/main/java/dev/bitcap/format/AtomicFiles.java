package dev.bitcap.format;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files and directories so that an interrupted run leaves the old version or none, never half of
 * one: the content is built under a temporary name beside the target and renamed into place.
 */
public final class AtomicFiles {
    /** Produces the content at {@code temp}. */
    @FunctionalInterface
    public interface IoWriter {
        void write(Path temp) throws IOException;
    }

    /** Temp files and directories being written now: a JVM stopped by a signal (Ctrl-C) deletes them on its way out. */
    private static final Set<Path> IN_PROGRESS = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(AtomicFiles::deleteInProgress, "bitcap-temp-cleanup"));
    }

    private AtomicFiles() {}

    private static void deleteInProgress() {
        // The writer thread keeps running while shutdown hooks do, so a directory may gain a file during the walk.
        for (int attempt = 0; attempt < 5 && !IN_PROGRESS.isEmpty(); attempt++) {
            for (Path p : IN_PROGRESS) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    deleteRecursivelyQuietly(p);
                } else {
                    deleteQuietly(p);
                }
                if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) IN_PROGRESS.remove(p);
            }
        }
    }

    /**
     * Runs {@code writer} on a temp path beside {@code target} (the temp file exists, empty, when the writer
     * starts), then atomically renames it onto {@code target}, replacing any old file. On failure the temp is
     * deleted and the target is left as it was. Missing parent directories are created.
     */
    public static void write(Path target, IoWriter writer) {
        Path parent = parentOf(target);
        Path temp = null;
        try {
            Files.createDirectories(parent);
            temp = createSibling(parent, target, ".tmp", false);
            IN_PROGRESS.add(temp);
            writer.write(temp);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            IN_PROGRESS.remove(temp);
            temp = null;
        } catch (IOException e) {
            throw new BitcapException(target + ": cannot write (" + e + ")", e);
        } finally {
            if (temp != null) {
                deleteQuietly(temp);
                IN_PROGRESS.remove(temp);
            }
        }
    }

    /**
     * Runs {@code writer} on a fresh temp directory beside {@code target}, then renames it to {@code target}.
     * An existing target is a {@link BitcapException} unless {@code replace}; when replacing, the old
     * directory is first renamed aside and deleted once the new one is in place (restored if that fails).
     */
    public static void writeDirectory(Path target, boolean replace, IoWriter writer) {
        if (!replace && Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new BitcapException(target + ": already exists");
        }
        Path parent = parentOf(target);
        Path temp = null;
        try {
            Files.createDirectories(parent);
            temp = createSibling(parent, target, ".tmp", true);
            IN_PROGRESS.add(temp);
            writer.write(temp);
            moveDirectoryIntoPlace(temp, target, replace, parent);
            IN_PROGRESS.remove(temp);
            temp = null;
        } catch (IOException e) {
            throw new BitcapException(target + ": cannot write (" + e + ")", e);
        } finally {
            if (temp != null) {
                deleteRecursivelyQuietly(temp);
                IN_PROGRESS.remove(temp);
            }
        }
    }

    private static void moveDirectoryIntoPlace(Path built, Path target, boolean replace, Path parent) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        if (!replace) {
            throw new BitcapException(target + ": already exists"); // it appeared while the writer ran
        }
        // rename(2) cannot replace a non-empty directory, so the old one steps aside first.
        Path old = createSibling(parent, target, ".old", true);
        Files.delete(old);
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        try {
            Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
            throw e;
        }
        deleteRecursivelyQuietly(old);
    }

    /**
     * A new hidden file or directory named after {@code target}. Unlike {@code Files.createTempFile} it gets
     * the usual permissions (umask), which the renamed result keeps.
     */
    private static Path createSibling(Path parent, Path target, String suffix, boolean directory) throws IOException {
        for (int attempt = 0; ; attempt++) {
            String random = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
            Path candidate = parent.resolve("." + target.getFileName() + "." + random + suffix);
            try {
                return directory ? Files.createDirectory(candidate) : Files.createFile(candidate);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            }
        }
    }

    private static Path parentOf(Path target) {
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || target.getFileName() == null) {
            throw new BitcapException(target + ": cannot write to the root directory");
        }
        return parent;
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: the original failure is what the caller needs to see
        }
    }

    static void deleteRecursivelyQuietly(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // best effort: the original failure is what the caller needs to see
        }
    }
}
