package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A llama2.c legacy {@code .bin} checkpoint: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len; a negative vocab_size means a separate classifier follows the other weights), then
 * fp32 arrays stacked over layers. Tensors are exposed under Hugging Face Llama names, each layer's a view
 * into the stacked arrays. The weights keep llama2.c's layout: q and k rows are ordered for RoPE on
 * adjacent pairs, as in GGUF, not for Hugging Face's rotate-half.
 */
public final class Llama2cCheckpoint implements TensorSource {
    /** Seven int32 values. */
    static final int HEADER_BYTES = 28;
    /** The first int of llama2.c's newer (version 1 and 2) exports: "ak42" as little-endian bytes. */
    private static final int VERSIONED_EXPORT_MAGIC = 0x616b3432;

    /** The header's values; {@code sharedClassifier} is true when vocab_size was positive (head tied to the embedding). */
    public record Header(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen,
                         boolean sharedClassifier) {
        public int headSize() {
            return dim / heads;
        }

        public int kvDim() {
            return dim / heads * kvHeads;
        }
    }

    private final MappedFile file;
    private final Header header;
    private final SortedMap<String, Tensor> tensors;

    private Llama2cCheckpoint(MappedFile file, Header header, SortedMap<String, Tensor> tensors) {
        this.file = file;
        this.header = header;
        this.tensors = tensors;
    }

    public static Llama2cCheckpoint open(Path file) {
        MappedFile mapped = MappedFile.open(file);
        try {
            Header header = readHeader(mapped);
            return new Llama2cCheckpoint(mapped, header, Collections.unmodifiableSortedMap(layOut(mapped, header)));
        } catch (RuntimeException | Error e) {
            mapped.close();
            throw e;
        }
    }

    private static Header readHeader(MappedFile mapped) {
        String name = mapped.path().toString();
        SegmentReader in = new SegmentReader(name, mapped.segment(), 0);
        if (mapped.size() >= 4 && mapped.segment().get(Tensor.I32_LE, 0) == VERSIONED_EXPORT_MAGIC) {
            throw new BitcapException(name + ": a llama2.c versioned export (magic ak42); only the legacy .bin format is supported");
        }
        in.require(HEADER_BYTES, "llama2.c header");
        int dim = in.i32("dim");
        int hidden = in.i32("hidden_dim");
        int layers = in.i32("n_layers");
        int heads = in.i32("n_heads");
        int kvHeads = in.i32("n_kv_heads");
        int vocab = in.i32("vocab_size");
        int seqLen = in.i32("seq_len");
        String values = "dim=" + dim + " hidden_dim=" + hidden + " n_layers=" + layers + " n_heads=" + heads
                + " n_kv_heads=" + kvHeads + " vocab_size=" + vocab + " seq_len=" + seqLen;
        boolean valid = dim > 0 && hidden > 0 && layers > 0 && heads > 0 && kvHeads > 0 && seqLen > 0
                && vocab != 0 && vocab != Integer.MIN_VALUE
                && dim % heads == 0 && heads % kvHeads == 0 && (dim / heads) % 2 == 0;
        if (!valid) {
            throw new BitcapException(name + ": not a llama2.c checkpoint (implausible header " + values + ")");
        }
        return new Header(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), seqLen, vocab > 0);
    }

    /** Places every array in file order, checking that they exactly fill the file. */
    private static SortedMap<String, Tensor> layOut(MappedFile mapped, Header h) {
        long dim = h.dim(), hidden = h.hiddenDim(), layers = h.layers(), vocab = h.vocabSize(), kvDim = h.kvDim();
        long halfHead = h.headSize() / 2;
        long expected;
        try {
            long perLayer = Math.addExact(Math.addExact(2 * dim, Math.multiplyExact(2 * dim, dim)),
                    Math.addExact(Math.multiplyExact(2 * kvDim, dim), Math.multiplyExact(3 * hidden, dim)));
            long floats = Math.addExact(Math.addExact(Math.multiplyExact(vocab, dim), Math.multiplyExact(layers, perLayer)),
                    Math.addExact(dim + 2L * h.seqLen() * halfHead, h.sharedClassifier() ? 0 : vocab * dim));
            expected = Math.addExact(HEADER_BYTES, Math.multiplyExact(4, floats));
        } catch (ArithmeticException e) {
            throw new BitcapException(mapped.path() + ": not a llama2.c checkpoint (header implies over 2^63 bytes)", e);
        }
        if (mapped.size() != expected) {
            throw new BitcapException(mapped.path() + ": file has " + mapped.size() + " bytes but its llama2.c header (dim="
                    + h.dim() + " layers=" + h.layers() + " vocab=" + h.vocabSize() + ") implies " + expected);
        }
        Cursor at = new Cursor(mapped);
        Tensor embedding = at.next(vocab, dim);
        Tensor rmsAtt = at.next(layers, dim);
        Tensor wq = at.next(layers, dim, dim);
        Tensor wk = at.next(layers, kvDim, dim);
        Tensor wv = at.next(layers, kvDim, dim);
        Tensor wo = at.next(layers, dim, dim);
        Tensor rmsFfn = at.next(layers, dim);
        Tensor w1 = at.next(layers, hidden, dim);
        Tensor w2 = at.next(layers, dim, hidden);
        Tensor w3 = at.next(layers, hidden, dim);
        Tensor rmsFinal = at.next(dim);
        at.next(h.seqLen(), halfHead); // freq_cis_real: RoPE tables, recomputed by the engine
        at.next(h.seqLen(), halfHead); // freq_cis_imag
        Tensor classifier = h.sharedClassifier() ? embedding : at.next(vocab, dim);

        SortedMap<String, Tensor> tensors = new TreeMap<>();
        tensors.put("model.embed_tokens.weight", embedding);
        tensors.put("model.norm.weight", rmsFinal);
        tensors.put("lm_head.weight", classifier);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            tensors.put(p + "input_layernorm.weight", layer(rmsAtt, l));
            tensors.put(p + "self_attn.q_proj.weight", layer(wq, l));
            tensors.put(p + "self_attn.k_proj.weight", layer(wk, l));
            tensors.put(p + "self_attn.v_proj.weight", layer(wv, l));
            tensors.put(p + "self_attn.o_proj.weight", layer(wo, l));
            tensors.put(p + "post_attention_layernorm.weight", layer(rmsFfn, l));
            tensors.put(p + "mlp.gate_proj.weight", layer(w1, l));
            tensors.put(p + "mlp.down_proj.weight", layer(w2, l));
            tensors.put(p + "mlp.up_proj.weight", layer(w3, l));
        }
        return tensors;
    }

    /** Layer {@code l} of a stacked array, without the layer dimension. */
    private static Tensor layer(Tensor stacked, int l) {
        long[] shape = stacked.shape();
        return stacked.slice(l, 1).reshape(Arrays.copyOfRange(shape, 1, shape.length));
    }

    /** Hands out consecutive fp32 arrays of the mapped file. */
    private static final class Cursor {
        private final MappedFile mapped;
        private long offset = HEADER_BYTES;

        Cursor(MappedFile mapped) {
            this.mapped = mapped;
        }

        Tensor next(long... shape) {
            long bytes = DType.F32.byteSize(Tensor.elementCount(shape));
            Tensor t = new Tensor(DType.F32, mapped.segment().asSlice(offset, bytes), shape);
            offset += bytes;
            return t;
        }
    }

    public Header header() {
        return header;
    }

    public Path path() {
        return file.path();
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new BitcapException(file.path() + ": no tensor " + ErrorText.clean(name));
        }
        return t;
    }

    @Override
    public void close() {
        file.close();
    }
}
