package dev.bitcap.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bitcap.attention.LayerAttention;
import dev.bitcap.attention.OracleBlockScorer;
import dev.bitcap.attention.TokenRun;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The training pass leaves the frozen model's output bit-identical to dense attention, and its targets are the
 * row-normalised block maxima of the true attention map (cross-checked per query block against the oracle,
 * which pools rows one query block at a time), zero above the diagonal.
 */
class GateTargetCollectorTest {
    private static final int BLOCK = 16, N = 200;

    @Test
    void densePassIsUnchangedAndTargetsAreTheBlockMaxima() {
        try (LoadedModel model = ModelLoader.load(SharedData.require("models/stories260K.bin"), SharedData.require("models/tok512.bin"))) {
            ModelConfig c = model.config();
            int[] ids = new Random(1).ints(N, 3, c.vocabSize()).toArray();
            float[] dense = Models.allLogits(model, ids);
            GateTargetCollector collector = new GateTargetCollector(c.layers(), c.heads(), c.kvHeads(), c.headDim(), BLOCK);
            OracleBlockScorer oracle = new OracleBlockScorer(c.heads(), c.kvHeads(), c.headDim(), BLOCK);
            int nb = (N + BLOCK - 1) / BLOCK;
            double[][][][] oracleScores = new double[c.layers()][][][];
            LayerAttention both = new LayerAttention() {
                @Override
                public void prepare(int layer, List<TokenRun> runs, float[] q, float[] k) {
                    collector.prepare(layer, runs, q, k);
                }

                @Override
                public void attend(int layer, List<TokenRun> runs, float[] q, float[] out) {
                    collector.attend(layer, runs, q, out);
                    oracleScores[layer] = oracle.prefill(layer, runs.get(0), (F32KvCache) runs.get(0).cache(), q);
                }
            };
            float[] logits;
            try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
                backend.replaceAttention(both);
                Sequence seq = backend.newSequence(N);
                logits = backend.forward(List.of(seq), List.of(ids), true);
            }
            assertArrayEquals(dense, logits);
            GateSample[] samples = collector.samples();
            for (int l = 0; l < c.layers(); l++) {
                assertEquals(nb, samples[l].blocks());
                double[] t = samples[l].target();
                for (int h = 0; h < c.heads(); h++) {
                    for (int i = 0; i < nb; i++) {
                        double sum = 0;
                        for (int j = 0; j < nb; j++) {
                            double v = t[(h * nb + i) * nb + j];
                            if (j > i) assertEquals(0, v, "above the diagonal");
                            else assertEquals(oracleScores[l][i][h][j], v, 1e-12, "layer " + l + " head " + h + " row " + i + " block " + j);
                            sum += v;
                        }
                        assertEquals(1, sum, 1e-9);
                    }
                }
            }
        }
    }
}
