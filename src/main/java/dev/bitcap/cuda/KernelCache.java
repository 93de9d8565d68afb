package dev.bitcap.cuda;

import dev.bitcap.format.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.nio.file.StandardOpenOption;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Compiled kernels on disk, so that the second start does not compile again. The key is a SHA-256 over the source,
 * the compile options (defines included), the target architecture and the compiler's version; a file is written
 * atomically and a file that cannot be read is compiled again. The compiler is passed in, so the cache is testable
 * without a GPU. Every compile also appends its file name and options to {@code manifest.tsv}, so that
 * {@link #prewarm} can compile what an earlier run needed, in parallel, once the sources have changed.
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
        store(f, binary, name, options);
        return binary;
    }

    private void store(Path f, byte[] binary, String name, List<String> options) {
        try {
            AtomicFiles.write(f, tmp -> Files.write(tmp, binary));
            Files.writeString(dir.resolve(MANIFEST), manifestLine(name, options), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (RuntimeException | IOException unwritable) {
            // a read-only cache costs a compile next time, nothing more
        }
    }

    static final String MANIFEST = "manifest.tsv";

    static String manifestLine(String name, List<String> options) {
        return name + "\t" + String.join("\t", options) + "\n";
    }

    /** The (file, options) pairs compiled into this cache before, first seen first; torn or blank lines are skipped. */
    List<List<String>> manifest() {
        Set<List<String>> entries = new LinkedHashSet<>();
        try {
            for (String line : Files.readAllLines(dir.resolve(MANIFEST), StandardCharsets.UTF_8)) {
                List<String> parts = List.of(line.split("\t", -1));
                if (parts.size() >= 2 && parts.get(0).endsWith(".cu")) entries.add(parts);
            }
        } catch (IOException none) {
            return List.of();
        }
        return new ArrayList<>(entries);
    }

    /**
     * Compiles, on {@code threads} threads, every module of the manifest that the cache lacks for the current sources
     * ({@code sourceOf}: file name to source, null when the file is gone): after the sources changed, the modules an
     * earlier run needed are compiled side by side instead of one by one as the run reaches them. A module that does
     * not compile is skipped here (the run that needs it reports NVRTC's log). Returns how many this call compiled.
     */
    public int prewarm(Function<String, String> sourceOf, String arch, int threads) {
        List<Runnable> jobs = new ArrayList<>();
        for (List<String> entry : manifest()) {
            String name = entry.get(0), source = sourceOf.apply(name);
            List<String> options = entry.subList(1, entry.size()).stream().filter(o -> !o.isEmpty()).toList();
            if (source == null) continue;
            Path f = file(name, key(source, options, arch, compilerVersion));
            if (Files.isRegularFile(f)) continue;
            jobs.add(() -> {
                long start = System.nanoTime();
                byte[] binary;
                try {
                    binary = compiler.compile(name, source, options);
                } catch (RuntimeException doesNotCompile) {
                    return; // left for the run that needs it, which reports NVRTC's log where it is used
                }
                synchronized (this) {
                    compileNanos += System.nanoTime() - start;
                    prewarmed++;
                    store(f, binary, name, options);
                }
            });
        }
        if (jobs.isEmpty()) return 0;
        int before = prewarmed();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, jobs.size())));
        try {
            List<Future<?>> done = new ArrayList<>();
            for (Runnable j : jobs) done.add(pool.submit(j));
            for (Future<?> d : done) d.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("kernel prewarm interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return prewarmed() - before;
    }

    private int prewarmed;

    /** Modules compiled by {@link #prewarm} so far. */
    public synchronized int prewarmed() {
        return prewarmed;
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
