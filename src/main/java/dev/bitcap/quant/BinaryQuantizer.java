package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Parallel;
import java.util.Arrays;

/**
 * BiLLM-style binarization with GPTQ-like error feedback between blocks of {@value BinaryLayout#BLOCK} columns, the
 * engine of both the {@code billm} and {@code stbllm} methods. For each block, left to right:
 * <ol>
 * <li>Salient columns: each column scores Σ_rows w²/[U]_jj² over kept weights (U = upper Cholesky factor of the
 *     damped H⁻¹); the top k columns are salient, k ∈ [1, 50) chosen to minimise the block's ‖W − Ŵ‖² with
 *     order-2 (residual) binarization of both the salient and the other weights, as BiLLM does.</li>
 * <li>Break-points: the other kept weights are split by |w| into R regions, the thresholds searched over the
 *     10%, 11%, …, 90% quantiles of the block's |w| (one threshold for R = 2, every pair p₁ &lt; p₂ for R = 3),
 *     minimising the block's ‖W − Ŵ‖² with order-1 binarization per region.</li>
 * <li>Each row fits μ, α per region (order 1) and μ₁, α₁, μ₂, α₂ on its salient weights (order 2), over kept
 *     weights only, rounds them to fp16 and encodes each weight to the nearest value those parameters give.</li>
 * <li>Feedback: with D = W_B − Q_B (pruned weights count as quantized to 0, so their loss is compensated too), the
 *     remaining columns get W_rest −= D·U_BB⁻¹·U_B,rest: the exact least-squares compensation under H for fixing
 *     the whole block at once (BiLLM divides by diag(U_BB) instead, exact only when U_BB is diagonal).</li>
 * </ol>
 * The N:M mask is fixed before the loop and applied in every block, so the feedback never re-densifies pruned
 * weights. Block-level choices sum over rows in fixed chunks, so a result does not depend on the thread count.
 */
public final class BinaryQuantizer {
    /** BiLLM searches k in [1, 50) salient columns per block. */
    static final int MAX_SALIENT = 49;
    /** Break-point candidates: the 10% .. 90% quantiles in steps of 1%. */
    static final int CANDIDATES = 81;
    private static final int ROW_CHUNK = 16;

    private BinaryQuantizer() {}

    /**
     * Binarizes {@code w} ({@code rows x cols}, row-major, rows = outputs) with the Hessian {@code h} = 2·XᵀX/n.
     * {@code keep} is the N:M mask (true = kept, {@link NmMask}) or null for dense, {@code keptPer8} its N (8 when
     * dense), {@code regions} 2 (BiLLM) or 3 (STBLLM). The inputs are not changed. {@code name} names the layer in
     * errors.
     */
    public static BinaryQuantized quantize(String name, float[] w, int rows, int cols, double[] h, boolean[] keep, int keptPer8, int regions) {
        LayerStatistics.checkLayer(name, w, rows, cols, cols);
        BinaryLayout.check(keptPer8, regions);
        if ((long) cols * cols != h.length) throw new BitcapException(name + ": Hessian has " + h.length + " values, expected " + cols + "x" + cols);
        if ((keep == null) != (keptPer8 == BinaryLayout.M) || (keep != null && keep.length != w.length)) {
            throw new IllegalArgumentException(name + ": mask does not match " + keptPer8 + ":8 on " + rows + "x" + cols);
        }
        boolean[] dead = new boolean[cols];
        double[] u = GptqQuantizer.inverseFactor(name, h, cols, dead);
        return new Run(w, rows, cols, u, dead, keep, keptPer8, regions).run();
    }

    /** One matrix's working state. */
    private static final class Run {
        final int rows, cols, keptPer8, regions, pc, blocks;
        final double[] work, u;
        final boolean[] keep, salient;
        final byte[] signs, states;
        final float[] params;

        Run(float[] w, int rows, int cols, double[] u, boolean[] dead, boolean[] keep, int keptPer8, int regions) {
            this.rows = rows;
            this.cols = cols;
            this.u = u;
            this.keep = keep;
            this.keptPer8 = keptPer8;
            this.regions = regions;
            this.pc = BinaryLayout.paramsPerBlock(regions);
            this.blocks = BinaryLayout.blocksPerRow(cols);
            this.work = new double[rows * cols];
            for (int i = 0; i < work.length; i++) work[i] = dead[i % cols] ? 0 : w[i];
            this.salient = new boolean[cols];
            this.signs = new byte[rows * cols];
            this.states = new byte[rows * cols];
            this.params = new float[rows * blocks * pc];
        }

        boolean kept(int r, int c) {
            return keep == null || keep[r * cols + c];
        }

        BinaryQuantized run() {
            for (int b = 0; b < blocks; b++) {
                int b0 = b * BinaryLayout.BLOCK, b1 = Math.min(cols, b0 + BinaryLayout.BLOCK);
                int[] ranked = rankColumns(b0, b1);
                int k = salientCount(b0, b1, ranked);
                for (int i = 0; i < k; i++) salient[b0 + ranked[i]] = true;
                double[] thresholds = thresholds(b0, b1);
                int block = b;
                Parallel.forRange(rows, 8, (r0, r1) -> {
                    double[] q = new double[b1 - b0], e = new double[b1 - b0];
                    for (int r = r0; r < r1; r++) {
                        quantizeRow(r, block, b0, b1, thresholds, q);
                        feedback(r, b0, b1, q, e);
                    }
                });
            }
            return new BinaryQuantized(rows, cols, keptPer8, regions, salient, signs, states, params);
        }

        /** The block's columns by BiLLM's Hessian salience Σ_rows w²/U_jj², highest first (ties: lower column). */
        int[] rankColumns(int b0, int b1) {
            int bw = b1 - b0;
            double[] score = new double[bw];
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < bw; j++) {
                    int c = b0 + j;
                    if (!kept(r, c)) continue;
                    double d = u[c * cols + c], v = work[r * cols + c];
                    score[j] += v * v / (d * d);
                }
            }
            Integer[] order = new Integer[bw];
            for (int j = 0; j < bw; j++) order[j] = j;
            Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a]) : Integer.compare(a, b));
            int[] ranked = new int[bw];
            for (int j = 0; j < bw; j++) ranked[j] = order[j];
            return ranked;
        }

        /** BiLLM's structural search: the k in [1, 50) (and below the block width) with the least order-2 error. */
        int salientCount(int b0, int b1, int[] ranked) {
            int bw = b1 - b0, kMax = Math.min(MAX_SALIENT, bw - 1);
            if (kMax < 1) return 0;
            double[] total = sumOverRows(kMax + 1, (r, err) -> {
                double[] vals = new double[bw];
                boolean[] in = new boolean[bw];
                for (int j = 0; j < bw; j++) {
                    vals[j] = work[r * cols + b0 + ranked[j]];
                    in[j] = kept(r, b0 + ranked[j]);
                }
                for (int k = 1; k <= kMax; k++) err[k] += Binarize.order2Error(vals, in, 0, k) + Binarize.order2Error(vals, in, k, bw);
            });
            int best = 1;
            for (int k = 2; k <= kMax; k++) if (total[k] < total[best]) best = k;
            return best;
        }

        /** The R−1 break-points on |w| for the block's non-salient kept weights, searched over quantiles. */
        double[] thresholds(int b0, int b1) {
            int bw = b1 - b0;
            double[] all = new double[rows * bw];
            int m = 0;
            for (int r = 0; r < rows; r++) {
                for (int c = b0; c < b1; c++) if (!salient[c] && kept(r, c)) all[m++] = Math.abs(work[r * cols + c]);
            }
            if (m == 0) return new double[regions - 1];
            Arrays.sort(all, 0, m);
            double[] cand = new double[CANDIDATES];
            for (int i = 0; i < CANDIDATES; i++) cand[i] = quantile(all, m, (10 + i) / 100.0);
            int pairs = regions == 2 ? CANDIDATES : CANDIDATES * CANDIDATES;
            double[] total = sumOverRows(pairs, (r, err) -> {
                double[] v = new double[bw];
                int n = 0;
                for (int c = b0; c < b1; c++) if (!salient[c] && kept(r, c)) v[n++] = work[r * cols + c];
                double[] sorted = Binarize.sortByMagnitude(v, n);
                int[] pos = new int[CANDIDATES];
                for (int i = 0, p = 0; i < CANDIDATES; i++) {
                    while (p < n && Math.abs(sorted[p]) <= cand[i]) p++;
                    pos[i] = p;
                }
                if (regions == 2) {
                    for (int i = 0; i < CANDIDATES; i++) err[i] += Binarize.order1Error(sorted, 0, pos[i]) + Binarize.order1Error(sorted, pos[i], n);
                    return;
                }
                double[] low = new double[CANDIDATES], high = new double[CANDIDATES];
                for (int i = 0; i < CANDIDATES; i++) {
                    low[i] = Binarize.order1Error(sorted, 0, pos[i]);
                    high[i] = Binarize.order1Error(sorted, pos[i], n);
                }
                for (int i = 0; i < CANDIDATES; i++) {
                    for (int j = i + 1; j < CANDIDATES; j++) err[i * CANDIDATES + j] += low[i] + Binarize.order1Error(sorted, pos[i], pos[j]) + high[j];
                }
            });
            if (regions == 2) {
                int best = 0;
                for (int i = 1; i < CANDIDATES; i++) if (total[i] < total[best]) best = i;
                return new double[] {cand[best]};
            }
            int bi = 0, bj = 1;
            for (int i = 0; i < CANDIDATES; i++) {
                for (int j = i + 1; j < CANDIDATES; j++) if (total[i * CANDIDATES + j] < total[bi * CANDIDATES + bj]) {
                    bi = i;
                    bj = j;
                }
            }
            return new double[] {cand[bi], cand[bj]};
        }

        /** Fits and encodes row r of the block; leaves the decoded values (0 where pruned) in q. */
        void quantizeRow(int r, int b, int b0, int b1, double[] thresholds, double[] q) {
            int bw = b1 - b0, off = (r * blocks + b) * pc, shift = BinaryLayout.pruned(keptPer8) ? 1 : 0;
            double[] v = new double[bw];
            boolean[] in = new boolean[bw];
            // salient weights: order 2
            for (int j = 0; j < bw; j++) {
                v[j] = work[r * cols + b0 + j];
                in[j] = salient[b0 + j] && kept(r, b0 + j);
            }
            Binarize.fitOrder2(v, in, params, off + 2 * regions);
            // the others: order 1 per region
            int[] region = new int[bw];
            for (int j = 0; j < bw; j++) {
                double a = Math.abs(v[j]);
                int k = 0;
                while (k < regions - 1 && a > thresholds[k]) k++;
                region[j] = k;
            }
            for (int k = 0; k < regions; k++) {
                for (int j = 0; j < bw; j++) in[j] = !salient[b0 + j] && kept(r, b0 + j) && region[j] == k;
                Binarize.fitOrder1(v, in, params, off + 2 * k);
            }
            for (int j = 0; j < bw; j++) {
                int c = b0 + j, i = r * cols + c;
                if (!kept(r, c)) {
                    q[j] = 0;
                    continue; // state 0, sign 0
                }
                float x = (float) v[j];
                int state = salient[c] ? -1 : region[j], best = 0;
                float bestErr = Float.POSITIVE_INFINITY, bestVal = 0;
                // nearest value among the weight's choices: sign (and, when salient, the residual sign)
                for (int s = 0; s < 2; s++) {
                    for (int t = 0; t < (state < 0 ? 2 : 1); t++) {
                        int st = (state < 0 ? t : state) + shift;
                        float val = BinaryQuantized.value(params, off, keptPer8, regions, salient[c], st, s == 1);
                        float e = Math.abs(x - val);
                        if (e < bestErr) {
                            bestErr = e;
                            bestVal = val;
                            best = st << 1 | s;
                        }
                    }
                }
                states[i] = (byte) (best >> 1);
                signs[i] = (byte) (best & 1);
                q[j] = bestVal;
            }
        }

        /** W[r, b1:] −= (W_B − Q_B)·U_BB⁻¹·U[B, b1:] for row r (a forward substitution, then one axpy per column of B). */
        void feedback(int r, int b0, int b1, double[] q, double[] e) {
            int bw = b1 - b0, row = r * cols;
            for (int j = 0; j < bw; j++) {
                double s = work[row + b0 + j] - q[j];
                for (int i = 0; i < j; i++) s -= e[i] * u[(b0 + i) * cols + b0 + j];
                e[j] = s / u[(b0 + j) * cols + b0 + j];
            }
            for (int j = 0; j < bw; j++) {
                double a = e[j];
                if (a == 0) continue;
                int ur = (b0 + j) * cols;
                for (int c = b1; c < cols; c++) work[row + c] -= a * u[ur + c];
            }
        }

        /** A per-row contribution summed over rows in fixed chunks (independent of the thread count). */
        interface RowTerm {
            void add(int row, double[] err);
        }

        double[] sumOverRows(int size, RowTerm term) {
            int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
            double[][] partial = new double[chunks][];
            Parallel.forRange(chunks, 1, (c0, c1) -> {
                for (int c = c0; c < c1; c++) {
                    double[] err = new double[size];
                    for (int r = c * ROW_CHUNK; r < Math.min(rows, (c + 1) * ROW_CHUNK); r++) term.add(r, err);
                    partial[c] = err;
                }
            });
            double[] total = new double[size];
            for (double[] p : partial) for (int i = 0; i < size; i++) total[i] += p[i];
            return total;
        }
    }

    /** Linear interpolation between order statistics, as numpy's default quantile. */
    static double quantile(double[] sorted, int n, double p) {
        double pos = p * (n - 1);
        int lo = (int) Math.floor(pos), hi = Math.min(n - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
