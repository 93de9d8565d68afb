package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.cuda.NoCudaDriver;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a machine without a CUDA driver says (CI has none; on a GPU machine these are skipped). */
class CliCudaWithoutGpuTest {
    @BeforeAll
    static void onlyWithoutADriver() {
        NoCudaDriver.assume();
    }

    @Test
    void deviceCudaIsOneLineAndExitTwo() {
        CliRunner.run("logits", "--device", "cuda", "--ids", "1,2").assertUserError("no CUDA driver: could not load libcuda.so.1");
    }

    @Test
    void gpuRanksWithoutADriverAreOneLineBeforeAnyWorkerStarts() {
        CliRunner.run("logits", "--gpus", "2", "--ids", "1,2").assertUserError("no CUDA driver");
        CliRunner.run("logits", "--gpus", "2", "--ranks-per-gpu", "2", "--ids", "1,2").assertUserError("no CUDA driver");
    }

    @Test
    void checkSaysThereIsNoGpuAndExitsTwo() {
        CliRunner.run("check", "--device", "cuda").assertUserError("no CUDA driver");
    }

    @Test
    void checkNamesTheFixturesWhenOneIsUnknown() {
        CliRunner.run("check", "--fixture", "tiny-mixtral,tiny-mixtrall").assertUserError(
                "unknown fixture 'tiny-mixtrall' (fixtures: tiny-llama, tiny-mixtral, tiny-qwen2moe, tiny-qwen3moe)");
    }

    @Test
    void checkRejectsANonPositivePrefillLengthBeforeTheDevice() {
        CliRunner.run("check", "--prefill-only", "--prefill-bench", "--prefill-lengths", "8192,0").assertUserError(
                "--prefill-lengths takes positive lengths, not 0");
    }

    @Test
    void autoFallsBackToTheCpuWithANote() {
        CliRunner r = CliRunner.run("logits", "--device", "auto", "--ids", "1,2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().strip().startsWith("bitcap: --device auto: running on the CPU (no CUDA driver"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.out().contains("position 1"), r.out());
    }

    @Test
    void hwOnCudaIsOneLineAndExitTwo() {
        CliRunner.run("hw", "--device", "cuda").assertUserError("no CUDA driver");
    }

    @Test
    void hwAutoMeasuresTheCpuAndSaysWhyTheGpuWasNot() {
        CliRunner r = CliRunner.run("hw", "--quick", "--max-chase-mb", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("gpu: not probed: no CUDA driver") && r.out().contains("STREAM triad"), r.out());
    }

    @Test
    void checkNamesTheGemvVariantsWhenOneIsUnknown() {
        CliRunner.run("check", "--gemv-variants", "--gemv-variant-kinds", "wide,tma").assertUserError(
                "unknown GEMV variant 'tma' (variants: wide, async, persist, tc, bulk)");
    }

    @Test
    void anExplicitLibraryFolderIsNamedInTheError() {
        CliRunner.run("logits", "--device", "cuda", "--cuda-lib-dir", "/nonexistent/cuda", "--ids", "1")
                .assertUserError("looked in /nonexistent/cuda, ");
    }
}
