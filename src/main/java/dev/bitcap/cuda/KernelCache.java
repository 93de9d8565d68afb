package dev.bitcap.cuda;

import dev.bitcap.format.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Compiled kernels on disk, so that the second start does not compile again. The key is a SHA-256 over the source,
 * the compile options (defines included), the target architecture and the compiler's version; a file is written
 * atomically and a file that cannot be read is compiled again. The compiler is passed in, so the cache is testable
 * without a GPU.
 */
public final class KernelCache {
    /** Turns source into a binary (NVRTC on a GPU machine, a stub in tests). */
    @FunctionalInterface
    public interface Compiler {
        byte[] compile(String name, String source, List<String> options);
    }

    private final Path dir;
    private final Compiler compiler;
    private final String compilerVersion;
    private int hits, misses;
    private long compileNanos;

    public KernelCache(Path dir, Compiler compiler, String compilerVersion) {
        this.dir = dir;
        this.compiler = compiler;
        this.compilerVersion = compilerVersion;
    }

    /** {@code $BITCAP_CACHE/cuda}, else {@code ~/.cache/bitcap/cuda}. */
    public static Path defaultDir(String cacheVariable, String userHome) {
        Path root = cacheVariable != null && !cacheVariable.isBlank() ? Path.of(cacheVariable) : Path.of(userHome, ".cache", "bitcap");
        return root.resolve("cuda");
    }

    static String key(String source, List<String> options, String arch, String compilerVersion) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : List.of(source, String.join("\u0001", options), arch, compilerVersion)) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The file a kernel with this key is kept in. */
    Path file(String name, String key) {
        return dir.resolve(name.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + key.substring(0, 32) + ".cubin");
    }

    /** The binary for {@code source} compiled with {@code options} for {@code arch}: from disk, or compiled and stored. */
    public synchronized byte[] get(String name, String source, List<String> options, String arch) {
        Path f = file(name, key(source, options, arch, compilerVersion));
        if (Files.isRegularFile(f)) {
            try {
                byte[] cached = Files.readAllBytes(f);
                if (cached.length > 0) {
                    hits++;
                    return cached;
                }
            } catch (IOException unreadable) {
                // compile again below
            }
        }
        long start = System.nanoTime();
        byte[] binary = compiler.compile(name, source, options);
        compileNanos += System.nanoTime() - start;
        misses++;
        try {
            AtomicFiles.write(f, tmp -> Files.write(tmp, binary));
        } catch (RuntimeException unwritable) {
            // a read-only cache costs a compile next time, nothing more
        }
        return binary;
    }

    public synchronized int hits() {
        return hits;
    }

    public synchronized int misses() {
        return misses;
    }

    /** Time spent compiling (cache misses) so far. */
    public synchronized long compileNanos() {
        return compileNanos;
    }

    public Path dir() {
        return dir;
    }
}
