package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.tensor.DType;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SyntheticFixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sequences that decode together get the same results as alone; prefill and decode agree; passes are recorded. */
class BatchedDecodeTest {
    @TempDir static Path dir;

    @Test
    void prefillThenDecodeEqualsOneForwardOverAllTokens() {
        try (LoadedModel m = ModelLoader.load(SyntheticFixtures.hf("tiny-mixtral", DType.F32, dir), null);
             CpuBackend backend = new CpuBackend(m, PassRecorder.NONE)) {
            int[] ids = {256, 10, 20, 30, 40, 50, 60};
            float[] all = Models.allLogits(m, ids);
            Sequence seq = backend.newSequence(ids.length);
            backend.forward(List.of(seq), List.of(Arrays.copyOf(ids, 4)), false);
            int v = m.config().vocabSize();
            for (int t = 4; t < ids.length; t++) {
                float[] step = backend.forward(List.of(seq), List.of(new int[] {ids[t]}), false);
                double err = Models.maxAbsDiff(Arrays.copyOfRange(all, t * v, (t + 1) * v), step);
                assertTrue(err < 1e-4, "position " + t + " error " + err);
            }
        }
    }

    @Test
    void aBatchOfDifferentLengthsDecodesLikeEachSequenceAlone() {
        try (LoadedModel m = ModelLoader.load(SyntheticFixtures.hf("tiny-qwen2moe", DType.F32, dir), null)) {
            List<int[]> prompts = List.of(new int[] {256, 5, 6, 7, 8, 9}, new int[] {256, 100}, new int[] {256, 3, 4, 300});
            PassRecorder recorder = new PassRecorder();
            List<int[]> together;
            try (CpuBackend b = new CpuBackend(m, recorder)) {
                together = new Generator(b, 1024).generate(prompts, 8, SamplerSettings.GREEDY, Set.of(), (s, t) -> {}).tokens();
            }
            for (int i = 0; i < prompts.size(); i++) {
                try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                    int[] alone = new Generator(b, 1024).generate(List.of(prompts.get(i)), 8, SamplerSettings.GREEDY, Set.of(), (s, t) -> {})
                            .tokens().get(0);
                    assertArrayEquals(alone, together.get(i), "sequence " + i);
                }
            }
            List<PassRecord> records = recorder.records();
            assertEquals(8, records.size(), "one prefill and seven decode passes");
            PassRecord prefill = records.get(0);
            assertEquals(PassRecord.Mode.PREFILL, prefill.mode());
            assertEquals(3, prefill.batchSize());
            assertEquals(12, prefill.tokens());
            assertArrayEquals(new int[] {6, 2, 4}, prefill.contextLengths());
            assertEquals(12 * 2, prefill.routedExperts()[0].length, "top-2 experts of every token");
            PassRecord decode = records.get(1);
            assertEquals(PassRecord.Mode.DECODE, decode.mode());
            assertEquals(3, decode.tokens());
            assertArrayEquals(new int[] {7, 3, 5}, decode.contextLengths());
            assertTrue(decode.distinctExperts(0) >= 2 && decode.distinctExperts(0) <= 6);
        }
    }

    @Test
    void seededSamplingIsReproducibleAndTopKOneIsGreedy() {
        try (LoadedModel m = ModelLoader.load(SyntheticFixtures.hf("tiny-llama", DType.F32, dir), null)) {
            List<int[]> runs = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                    runs.add(new Generator(b, 1024).generate(List.of(new int[] {256, 40}), 12, new SamplerSettings(1.0f, 0, 0.9f, 123),
                            Set.of(), (s, t) -> {}).tokens().get(0));
                }
            }
            assertArrayEquals(runs.get(0), runs.get(1));
            int[] greedy, topK1;
            try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                greedy = new Generator(b, 1024).generate(List.of(new int[] {256, 40}), 12, SamplerSettings.GREEDY, Set.of(), (s, t) -> {}).tokens().get(0);
                topK1 = new Generator(b, 1024).generate(List.of(new int[] {256, 40}), 12, new SamplerSettings(1.5f, 1, 1f, 9), Set.of(), (s, t) -> {}).tokens().get(0);
            }
            assertArrayEquals(greedy, topK1);
        }
    }
}
