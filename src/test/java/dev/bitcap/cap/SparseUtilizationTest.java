package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bitcap.engine.PassRecord;
import dev.bitcap.model.HfConfigParser;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.quant.QuantFormats;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * S-MBU and S-MFU on hand-computed cases, the models' shapes read from the shipped preset config.json files. Each
 * expected byte and FLOP count is written out from the formulas in docs/CAP.md; the sums were done by hand (and
 * checked with a calculator), not by the code under test.
 */
class SparseUtilizationTest {
    private static final double H100_BW = 3.35e12, H100_BF16 = 989.4e12;

    static ModelConfig preset(String name) {
        return HfConfigParser.parse(SyntheticPresets.config(name), "preset " + name);
    }

    /** Every MoE layer routes token i to {@code experts[i]} (ids, top-k per token). */
    static int[][] sameRouting(ModelConfig c, int[]... experts) {
        int[] flat = java.util.Arrays.stream(experts).flatMapToInt(java.util.Arrays::stream).toArray();
        int[][] routed = new int[c.layers()][];
        for (int l = 0; l < c.layers(); l++) routed[l] = c.isMoeLayer(l) ? flat.clone() : null;
        return routed;
    }

    static PassRecord decode(ModelConfig c, double seconds, int[] ctx, int[][] routed) {
        return new PassRecord(PassRecord.Mode.DECODE, ctx.length, ctx.length, ctx, (long) (seconds * 1e9), c.expertsPerToken(), routed);
    }

    @Test
    void mixtralDecodeBf16() {
        ModelConfig c = preset("mixtral-8x7b");
        ModelCosts costs = ModelCosts.of(c, null, 0, 16, 16, "bf16");
        // batch 2, contexts 100 and 50; token 0 → experts {0,1}, token 1 → {1,2}: 3 distinct per layer
        PassRecord r = decode(c, 0.02, new int[] {100, 50}, sameRouting(c, new int[] {0, 1}, new int[] {1, 2}));
        // attention 4096·4096·2 + 2·4096·1024 = 41,943,040; router 4096·8 = 32,768; expert 3·4096·14336 = 176,160,768 params
        // bytes: 32·(41,943,040 + 32,768 + 3·176,160,768)·2 + 150 positions · (2·32·1024·2 B) = 36,509,319,168 + 19,660,800
        double bytes = 36_528_979_968.0;
        // FLOPs: 2 tokens · 2 · 32·(41,943,040 + 32,768 + 2·176,160,768) + 4·32 layers·4096·150 attended positions
        double flops = 50_548_703_232.0;
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 2);
        assertEquals(bytes, paper.bytes(r), 1);
        assertEquals(flops, paper.flops(r), 1);
        PhaseUtilization u = paper.phase(List.of(r), PassRecord.Mode.DECODE);
        assertEquals(bytes / 0.02 / H100_BW, u.smbu(H100_BW), 1e-9);
        assertEquals(flops / 0.02 / H100_BF16, u.smfu(H100_BF16), 1e-12);
        assertEquals(3, u.meanExperts(), 0);

        // compat: a = 3 experts, one byte width (bf16: 2) for weights and KV, one expert per token in the FLOPs,
        // attention over the batch-summed context (150), tokens = batch in decode
        SparseUtilization compat = new SparseUtilization(costs, CountingMode.MOECAP_COMPAT, MoeCapPrecision.bytesPerParam("bf16"));
        assertEquals((32.0 * (3 * 176_160_768L + 41_943_040L) + 150 * 2 * 32 * 128 * 8) * 2, compat.bytes(r), 1);
        assertEquals(36_526_882_816.0, compat.bytes(r), 1);
        assertEquals(2.0 * 2 * (32L * (41_943_040L + 176_160_768L) + 2L * 32 * 4096 * 150), compat.flops(r), 1);
        assertEquals(28_074_573_824.0, compat.flops(r), 1);
    }

    @Test
    void qwen15MoePrefillInt4WithSharedExpert() {
        ModelConfig c = preset("qwen1.5-moe-a2.7b");
        ModelCosts costs = ModelCosts.of(c, QuantFormats.byName("int4-asym"), 128, 16, 16, "int4-asym");
        // one prompt of 20 tokens; token t → experts t..t+3: experts 0..22 used in every layer
        int[][] tokens = new int[20][];
        for (int t = 0; t < 20; t++) tokens[t] = new int[] {t, t + 1, t + 2, t + 3};
        PassRecord r = new PassRecord(PassRecord.Mode.PREFILL, 1, 20, new int[] {20}, 50_000_000L, 4, sameRouting(c, tokens));
        // int4-asym g128: 4.25 bits for rows of 2048, 1408 and 5632 columns; router and shared gate stay bf16
        // per layer: attention 16,777,216·4.25/8 = 8,912,896; router 2048·60·2 = 245,760; 23 experts · 8,650,752·4.25/8 = 105,701,376;
        // shared 34,603,008·4.25/8 + 2048·2 = 18,386,944 → 133,246,976 · 24 = 3,197,927,424; KV 20 · 2·24·2048·2 = 3,932,160
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 0.5);
        assertEquals(3_201_859_584.0, paper.bytes(r), 1);
        // per token per layer 16,777,216 + 122,880 + 4·8,650,752 + 34,605,056 = 86,108,160; · 24 · 20 tokens · 2, plus 4·24·2048·(1+…+20)
        assertEquals(82_705_121_280.0, paper.flops(r), 1);
        assertEquals(23, paper.meanDistinctExperts(r), 0);

        SparseUtilization compat = new SparseUtilization(costs, CountingMode.MOECAP_COMPAT, MoeCapPrecision.bytesPerParam("int4"));
        // [24·(23·8,650,752 + 34,603,008 + 16,777,216) + 20·(2·24·128·16)]·0.5: no router, no shared gate
        assertEquals(3_005_153_280.0, compat.bytes(r), 1);
        // 2·[24·(16,777,216 + 8,650,752 + 34,603,008) + 2·24·2048·20] per token · 20 context tokens
        assertEquals(57_708_380_160.0, compat.flops(r), 1);
        PhaseUtilization u = compat.phase(List.of(r), PassRecord.Mode.PREFILL);
        assertEquals(3_005_153_280.0 / 0.05 / H100_BW, u.smbu(H100_BW), 1e-9);
    }

    @Test
    void qwen3MoeDecodeBatch8F32AndActivatedShare() {
        ModelConfig c = preset("qwen3-30b-a3b");
        ModelCosts costs = ModelCosts.of(c, null, 0, 32, 32, "f32");
        int[][] tokens = new int[8][];
        for (int b = 0; b < 8; b++) tokens[b] = java.util.stream.IntStream.range(8 * b, 8 * b + 8).toArray();
        int[] ctx = {10, 11, 12, 13, 14, 15, 16, 17};
        PassRecord r = decode(c, 0.1, ctx, sameRouting(c, tokens));
        // attention 2048·4096·2 + 2·2048·512 = 18,874,368; router 2048·128 = 262,144; expert 3·2048·768 = 4,718,592
        // share at batch 8 with 64 of 128 experts used: (18,874,368 + 262,144 + 64·4,718,592)/(18,874,368 + 262,144 + 128·4,718,592)
        assertEquals(321_126_400.0 / 623_116_288.0, new SparseUtilization(costs, CountingMode.PAPER, 4).activatedShare(r), 1e-12);
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 4);
        assertEquals(61_677_502_464.0, paper.bytes(r), 1); // 48·321,126,400·4 + 108 positions · 2·48·512·4
        assertEquals(43_772_805_120.0, paper.flops(r), 1); // 8·2·48·(19,136,512 + 8·4,718,592) + 4·48·4096·108
        SparseUtilization compat = new SparseUtilization(costs, CountingMode.MOECAP_COMPAT, MoeCapPrecision.bytesPerParam("fp32"));
        assertEquals(61_627_170_816.0, compat.bytes(r), 1); // [48·(64·4,718,592 + 18,874,368) + 108·2·48·128]·4
        assertEquals(18_798_870_528.0, compat.flops(r), 1); // 2·[48·(18,874,368 + 4,718,592) + 2·48·4096·108] · 8
    }

    @Test
    void denseLlamaDecodeCountsEveryMlpAndOvercountsAttentionInCompat() {
        ModelConfig c = preset("llama-3.1-8b");
        ModelCosts costs = ModelCosts.of(c, null, 0, 16, 16, "bf16");
        PassRecord r = decode(c, 0.05, new int[] {1000, 2000, 3000, 4000}, null);
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 2);
        SparseUtilization compat = new SparseUtilization(costs, CountingMode.MOECAP_COMPAT, 2);
        // 32·(41,943,040 + 176,160,768)·2 + 10,000 positions · 131,072 B: the same in both modes here (bf16 weights and fp16 KV)
        assertEquals(15_269_363_712.0, paper.bytes(r), 1);
        assertEquals(15_269_363_712.0, compat.bytes(r), 1);
        // paper: attention over each sequence's own context; compat: over the summed context for every one of the 4 tokens
        assertEquals(61_077_454_848.0, paper.flops(r), 1);
        assertEquals(76_806_094_848.0, compat.flops(r), 1);
        assertEquals(1.0, paper.activatedShare(r), 1e-12);
        assertEquals(0, paper.meanDistinctExperts(r), 0);
    }

    @Test
    void paperDividesTotalsByTimeCompatAveragesPassRatiosAndSkipsTinyPrefills() {
        ModelConfig c = preset("llama-3.1-8b");
        ModelCosts costs = ModelCosts.of(c, null, 0, 16, 16, "bf16");
        PassRecord fast = decode(c, 0.01, new int[] {100}, null), slow = decode(c, 0.03, new int[] {100}, null);
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 2);
        SparseUtilization compat = new SparseUtilization(costs, CountingMode.MOECAP_COMPAT, 2);
        double bytes = paper.bytes(fast);
        assertEquals(2 * bytes / 0.04, paper.phase(List.of(fast, slow), PassRecord.Mode.DECODE).bytesPerSecond(), 1e-3 * bytes);
        assertEquals((bytes / 0.01 + bytes / 0.03) / 2, compat.phase(List.of(fast, slow), PassRecord.Mode.DECODE).bytesPerSecond(), 1e-3 * bytes);
        PassRecord tiny = new PassRecord(PassRecord.Mode.PREFILL, 1, 10, new int[] {10}, 1_000_000, 0, null);
        assertEquals(0, compat.phase(List.of(tiny), PassRecord.Mode.PREFILL).passes());
        assertEquals(1, paper.phase(List.of(tiny), PassRecord.Mode.PREFILL).passes());
    }
}
