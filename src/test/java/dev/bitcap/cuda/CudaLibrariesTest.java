package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.Test;

class CudaLibrariesTest {
    @Test
    void explicitFolderComesFirstThenTheLoaderThenTheUsualFolders() {
        List<String> got = CudaLibraries.candidates(List.of("libnvrtc.so.13", "libnvrtc.so.12"), "/opt/cuda/lib").stream()
                .map(CudaLibraries.Candidate::toString).toList();
        assertEquals(List.of(
                "/opt/cuda/lib/libnvrtc.so.13", "/opt/cuda/lib/libnvrtc.so.12",
                "libnvrtc.so.13", "libnvrtc.so.12",
                "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.12",
                "/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.12",
                "/usr/local/nvidia/lib64/libnvrtc.so.13", "/usr/local/nvidia/lib64/libnvrtc.so.12",
                "/usr/lib/x86_64-linux-gnu/libnvrtc.so.13", "/usr/lib/x86_64-linux-gnu/libnvrtc.so.12"), got);
    }

    @Test
    void withoutAnExplicitFolderTheLoaderIsAskedFirst() {
        var got = CudaLibraries.candidates(CudaLibraries.DRIVER, null);
        assertEquals("libcuda.so.1", got.get(0).toString());
        assertTrue(!got.get(0).isPath() && got.get(1).isPath());
        assertEquals(1 + CudaLibraries.STANDARD_DIRS.size(), got.size());
    }

    @Test
    void theOptionWinsOverTheVariableAndBlankMeansUnset() {
        assertEquals("/a", CudaLibraries.explicitDir("/a", "/b"));
        assertEquals("/b", CudaLibraries.explicitDir(null, "/b"));
        assertEquals("/b", CudaLibraries.explicitDir(" ", "/b"));
        assertNull(CudaLibraries.explicitDir(null, ""));
    }

    @Test
    void aLibraryFoundNowhereIsOneLineNamingItAndWhereItWasLooked() {
        BitcapException e = assertThrows(BitcapException.class,
                () -> CudaLibraries.load("CUDA driver", List.of("libbitcap-absent.so.1"), Arena.global()));
        assertTrue(e.getMessage().startsWith("no CUDA driver: could not load libbitcap-absent.so.1 (looked in "), e.getMessage());
        assertTrue(e.getMessage().contains("/usr/local/nvidia/lib64") && e.getMessage().contains("BITCAP_CUDA_LIB_DIR"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }
}
