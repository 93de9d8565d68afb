package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelCacheTest {
    private final List<String> compiled = new ArrayList<>();

    private byte[] compile(String name, String source, List<String> options) {
        compiled.add(name + " " + options);
        return (source + "|" + String.join(" ", options)).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void keyDependsOnSourceOptionsArchitectureAndCompilerVersion() {
        String k = KernelCache.key("src", List.of("-DA=1"), "sm_90a", "nvrtc 13.0");
        assertEquals(64, k.length());
        assertEquals(k, KernelCache.key("src", List.of("-DA=1"), "sm_90a", "nvrtc 13.0"));
        assertNotEquals(k, KernelCache.key("src2", List.of("-DA=1"), "sm_90a", "nvrtc 13.0"));
        assertNotEquals(k, KernelCache.key("src", List.of("-DA=2"), "sm_90a", "nvrtc 13.0"));
        assertNotEquals(k, KernelCache.key("src", List.of("-DA=1"), "sm_89", "nvrtc 13.0"));
        assertNotEquals(k, KernelCache.key("src", List.of("-DA=1"), "sm_90a", "nvrtc 12.9"));
        // options are kept apart, so two options never read as one
        assertNotEquals(KernelCache.key("s", List.of("-DA", "B"), "x", "v"), KernelCache.key("s", List.of("-DAB"), "x", "v"));
    }

    @Test
    void aSecondStartReadsTheDiskInsteadOfCompiling(@TempDir Path dir) {
        KernelCache first = new KernelCache(dir, this::compile, "v1");
        byte[] a = first.get("gemv.cu", "source", List.of("-DW=1"), "sm_90a");
        byte[] again = first.get("gemv.cu", "source", List.of("-DW=1"), "sm_90a");
        assertArrayEquals(a, again);
        assertEquals(1, first.misses());
        assertEquals(1, first.hits());

        KernelCache second = new KernelCache(dir, this::compile, "v1");
        assertArrayEquals(a, second.get("gemv.cu", "source", List.of("-DW=1"), "sm_90a"));
        assertEquals(0, second.misses());
        assertEquals(1, compiled.size());

        second.get("gemv.cu", "source", List.of("-DW=2"), "sm_90a"); // another define: another binary
        new KernelCache(dir, this::compile, "v2").get("gemv.cu", "source", List.of("-DW=1"), "sm_90a"); // new compiler
        assertEquals(3, compiled.size());
    }

    @Test
    void anEmptyOrTruncatedEntryIsCompiledAgain(@TempDir Path dir) throws Exception {
        KernelCache cache = new KernelCache(dir, this::compile, "v1");
        byte[] a = cache.get("ops.cu", "source", List.of(), "sm_90a");
        Path file = cache.file("ops.cu", KernelCache.key("source", List.of(), "sm_90a", "v1"));
        Files.write(file, new byte[0]);
        assertArrayEquals(a, new KernelCache(dir, this::compile, "v1").get("ops.cu", "source", List.of(), "sm_90a"));
        assertEquals(2, compiled.size());
    }

    @Test
    void cacheFolderIsBitcapCacheElseTheHomeCache() {
        assertEquals(Path.of("/x/cuda"), KernelCache.defaultDir("/x", "/home/u"));
        assertEquals(Path.of("/home/u/.cache/bitcap/cuda"), KernelCache.defaultDir(null, "/home/u"));
        assertEquals(Path.of("/home/u/.cache/bitcap/cuda"), KernelCache.defaultDir("", "/home/u"));
    }

    @Test
    void prewarmCompilesWhatEarlierRunsNeededOnceTheSourcesChanged(@TempDir Path dir) {
        KernelCache first = new KernelCache(dir, this::compile, "v1");
        first.get("gemv.cu", "old gemv", List.of("-DW=1"), "sm_90a");
        first.get("gemv.cu", "old gemv", List.of("-DW=2"), "sm_90a");
        first.get("ops.cu", "ops", List.of(), "sm_90a");
        first.get("gone.cu", "gone", List.of(), "sm_90a");
        assertEquals(4, first.manifest().size());
        compiled.clear();

        // gemv.cu changed, ops.cu did not, gone.cu no longer exists
        java.util.Map<String, String> now = java.util.Map.of("gemv.cu", "new gemv", "ops.cu", "ops");
        KernelCache second = new KernelCache(dir, this::compile, "v1");
        assertEquals(2, second.prewarm(now::get, "sm_90a", 3));
        assertEquals(List.of("gemv.cu [-DW=1]", "gemv.cu [-DW=2]"), compiled.stream().sorted().toList());
        assertEquals(2, second.prewarmed());
        second.get("gemv.cu", "new gemv", List.of("-DW=2"), "sm_90a"); // now a hit
        assertEquals(0, second.misses());
        assertEquals(0, second.prewarm(now::get, "sm_90a", 3), "nothing left to compile");
        assertEquals(4, second.manifest().size(), "the manifest keeps each pair once");
    }

    @Test
    void aTornManifestLineIsSkipped(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(KernelCache.MANIFEST), "gemv.cu\t-DW=1\nge");
        assertEquals(List.of(List.of("gemv.cu", "-DW=1")), new KernelCache(dir, this::compile, "v1").manifest());
    }

    @Test
    void aModuleThatDoesNotCompileIsLeftForTheRunThatNeedsIt(@TempDir Path dir) {
        new KernelCache(dir, this::compile, "v1").get("bad.cu", "old", List.of(), "sm_90a");
        KernelCache cache = new KernelCache(dir, (name, source, options) -> {
            throw new CudaException("kernel bad.cu does not compile:\nerror: x");
        }, "v1");
        assertEquals(0, cache.prewarm(f -> "new", "sm_90a", 2));
        assertEquals(0, cache.misses());
    }
}
