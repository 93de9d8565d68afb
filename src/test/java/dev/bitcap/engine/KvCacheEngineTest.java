package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.kv.PagedKvCache;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.tensor.DType;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SyntheticFixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CPU backend with paged fp16 and low-bit KV caches. */
class KvCacheEngineTest {
    @TempDir static Path dir;
    private static Path tinyLlama;

    @org.junit.jupiter.api.BeforeAll
    static void writeModel() {
        tinyLlama = SyntheticFixtures.hf("tiny-llama", DType.F32, dir);
    }

    private static float[] logits(LoadedModel m, KvSpec spec, int[] ids) {
        try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
            b.useKv(spec, 64L << 20);
            return b.forward(List.of(b.newSequence(ids.length)), List.of(ids), true);
        }
    }

    private static int[] ids(int n, int vocab, long seed) {
        return new SplittableRandom(seed).ints(n, 0, vocab).toArray();
    }

    /** Fewer than g positions never leave the fp32 residual block: the logits are the f32 cache's, bit for bit. */
    @Test
    void positionsInTheResidualBlockGiveTheF32Logits() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            int[] ids = ids(31, m.config().vocabSize(), 1);
            float[] f32 = Models.allLogits(m, ids);
            assertArrayEquals(f32, logits(m, new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), ids));
            assertArrayEquals(f32, logits(m, new KvSpec(KvFormat.INT2, 64, KeyGrouping.TOKEN), ids));
            // one more position fills the block: it is quantized and the logits move
            int[] longer = ids(33, m.config().vocabSize(), 1);
            double moved = Models.maxAbsDiff(Models.allLogits(m, longer), logits(m, new KvSpec(KvFormat.INT2, 32, KeyGrouping.CHANNEL), longer));
            assertTrue(moved > 0, "int2 logits after a flush differ from f32");
        }
    }

    /** fp16 keeps 11 significant bits of every key and value, so logits stay close to the f32 cache's. */
    @Test
    void fp16CacheIsCloseToF32() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            int[] ids = ids(100, m.config().vocabSize(), 2);
            double err = Models.maxAbsDiff(Models.allLogits(m, ids), logits(m, new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL), ids));
            System.out.println("fp16 KV, tiny-llama synthetic, 100 tokens: max abs logit error vs f32 cache " + err);
            assertTrue(err > 0 && err < 1e-2, "fp16 logit error " + err);
        }
    }

    /** Sequences of different lengths sharing one pool decode exactly as each does alone. */
    @Test
    void batchedPagedDecodeEqualsEachSequenceAlone() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            int vocab = m.config().vocabSize();
            List<int[]> prompts = List.of(ids(40, vocab, 3), ids(5, vocab, 4), ids(70, vocab, 5));
            for (KvSpec spec : new KvSpec[] {new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), new KvSpec(KvFormat.INT2, 32, KeyGrouping.TOKEN),
                    new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL)}) {
                List<int[]> together;
                try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                    b.useKv(spec, 16L << 20);
                    together = new Generator(b, 256).generate(prompts, 40, SamplerSettings.GREEDY, Set.of(), (s, t) -> {}).tokens();
                }
                for (int i = 0; i < prompts.size(); i++) {
                    try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                        b.useKv(spec, 16L << 20);
                        int[] alone = new Generator(b, 256).generate(List.of(prompts.get(i)), 40, SamplerSettings.GREEDY, Set.of(), (s, t) -> {})
                                .tokens().get(0);
                        assertArrayEquals(alone, together.get(i), spec + " sequence " + i);
                    }
                }
            }
        }
    }

    @Test
    void aPassThatOutgrowsThePoolIsRefusedBeforeItRuns() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null);
             CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
            b.useKv(new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), 1); // one page of 256 positions
            assertEquals(1, b.kvPool().maxPages());
            Sequence a = b.newSequence(300), c = b.newSequence(300);
            b.forward(List.of(a), List.of(ids(200, m.config().vocabSize(), 6)), false);
            BitcapException e = assertThrows(BitcapException.class, () -> b.forward(List.of(c), List.of(ids(10, m.config().vocabSize(), 7)), false));
            assertTrue(e.getMessage().contains("needs 1 more pages of 256 tokens") && e.getMessage().contains("0 of 1 pages are free"), e.getMessage());
            assertEquals(0, c.length());
            a.cache().release();
            b.forward(List.of(c), List.of(ids(10, m.config().vocabSize(), 7)), false);
            assertEquals(1, ((PagedKvCache) c.cache()).pagesHeld());
        }
    }

    @Test
    void channelGroupsAreCappedAtASmallHeadDim() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null);
             CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
            // the synthetic tiny-llama has head dim 32: with g64, per-token groups hold the 32 channels of a head
            int headDim = m.config().headDim();
            assertEquals(32, headDim);
            b.useKv(new KvSpec(KvFormat.INT2, 64, KeyGrouping.TOKEN), 1 << 20);
            assertEquals(32, b.kvPool().layout().channelGroup());
            assertTrue(b.kvSpec().describe(headDim).contains("capped at head dim 32"));
        }
    }
}
