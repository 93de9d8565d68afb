package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA backend's paged KV cache for one forward pass at a time: per layer, the pass's fp32 key/value rows are
 * appended (completed blocks quantized and packed into pages, the rest into the ring), then the pass attends:
 * <ul>
 * <li>one token per sequence (decode): the tensor-core split decode over pages and ring;
 * <li>a sequence's first pass (a prompt): causal attention over the pass's own fp32 rows with the tiled prefill
 *     kernel (the earlier context is empty), so a long prompt costs no re-decoding of packed positions.
 * </ul>
 * A pass of several tokens for a sequence that already holds positions is refused (not supported yet).
 */
final class CudaPagedKv {
    final CudaKvPool pool;
    final CudaPagedAttention attention;
    /** The tiled fp32 prefill kernel over one layer of rows [token][kvDim] (the pass's own rows). */
    private final CudaAttention fresh;
    private final ModelConfig c;
    private final List<CudaPagedKvCache> passCaches = new ArrayList<>();
    private List<Sequence> sequences = List.of();
    private int[] rowStart = new int[0], counts = new int[0];
    private boolean decode;
    /** The pass's block-sparse decode splits (SeerAttention-R), made at its first layer; null until then. */
    private CudaPagedAttention.SparsePlan sparse;
    /** The pass's appends and decode plan, uploaded once for every layer. */
    private CudaPagedAttention.Pass pass;

    CudaPagedKv(CudaDevice device, KvSpec spec, ModelConfig c, long poolBytes) {
        CudaKvLayout layout = new CudaKvLayout(spec, c.layers(), c.kvHeads(), c.headDim());
        this.attention = new CudaPagedAttention(device, layout, c.heads());
        this.fresh = new CudaAttention(device, c.heads(), c.kvHeads(), c.headDim(), 1);
        this.pool = new CudaKvPool(device, layout, poolBytes);
        this.c = c;
    }

    /** Reserves every sequence's pages for this pass (refusing before anything runs) and picks decode or prompt. */
    void beginPass(List<Sequence> sequences, List<int[]> tokens) {
        pass = null;
        sparse = null;
        passCaches.clear();
        this.sequences = List.copyOf(sequences);
        rowStart = new int[sequences.size()];
        counts = new int[sequences.size()];
        decode = true;
        boolean allFirst = true;
        for (int s = 0, row = 0; s < sequences.size(); s++) {
            rowStart[s] = row;
            counts[s] = tokens.get(s).length;
            row += counts[s];
            decode &= counts[s] == 1;
            allFirst &= sequences.get(s).length() == 0;
        }
        if (!decode && !allFirst) {
            for (int s = 0; s < sequences.size(); s++) {
                if (sequences.get(s).length() > 0 && counts[s] > 1) {
                    throw new BitcapException("--kv " + attention.layout().spec().format().flagName() + " on cuda takes several tokens only in a "
                            + "sequence's first pass; sequence " + s + " holds " + sequences.get(s).length() + " positions and was given "
                            + counts[s]);
                }
            }
            decode = false; // prompts of some sequences and single tokens of new ones: every sequence is on its first pass
        }
        for (int s = 0; s < sequences.size(); s++) {
            CudaPagedKvCache cache = (CudaPagedKvCache) sequences.get(s).cache();
            cache.reserve(sequences.get(s).length() + counts[s]);
            passCaches.add(cache);
        }
        // Page tables, job lists and split sizes are the same for every layer: one asynchronous upload per pass, no
        // host synchronization per layer.
        pass = attention.pass(passCaches, rowStart, counts, decode);
    }

    /** Whether the current pass is one token per sequence (decode). */
    boolean decodePass() {
        return decode;
    }

    /** Layer l of a pass of prompts: each sequence's keys before RoPE (rows of kPre from its row start) into the decode gate. */
    void seerPrompts(CudaSeerDecode seer, int l, long kPre) {
        seer.prompts(l, sequences, rowStart, counts, kPre, c.kvDim());
    }

    /** Layer l of a decode pass: appends k, v and attends over the blocks {@code seer} chose for each KV head. */
    void sparseDecode(int l, long q, long k, long v, long att, CudaSeerDecode seer) {
        append(l, k, v);
        if (sparse == null) sparse = attention.sparsePlan(pass.plan, seer.block(), seer.maxListed());
        attention.decodeSparse(sparse, l, q, seer.lists(), seer.listStride(), att);
    }

    /** Layer l of the pass: appends the rows k, v [token][kvDim] only (the caller attends, e.g. SeerAttention prefill). */
    void append(int l, long k, long v) {
        attention.append(pass, l, k, v);
    }

    /**
     * Layer l of the pass: appends the rows k, v [token][kvDim] and writes att [token][heads*headDim]. The prompt
     * path reads its keys and values through kBase/vBase, which the backend points at each sequence's first row.
     */
    void attention(int l, long q, long k, long v, long kBase, long vBase, long pos, long tiles, long att, int tileCount) {
        append(l, k, v);
        if (decode) {
            attention.decode(pass.plan, l, q, att);
        } else {
            if (tileCount == 0) throw new BitcapException("the prompt attention kernel cannot take " + c.heads() / c.kvHeads() + " query heads per KV head");
            fresh.prefill(q, kBase, vBase, pos, tiles, att, tileCount, 0);
        }
    }
}
