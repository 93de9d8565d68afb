package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.GroupQuantizer;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Rows of {@code bitcap check} for the paged GPU KV cache: decode attention of the tensor-core kernel over caches
 * the GPU packed, for fp16 / int4 / int2, both key groupings, head dims 64 / 128 / 256, GQA 1 / 4 / 8 / 16, a batch
 * of three sequences of different lengths (not multiples of g, so each has a partial ring; one is all ring),
 * appended in two passes (so ring rows of the first pass are packed by the second): the first layer by layer
 * ({@link CudaPagedAttention#append(int, List, int[], int[], long, long)}, as the fill and the bench do), the second
 * as a forward pass does (one {@link CudaPagedAttention.Pass} for every layer, its decode plan uploaded with it).
 * Every decode kernel of the format ({@link CudaPagedAttention#kernels}) gives a row. Each row compares with an
 * fp32 reference over the cache as the GPU stored it (pages decoded on the host with {@link CudaKvLayout}), and
 * checks that the GPU packer stored what {@link GroupQuantizer} stores for the same numbers; the quantization
 * error itself (against fp32 attention over the unquantized rows) is reported, not gated.
 */
final class CudaKvCheck {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The unit roundoff of fp16 (2^-11). */
    private static final double HALF_EPS = 0x1p-11;
    private final Consumer<CudaCheck.Row> sink;

    CudaKvCheck(Consumer<CudaCheck.Row> sink) {
        this.sink = sink;
    }

    void run(CudaDevice device) {
        int[] groups = {32, 64, 128};
        int n = 0;
        List<Object[]> sparseCases = new ArrayList<>();
        for (int d : new int[] {64, 128, 256}) {
            List<KvSpec> specs = new ArrayList<>();
            specs.add(new KvSpec(KvFormat.FP16, 32, KeyGrouping.CHANNEL));
            for (KvFormat f : new KvFormat[] {KvFormat.INT4, KvFormat.INT2}) {
                for (KeyGrouping k : KeyGrouping.values()) specs.add(new KvSpec(f, groups[n++ % 3], k));
            }
            for (KvSpec spec : specs) {
                for (int gq : new int[] {1, 4, 8, 16}) {
                    attentionCase(device, spec, d, gq, 1000 + n * 31 + gq, 0);
                    sparseCases.add(new Object[] {spec, d, gq, 5000L + n * 31 + gq});
                }
            }
        }
        // Block-sparse decode (group "seer-decode"), the same formats, head dims and GQA ratios: the gate's blocks of 64
        // for GQA 1 and 8; for GQA 4 and 16 blocks of 32 (fp16, g32) or 96 (g64, g128: blocks that start inside a
        // g-block and straddle pages), so that every format has a sequence whose packed length is no multiple of blk.
        for (Object[] c : sparseCases) {
            KvSpec spec = (KvSpec) c[0];
            int gq = (int) c[2], bt = spec.format().quantized() ? spec.group() : 16;
            int blk = gq == 1 || gq == 8 ? 64 : bt >= 64 ? 96 : 32;
            attentionCase(device, spec, (int) c[1], gq, (long) c[3], blk);
        }
        fillCase(device);
        badInput(device);
    }

    /**
     * With {@code sparseBlk} 0 the dense rows ("kv-gpu"); otherwise rows "seer-decode" of the block-sparse twins of
     * every kernel with blocks of {@code sparseBlk} over their own lengths: (a) lists of every block against the dense
     * decode of the same kernel and cache, (b) random lists (block 0, the last whole and the last block, middle blocks
     * with probability 0.3, different per KV head) against attention in double over the cache as stored, restricted
     * to the positions {@link SparseDecodeMask} says the row attends.
     */
    private void attentionCase(CudaDevice device, KvSpec spec, int d, int gq, long seed, int sparseBlk) {
        int layers = 2, kvHeads = 2, heads = kvHeads * gq, kvDim = kvHeads * d, layer = 1;
        boolean sparse = sparseBlk > 0;
        CudaKvLayout lay = new CudaKvLayout(spec, layers, kvHeads, d);
        int bt = lay.blockTokens(), page = CudaKvLayout.PAGE_TOKENS;
        // sparse: several pages with a packed length that is no multiple of most blk, a shorter one, and one whose
        // packed part is a single g-block (no whole block of blk > bt: all tail); each with a ring
        int[] lens = sparse ? new int[] {4 * page + 3 * bt + 5, 2 * page + bt + 7, bt + 3}
                : new int[] {3 * page + bt / 2 + 3, 2 * bt + 5, Math.min(11, bt - 1)};
        int nSeq = lens.length, secondCount = 5;
        Random rnd = new Random(seed);
        float[][][] keys = new float[layers][nSeq][], values = new float[layers][nSeq][];
        for (int l = 0; l < layers; l++) {
            for (int s = 0; s < nSeq; s++) {
                keys[l][s] = new float[lens[s] * kvDim];
                values[l][s] = new float[lens[s] * kvDim];
                for (int i = 0; i < keys[l][s].length; i++) {
                    keys[l][s][i] = (float) rnd.nextGaussian() + (i % d == 3 ? 4f : 0f); // an outlier channel, as keys have
                    values[l][s][i] = (float) rnd.nextGaussian();
                }
            }
        }
        float[] q = new float[nSeq * heads * d];
        for (int i = 0; i < q.length; i++) q[i] = (float) (0.5 * rnd.nextGaussian());

        CudaPagedAttention attention = new CudaPagedAttention(device, lay, heads);
        int pagesNeeded = 0;
        for (int len : lens) pagesNeeded += (len + page - 1) / page;
        String name = String.format("%s d%d gqa%d B3 (%d,%d,%d)", spec.describe(d).replace(", keys per ", " key/"), d, gq, lens[0], lens[1], lens[2])
                + (sparse ? " blk" + sparseBlk : "");
        try (CudaKvPool pool = new CudaKvPool(device, lay, (pagesNeeded + 1) * lay.pageBytes()); Arena arena = Arena.ofConfined()) {
            List<CudaPagedKvCache> caches = new ArrayList<>();
            for (int len : lens) caches.add(attention.newCache(pool, len));
            int total = 0;
            for (int len : lens) total += len;
            long dk = device.alloc(4L * total * kvDim), dv = device.alloc(4L * total * kvDim);
            long dq = device.alloc(4L * q.length), dout = device.alloc(4L * q.length);
            CudaPagedAttention.Pass passTwo = null;
            for (int pass = 0; pass < 2; pass++) {
                int[] rowStart = new int[nSeq], counts = new int[nSeq];
                for (int s = 0, row = 0; s < nSeq; s++) {
                    rowStart[s] = row;
                    counts[s] = pass == 0 ? lens[s] - secondCount : secondCount;
                    row += counts[s];
                }
                if (pass == 1) passTwo = attention.pass(caches, rowStart, counts, true);
                for (int l = 0; l < layers; l++) {
                    for (int s = 0; s < nSeq; s++) {
                        int from = pass == 0 ? 0 : lens[s] - secondCount;
                        device.upload(dk + 4L * rowStart[s] * kvDim, keys[l][s], from * kvDim, counts[s] * kvDim);
                        device.upload(dv + 4L * rowStart[s] * kvDim, values[l][s], from * kvDim, counts[s] * kvDim);
                    }
                    if (pass == 0) attention.append(l, caches, rowStart, counts, dk, dv);
                    else attention.append(passTwo, l, dk, dv);
                }
            }
            device.upload(dq, q, 0, q.length);
            List<CudaPagedAttention.DecodeKernel> kernels = attention.kernels();
            float[][] got = new float[kernels.size()][q.length];
            // sparse: rows [s * kvHeads + g] of every block and of random blocks, flattened with stride (zero padding)
            int[][] allRows = new int[nSeq * kvHeads][], randRows = new int[nSeq * kvHeads][];
            int stride = 0, maxAll = 0, maxRand = 0;
            long dAll = 0, dRand = 0;
            float[][] gotAll = new float[kernels.size()][q.length], gotRand = new float[kernels.size()][q.length];
            if (sparse) {
                Random lr = new Random(seed * 31 + sparseBlk);
                for (int s = 0; s < nSeq; s++) {
                    int packed = caches.get(s).packedLength(layer);
                    for (int g = 0; g < kvHeads; g++) {
                        int[] all = SparseDecodeMask.allBlocks(sparseBlk, lens[s]), rand = SparseDecodeMask.randomRow(lr, sparseBlk, packed, lens[s], 0.3);
                        allRows[s * kvHeads + g] = all;
                        randRows[s * kvHeads + g] = rand;
                        stride = Math.max(stride, Math.max(all.length, rand.length) + 2);
                        maxAll = Math.max(maxAll, all[0]);
                        // the tightest bound allowed: the largest count of blocks the walk visits
                        maxRand = Math.max(maxRand, SparseDecodeMask.fullListed(rand, 0, packed, sparseBlk));
                    }
                }
                int[] flatAll = new int[nSeq * kvHeads * stride], flatRand = new int[flatAll.length];
                for (int r = 0; r < nSeq * kvHeads; r++) {
                    System.arraycopy(allRows[r], 0, flatAll, r * stride, allRows[r].length);
                    System.arraycopy(randRows[r], 0, flatRand, r * stride, randRows[r].length);
                }
                dAll = device.alloc(4L * flatAll.length);
                dRand = device.alloc(4L * flatRand.length);
                device.upload(dAll, flatAll, 0, flatAll.length);
                device.upload(dRand, flatRand, 0, flatRand.length);
            }
            try (CudaPagedAttention.Plan own = attention.plan(caches, layer)) {
                for (int i = 0; i < kernels.size(); i++) {
                    attention.setKernel(kernels.get(i));
                    // the default kernel with the pass's own plan (as the backend decodes), the others with a plan of their own
                    CudaPagedAttention.Plan plan = i == 0 ? passTwo.plan : own;
                    attention.decode(plan, layer, dq, dout);
                    device.download(got[i], 0, dout, q.length);
                    if (sparse) {
                        attention.decodeSparse(plan, layer, dq, dAll, stride, sparseBlk, maxAll, dout);
                        device.download(gotAll[i], 0, dout, q.length);
                        attention.decodeSparse(attention.sparsePlan(plan, sparseBlk, maxRand), layer, dq, dRand, stride, dout);
                        device.download(gotRand[i], 0, dout, q.length);
                    }
                }
                attention.setKernel(kernels.get(0));
            }
            MemorySegment pages = arena.allocate(pool.bytesReserved(), 64);
            device.driver().copyToHost(pages, pool.base(), pool.bytesReserved());

            int mismatches = 0, checked = 0;
            float[][] deqK = new float[nSeq][], deqV = new float[nSeq][];
            MemorySegment scratch = arena.allocate(256);
            float[] run = new float[128];
            for (int s = 0; s < nSeq; s++) {
                CudaPagedKvCache c = caches.get(s);
                MemorySegment ring = arena.allocate(lay.ringBytes(), 64);
                device.driver().copyToHost(ring, c.ring, lay.ringBytes());
                int packed = c.packedLength(layer);
                float[] k = keys[layer][s], v = values[layer][s];
                float[] dkS = new float[k.length], dvS = new float[v.length];
                for (int t = 0; t < lens[s]; t++) {
                    for (int h = 0; h < kvHeads; h++) {
                        for (int ch = 0; ch < d; ch++) {
                            int i = t * kvDim + h * d + ch;
                            if (t < packed) {
                                long region = c.pageOffset(t) + lay.region(layer, h);
                                dkS[i] = lay.key(pages, region, t % page, ch);
                                dvS[i] = lay.value(pages, region, t % page, ch);
                            } else {
                                long slot = 4L * ((long) (layer * bt + t % bt) * kvDim + h * d + ch);
                                dkS[i] = ring.get(F32, slot);
                                dvS[i] = ring.get(F32, lay.ringBytes() / 2 + slot);
                            }
                        }
                    }
                }
                // What the CPU quantizer stores for the same rows (the ring holds them unquantized).
                float[] expK = k.clone(), expV = v.clone();
                if (spec.format() == KvFormat.FP16) {
                    for (int i = 0; i < packed * kvDim; i++) {
                        expK[i] = Float.float16ToFloat(Float.floatToFloat16(k[i]));
                        expV[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
                    }
                } else {
                    int bits = spec.format().bits(), g = spec.group(), cg = Math.min(g, d);
                    for (int h = 0; h < kvHeads; h++) {
                        if (spec.keys() == KeyGrouping.CHANNEL) {
                            for (int b = 0; b < packed; b += g) {
                                for (int ch = 0; ch < d; ch++) {
                                    int off = b * kvDim + h * d + ch;
                                    GroupQuantizer.quantize(k, off, kvDim, g, bits, scratch, 0, 200);
                                    GroupQuantizer.dequantize(scratch, 0, 200, g, bits, expK, off, kvDim);
                                }
                            }
                        }
                        for (int t = 0; t < packed; t++) {
                            for (int j = 0; j < d / cg; j++) {
                                int off = t * kvDim + h * d + j * cg;
                                if (spec.keys() == KeyGrouping.TOKEN) {
                                    GroupQuantizer.quantize(k, off, 1, cg, bits, scratch, 0, 200);
                                    GroupQuantizer.dequantize(scratch, 0, 200, cg, bits, expK, off, 1);
                                }
                                GroupQuantizer.quantize(v, off, 1, cg, bits, scratch, 0, 200);
                                GroupQuantizer.dequantize(scratch, 0, 200, cg, bits, expV, off, 1);
                            }
                        }
                    }
                }
                for (int i = 0; i < k.length; i++) {
                    if (Float.compare(expK[i], dkS[i]) != 0) mismatches++;
                    if (Float.compare(expV[i], dvS[i]) != 0) mismatches++;
                    checked += 2;
                }
                deqK[s] = dkS;
                deqV[s] = dvS;
            }
            double[] ref = sparse ? null : attend(q, deqK, deqV, lens, heads, kvHeads, d);
            double[] exact = sparse ? null : attend(q, keys[layer], values[layer], lens, heads, kvHeads, d);
            double maxV = 0, scoreMass = 0;
            for (int s = 0; s < nSeq; s++) {
                for (float x : deqV[s]) maxV = Math.max(maxV, Math.abs(x));
                scoreMass = Math.max(scoreMass, scoreMass(q, deqK[s], lens[s], s, heads, kvHeads, d));
            }
            if (sparse) {
                boolean[][] mask = new boolean[nSeq * kvHeads][];
                int attended = 0, positions = 0;
                for (int s = 0; s < nSeq; s++) {
                    int packed = caches.get(s).packedLength(layer);
                    for (int g = 0; g < kvHeads; g++) {
                        mask[s * kvHeads + g] = SparseDecodeMask.attended(randRows[s * kvHeads + g], 0, sparseBlk, packed, lens[s]);
                        attended += SparseDecodeMask.attendedCount(randRows[s * kvHeads + g], 0, sparseBlk, packed, lens[s]);
                        positions += lens[s];
                    }
                }
                double[] masked = attendMasked(q, deqK, deqV, lens, heads, kvHeads, d, mask);
                for (int i = 0; i < kernels.size(); i++) {
                    String kname = spec.format().quantized() ? " " + kernels.get(i).name().toLowerCase().replace('_', '-') : "";
                    double[] dense = new double[q.length];
                    for (int j = 0; j < q.length; j++) dense[j] = got[i][j];
                    sparseRow(name + kname + " all blocks = dense", gotAll[i], dense, maxV, scoreMass, mismatches, checked,
                            "against the dense decode of the same kernel and cache");
                    sparseRow(name + kname + " random p0.3", gotRand[i], masked, maxV, scoreMass, mismatches, checked,
                            String.format("against fp64 over the stored cache, masked: %d of %d positions attended (all rows), maxListed %d", attended,
                                    positions, maxRand));
                }
                for (CudaPagedKvCache c : caches) c.release();
                for (long p : new long[] {dk, dv, dq, dout, dAll, dRand}) device.free(p);
                return;
            }
            double absExact = 0;
            for (int i = 0; i < got.length; i++) absExact = Math.max(absExact, Math.abs(ref[i] - exact[i]));
            // One bound for every kernel: folded, codes reach the tensor cores exactly and q*scale and P*scale are
            // rounded to fp16 once each, as the per-element kernel rounds each decoded key and value once.
            for (int i = 0; i < kernels.size(); i++) {
                String kname = spec.format().quantized() ? " " + kernels.get(i).name().toLowerCase().replace('_', '-') : "";
                row(name + kname, got[i], ref, maxV, scoreMass, mismatches, checked, absExact);
            }
            for (CudaPagedKvCache c : caches) c.release();
            for (long p : new long[] {dk, dv, dq, dout}) device.free(p);
        }
    }

    private void row(String name, float[] got, double[] ref, double maxV, double scoreMass, int mismatches, int checked, double absExact) {
        boundRow("kv-gpu", name, got, ref, maxV, scoreMass, mismatches, checked, String.format("vs fp32 over unquantized rows: %.2e (not gated)", absExact / maxV));
    }

    /** A "seer-decode" row: the same bound as the dense rows ({@link #row}), against {@code ref}. */
    private void sparseRow(String name, float[] got, double[] ref, double maxV, double scoreMass, int mismatches, int checked, String note) {
        boundRow("seer-decode", name, got, ref, maxV, scoreMass, mismatches, checked, note);
    }

    private void boundRow(String group, String name, float[] got, double[] ref, double maxV, double scoreMass, int mismatches, int checked, String note) {
        double abs = 0;
        boolean finite = true;
        for (int i = 0; i < got.length; i++) {
            if (!Float.isFinite(got[i])) finite = false;
            abs = Math.max(abs, Math.abs(got[i] - ref[i]));
        }
        // The kernel feeds the tensor cores fp16: q and each decoded key (score error up to 2u * scale*sum|q||k|,
        // which moves the softmax weights by at most twice that in sum), the weights, and each decoded value (u
        // each, relative): |error| <= u * max|v| * (2 + 4 * max scale*sum|q||k|), u = 2^-11, to first order.
        double tol = HALF_EPS * (2 + 4 * scoreMass), rel = abs / maxV;
        boolean pass = finite && rel <= tol && mismatches == 0;
        sink.accept(new CudaCheck.Row(group, name, abs, rel, tol, pass, String.format("%s; packer vs GroupQuantizer: %d of %d values differ%s",
                note, mismatches, checked, finite ? "" : "; non-finite output")));
    }

    /** max over heads and positions of scale * sum_c |q_c k_c| for sequence s. */
    private static double scoreMass(float[] q, float[] k, int len, int s, int heads, int kvHeads, int d) {
        double scale = 1 / Math.sqrt(d), best = 0;
        int gq = heads / kvHeads, kvDim = kvHeads * d;
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t < len; t++) {
                double m = 0;
                for (int c = 0; c < d; c++) m += Math.abs(q[(s * heads + h) * d + c] * k[t * kvDim + h / gq * d + c]);
                best = Math.max(best, scale * m);
            }
        }
        return best;
    }

    /** Attention in double of query row s over keys/values [t][kvDim] of sequence s, every head. */
    static double[] attend(float[] q, float[][] keys, float[][] values, int[] lens, int heads, int kvHeads, int d) {
        return attendMasked(q, keys, values, lens, heads, kvHeads, d, null);
    }

    /** {@link #attend} over the positions t with mask[s * kvHeads + kvHead][t] only (a null mask: every position). */
    static double[] attendMasked(float[] q, float[][] keys, float[][] values, int[] lens, int heads, int kvHeads, int d, boolean[][] mask) {
        double[] out = new double[q.length];
        int gq = heads / kvHeads, kvDim = kvHeads * d;
        double scale = 1 / Math.sqrt(d);
        for (int s = 0; s < lens.length; s++) {
            for (int h = 0; h < heads; h++) {
                int kv = h / gq * d;
                boolean[] on = mask == null ? null : mask[s * kvHeads + h / gq];
                double[] w = new double[lens[s]];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < lens[s]; t++) {
                    if (on != null && !on[t]) continue;
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double) q[(s * heads + h) * d + c] * keys[s][t * kvDim + kv + c];
                    w[t] = dot * scale;
                    max = Math.max(max, w[t]);
                }
                double sum = 0;
                for (int t = 0; t < lens[s]; t++) if (on == null || on[t]) sum += w[t] = Math.exp(w[t] - max);
                for (int t = 0; t < lens[s]; t++) {
                    if (on != null && !on[t]) continue;
                    for (int c = 0; c < d; c++) out[(s * heads + h) * d + c] += w[t] / sum * values[s][t * kvDim + kv + c];
                }
            }
        }
        return out;
    }

    // ---- bad input ---------------------------------------------------------------------------------------------

    private void badInput(CudaDevice device) {
        KvSpec int4 = new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL);
        refused("head dim 96", "supports head dims 64, 128 and 256", () -> new CudaKvLayout(int4, 1, 1, 96));
        refused("--kv-group 48", "--kv-group must be 32, 64 or 128", () -> new KvSpec(KvFormat.INT2, 48, KeyGrouping.TOKEN));
        CudaKvLayout lay = new CudaKvLayout(int4, 1, 1, 64);
        refused("GQA 32 query heads per KV head", "up to 16 query heads per KV head", () -> new CudaPagedAttention(device, lay, 32));
        CudaPagedAttention attention = new CudaPagedAttention(device, lay, 4);
        try (CudaKvPool pool = new CudaKvPool(device, lay, 2 * lay.pageBytes())) {
            CudaPagedKvCache c = attention.newCache(pool, 1000);
            long rows = device.alloc(4L * 300 * 64 * 2);
            refused("sequence outgrows the page pool", "KV cache pool exhausted: a sequence of 300 positions needs 3 more pages",
                    () -> attention.append(0, List.of(c), new int[] {0}, new int[] {300}, rows, rows + 4L * 300 * 64));
            refused("--kv-fill beyond the page pool", "KV cache pool exhausted: a sequence of 300 positions needs 3 more pages",
                    () -> new CudaKvFill(device, attention).fill(c, 300, 1));
            boolean untouched = c.length(0) == 0 && c.pagesHeld() == 0 && pool.pagesInUse() == 0;
            sink.accept(new CudaCheck.Row("kv-gpu", "refused append leaves cache and pool as they were", untouched ? 0 : 1, untouched ? 0 : 1, 0,
                    untouched, "length " + c.length(0) + ", pages held " + c.pagesHeld() + ", pool pages in use " + pool.pagesInUse()));
            c.release();
            device.free(rows);
        }
    }

    /** A fill of every layer: the lengths, pages and ring split it must leave, and a decode over it that is finite. */
    private void fillCase(CudaDevice device) {
        KvSpec spec = new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL);
        int layers = 3, kvHeads = 2, d = 64, heads = 8, positions = 1000;
        CudaKvLayout lay = new CudaKvLayout(spec, layers, kvHeads, d);
        CudaPagedAttention attention = new CudaPagedAttention(device, lay, heads);
        try (CudaKvPool pool = new CudaKvPool(device, lay, 9 * lay.pageBytes())) {
            CudaPagedKvCache c = attention.newCache(pool, positions + 1);
            new CudaKvFill(device, attention).fill(c, positions, 5);
            boolean lengths = true;
            for (int l = 0; l < layers; l++) lengths &= c.length(l) == positions && c.packedLength(l) == 992;
            long q = device.alloc(4L * heads * d), o = device.alloc(4L * heads * d);
            attention.fillRandom(q, (long) heads * d, 3, 0.5f, 0, 0f);
            float[] out = new float[heads * d];
            try (CudaPagedAttention.Plan plan = attention.plan(List.of(c), layers - 1)) {
                attention.decode(plan, layers - 1, q, o);
                device.download(out, 0, o, out.length);
            }
            boolean finite = true, nonZero = false;
            for (float x : out) {
                finite &= Float.isFinite(x);
                nonZero |= x != 0;
            }
            boolean pass = lengths && c.pagesHeld() == 8 && pool.pagesInUse() == 8 && finite && nonZero;
            sink.accept(new CudaCheck.Row("kv-gpu", "--kv-fill 1000 positions x 3 layers (int4 g32)", pass ? 0 : 1, pass ? 0 : 1, 0, pass,
                    "every layer " + (lengths ? "holds 1000 (992 packed)" : "has the WRONG length") + ", pages held " + c.pagesHeld()
                            + " of 8, decode " + (finite && nonZero ? "finite" : "NOT finite or all zero")));
            c.release();
            device.free(q);
            device.free(o);
        }
    }

    private void refused(String what, String expected, Runnable r) {
        String message = "not refused";
        boolean pass = false;
        try {
            r.run();
        } catch (BitcapException e) {
            message = e.getMessage();
            pass = message.contains(expected);
        }
        sink.accept(new CudaCheck.Row("kv-gpu", "refuses " + what, pass ? 0 : 1, pass ? 0 : 1, 0, pass, message));
    }
}
