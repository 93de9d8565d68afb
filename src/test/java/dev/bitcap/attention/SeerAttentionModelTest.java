package dev.bitcap.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.ModelFingerprint;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block-sparse attention inside stories260K (8 heads on 4 KV heads, so GQA is exercised): a prefill of 300
 * tokens then 40 decode steps, teacher-forced. At density 1 every scorer reproduces dense attention bit for bit;
 * at density 0.3 the logits equal those of a reference that masks the same blocks and attends densely in double.
 */
class SeerAttentionModelTest {
    private static final int BLOCK = 16, PREFILL = 300, DECODE = 40;
    private static LoadedModel model;
    private static int[] ids;

    @BeforeAll
    static void load() throws IOException {
        model = ModelLoader.load(SharedData.require("models/stories260K.bin"), SharedData.require("models/tok512.bin"));
        String text = Files.readString(SharedData.require("text/tinystories-val.txt"), StandardCharsets.UTF_8);
        ids = Arrays.copyOf(model.tokenizer().encode(text.substring(0, 20_000), true), PREFILL + DECODE);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    static SeerGate randomGate(int block) {
        ModelConfig c = model.config();
        float[] f = c.ropeScaling().inverseFrequencies(16, c.ropeTheta());
        double[] inv = new double[f.length];
        for (int i = 0; i < f.length; i++) inv[i] = f[i];
        return SeerGate.initialised(new SeerGate.Shape(c.layers(), c.heads(), c.kvHeads(), c.headDim(), 16, block), inv,
                c.ropeStyle(), ModelFingerprint.of(model), model.name(), 5);
    }

    private static List<Supplier<BlockScorer>> scorers() {
        ModelConfig c = model.config();
        SeerGate gate = randomGate(BLOCK);
        return List.of(() -> new GateBlockScorer(gate), () -> new OracleBlockScorer(c.heads(), c.kvHeads(), c.headDim(), BLOCK),
                () -> new WindowBlockScorer(c.heads(), c.kvHeads(), BLOCK));
    }

    /** Logits of the prefill's every token, then of each decode step, with {@code attention} (null: dense). */
    private static List<float[]> run(LayerAttention attention) {
        return run(attention, null);
    }

    /** {@link #run(LayerAttention)} with a paged KV cache of {@code kv} (null: the f32 cache). */
    private static List<float[]> run(LayerAttention attention, KvSpec kv) {
        List<float[]> logits = new ArrayList<>();
        try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
            if (kv != null) backend.useKv(kv, CpuBackend.defaultKvPoolBytes());
            backend.replaceAttention(attention);
            Sequence seq = backend.newSequence(PREFILL + DECODE);
            logits.add(backend.forward(List.of(seq), List.of(Arrays.copyOf(ids, PREFILL)), true));
            for (int t = PREFILL; t < PREFILL + DECODE; t++) logits.add(backend.forward(List.of(seq), List.of(new int[] {ids[t]}), false));
        }
        return logits;
    }

    @Test
    void densityOneReproducesDenseAttentionBitForBit() {
        ModelConfig c = model.config();
        List<float[]> dense = run(null);
        for (Supplier<BlockScorer> scorer : scorers()) {
            SeerAttention seer = new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, scorer.get(), BlockSelection.density(1.0));
            List<float[]> sparse = run(seer);
            for (int i = 0; i < dense.size(); i++) assertArrayEquals(dense.get(i), sparse.get(i), scorer.get().getClass().getSimpleName() + " pass " + i);
            assertEquals(1.0, seer.achievedDensity());
        }
    }

    @Test
    void lowerDensityEqualsAReferenceThatMasksTheSameBlocks() {
        ModelConfig c = model.config();
        List<float[]> dense = run(null);
        for (Supplier<BlockScorer> scorer : scorers()) {
            String name = scorer.get().getClass().getSimpleName();
            SeerAttention seer = new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, scorer.get(), BlockSelection.density(0.3));
            List<float[]> sparse = run(seer);
            List<float[]> masked = run(new MaskedReferenceAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, scorer.get(), BlockSelection.density(0.3)));
            double worst = 0, moved = 0;
            for (int i = 0; i < dense.size(); i++) {
                worst = Math.max(worst, Models.maxAbsDiff(masked.get(i), sparse.get(i)));
                moved = Math.max(moved, Models.maxAbsDiff(dense.get(i), sparse.get(i)));
            }
            // fp32 accumulation against fp64 through 5 layers; logits are O(10)
            assertTrue(worst < 2e-4, name + ": sparse vs masked reference differ by " + worst);
            assertTrue(moved > 0.05, name + ": density 0.3 should change the logits, moved only " + moved);
            double reached = seer.achievedDensity();
            assertTrue(reached > 0.25 && reached < 0.4, name + " visited " + reached);
        }
    }

    /** Over the paged low-bit cache (read in place, only the chosen blocks decoded): density 1 is dense paged attention, bit for bit. */
    @Test
    void overAPagedLowBitCacheDensityOneReproducesDensePagedAttention() {
        ModelConfig c = model.config();
        for (KvSpec kv : new KvSpec[] {new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), new KvSpec(KvFormat.INT2, 32, KeyGrouping.TOKEN),
                new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL)}) {
            List<float[]> dense = run(null, kv);
            for (Supplier<BlockScorer> scorer : List.<Supplier<BlockScorer>>of(() -> new GateBlockScorer(randomGate(BLOCK)),
                    () -> new WindowBlockScorer(c.heads(), c.kvHeads(), BLOCK))) {
                SeerAttention seer = new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, scorer.get(), BlockSelection.density(1.0));
                List<float[]> sparse = run(seer, kv);
                for (int i = 0; i < dense.size(); i++) {
                    assertArrayEquals(dense.get(i), sparse.get(i), kv.format().flagName() + " " + scorer.get().getClass().getSimpleName() + " pass " + i);
                }
            }
        }
    }

    /** At density 0.3 over the int4 cache the logits move (blocks are skipped) and the density reached is the one asked for. */
    @Test
    void overAPagedLowBitCacheLowerDensitySkipsBlocks() {
        ModelConfig c = model.config();
        KvSpec kv = new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL);
        List<float[]> dense = run(null, kv);
        SeerAttention seer = new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, new GateBlockScorer(randomGate(BLOCK)), BlockSelection.density(0.3));
        List<float[]> sparse = run(seer, kv);
        double moved = 0;
        for (int i = 0; i < dense.size(); i++) moved = Math.max(moved, Models.maxAbsDiff(dense.get(i), sparse.get(i)));
        assertTrue(moved > 0.05, "density 0.3 should change the logits, moved only " + moved);
        assertTrue(seer.achievedDensity() > 0.25 && seer.achievedDensity() < 0.4, "visited " + seer.achievedDensity());
    }

    @Test
    void theOracleNeedsTheF32Cache() {
        ModelConfig c = model.config();
        SeerAttention oracle = new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), BLOCK, new OracleBlockScorer(c.heads(), c.kvHeads(), c.headDim(), BLOCK),
                BlockSelection.density(0.3));
        var e = assertThrows(BitcapException.class, () -> run(oracle, new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL)));
        assertEquals("--attention oracle reads the true attention map from an f32 KV cache; the int4 cache is not supported with it", e.getMessage());
    }

    @Test
    void gateFileRoundTripsAndIsRefusedForAnotherModelOrBlockSize(@TempDir Path dir) {
        SeerGate gate = randomGate(BLOCK);
        Path file = dir.resolve("gate.safetensors");
        SeerGateFile.write(file, gate);
        SeerGate back = SeerGateFile.read(file);
        assertEquals(gate.shape(), back.shape());
        assertEquals(gate.modelFingerprint(), back.modelFingerprint());
        for (int l = 0; l < gate.shape().layers(); l++) {
            for (int i = 0; i < gate.queryWeights(l).length; i++) assertEquals((float) gate.queryWeights(l)[i], back.queryWeights(l)[i]);
            for (int i = 0; i < gate.keyWeights(l).length; i++) assertEquals((float) gate.keyWeights(l)[i], back.keyWeights(l)[i]);
        }
        ModelConfig c = model.config();
        String fp = ModelFingerprint.of(model);
        back.checkUsableFor(fp, model.name(), c.heads(), c.kvHeads(), c.headDim(), c.layers(), BLOCK, "g");
        var other = assertThrows(BitcapException.class, () -> back.checkUsableFor("0123456789abcdef", "other.bin", c.heads(), c.kvHeads(), c.headDim(), c.layers(), 0, "g"));
        assertEquals("gate g was trained for model stories260K.bin (fingerprint " + fp + "), not other.bin (fingerprint 0123456789abcdef)", other.getMessage());
        var blockSize = assertThrows(BitcapException.class, () -> back.checkUsableFor(fp, model.name(), c.heads(), c.kvHeads(), c.headDim(), c.layers(), 32, "g"));
        assertEquals("gate g was trained for block size 16, not 32", blockSize.getMessage());
        var shape = assertThrows(BitcapException.class, () -> back.checkUsableFor(fp, model.name(), 4, 2, 16, 2, 0, "g"));
        assertTrue(shape.getMessage().startsWith("gate g was trained for a model with 5 layers, 8/4 heads of 8"), shape.getMessage());
    }

    @Test
    void theSameWeightsInAnotherFileFormatHaveTheSameFingerprint() {
        try (LoadedModel gguf = ModelLoader.load(SharedData.require("models/stories260K.gguf"), null)) {
            assertEquals(ModelFingerprint.of(model), ModelFingerprint.of(gguf));
        }
    }
}
