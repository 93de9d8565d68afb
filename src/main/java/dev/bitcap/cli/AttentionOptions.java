package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.BlockScorer;
import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.GateBlockScorer;
import dev.bitcap.attention.OracleBlockScorer;
import dev.bitcap.attention.SeerAttention;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.attention.SeerGateFile;
import dev.bitcap.attention.WindowBlockScorer;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.ModelFingerprint;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a model command computes attention: dense, or block-sparse with blocks chosen by a gate, an oracle or a window. */
public final class AttentionOptions {
    @Option(names = "--attention", defaultValue = "dense", paramLabel = "KIND",
            description = "dense, seer (blocks chosen by a trained gate, --gate), oracle (by the true attention map) or window "
                    + "(first block + the most recent ones); the last two are baselines for the gate (default: ${DEFAULT-VALUE})")
    String kind;

    @Option(names = "--gate", paramLabel = "FILE", description = "SeerAttention gate made by 'bitcap train-gate' for this model")
    Path gate;

    @Option(names = "--density", paramLabel = "D", description = "fraction of each row's causal key blocks to visit, in (0, 1] (first and diagonal blocks always)")
    Double density;

    @Option(names = "--threshold", paramLabel = "T", description = "seer/oracle: visit blocks whose score (a distribution over the row's blocks) exceeds T")
    Double threshold;

    @Option(names = "--attention-block", paramLabel = "B", description = "block size for --attention oracle|window (seer takes the gate's; default 64)")
    Integer block;

    private SeerAttention installed;
    private boolean onCuda, sparseDecodeOnCuda;

    /** Checks the flags and, for a sparse kind, puts its attention into {@code backend}. */
    void apply(Backend backend, LoadedModel model) {
        SeerAttention attention = build(model);
        if (attention == null) return;
        if (backend instanceof dev.bitcap.cuda.CudaBackend cuda && kind.equals("seer")) {
            sparseDecodeOnCuda = cuda.useSeer(SeerGateFile.read(gate), density != null ? BlockSelection.density(density) : BlockSelection.threshold(threshold));
            onCuda = true;
            return;
        }
        if (!(backend instanceof CpuBackend cpu)) {
            throw new BitcapException("--attention " + kind + " runs on the cpu backend only so far");
        }
        cpu.replaceAttention(attention);
        installed = attention;
    }

    /** The sparse attention put in place, or null for dense. */
    SeerAttention installed() {
        return installed;
    }

    SeerAttention build(LoadedModel model) {
        if (density != null && !(density > 0 && density <= 1)) throw new BitcapException("--density must be in (0, 1], got " + density);
        if (block != null && block < 2) throw new BitcapException("--attention-block must be >= 2, got " + block);
        boolean dense = kind.equals("dense");
        if (!dense && !kind.equals("seer") && !kind.equals("oracle") && !kind.equals("window")) {
            throw new BitcapException("unknown --attention '" + kind + "' (valid: dense, seer, oracle, window)");
        }
        if (dense) {
            if (gate != null || density != null || threshold != null || block != null) {
                throw new BitcapException("--gate, --density, --threshold and --attention-block need --attention seer, oracle or window");
            }
            return null;
        }
        if (density != null && threshold != null) throw new BitcapException("give --density or --threshold, not both");
        if (density == null && threshold == null) throw new BitcapException("--attention " + kind + " needs --density D or --threshold T");
        if (kind.equals("window") && threshold != null) throw new BitcapException("--attention window takes --density (a window has no scores to threshold)");
        if (!kind.equals("seer") && gate != null) throw new BitcapException("--gate applies to --attention seer only");
        BlockSelection selection = density != null ? BlockSelection.density(density) : BlockSelection.threshold(threshold);
        ModelConfig c = model.config();
        int b;
        BlockScorer scorer;
        if (kind.equals("seer")) {
            if (gate == null) throw new BitcapException("--attention seer needs --gate FILE (made by 'bitcap train-gate')");
            SeerGate g = SeerGateFile.read(gate);
            g.checkUsableFor(ModelFingerprint.of(model), model.name(), c.heads(), c.kvHeads(), c.headDim(), c.layers(), block == null ? 0 : block, gate.toString());
            b = g.shape().block();
            scorer = new GateBlockScorer(g);
        } else {
            b = block == null ? 64 : block;
            scorer = kind.equals("oracle") ? new OracleBlockScorer(c.heads(), c.kvHeads(), c.headDim(), b) : new WindowBlockScorer(c.heads(), c.kvHeads(), b);
        }
        return new SeerAttention(c.heads(), c.kvHeads(), c.headDim(), b, scorer, selection);
    }

    String describe() {
        if (onCuda) {
            return kind + (sparseDecodeOnCuda ? " prefill and decode on cuda" : " prefill on cuda (decode dense: sparse decode reads a paged --kv fp16|int4|int2)")
                    + ", blocks of " + dev.bitcap.cuda.CudaSparseAttention.BLOCK + ", " + (density != null ? "density " + density : "threshold " + threshold);
        }
        if (installed == null) return "dense";
        return kind + " blocks of " + installed.block() + ", " + (density != null ? "density " + density : "threshold " + threshold);
    }
}
