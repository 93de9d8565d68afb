package dev.bitcap.engine;

/**
 * Who sends which token rows where, for a MoE block under expert parallelism with all-to-all dispatch (the CPU ranks'
 * {@code ExpertExchange} and the CUDA ranks' device exchange share it). Every rank routes all n tokens (identical
 * routing everywhere) and owns a contiguous chunk of them; rank r sends the rows of its tokens, grouped by destination
 * rank, then expert, then token, to the ranks owning the experts they chose. Each expert then runs once over the rows
 * it received, in token order (rank s's tokens come before rank s+1's), the results go back by the reverse exchange,
 * and each rank adds them to its own tokens in ascending expert order, as one process would. Counts are in rows.
 */
public final class ExchangePlan {
    private final int[] lo;
    private final int rank;
    /** Rows this rank sends to / receives from each rank. */
    private final long[] sendRows, receiveRows;
    /** The token of each row this rank sends, in send order. */
    private final int[] sendTokens;
    /** Per expert this rank owns: [expertStart[ex], expertStart[ex + 1]) of the received rows it runs, in token order, and their weights. */
    private final int[] expertStart, expertRows;
    private final float[] expertScales;
    /** Per expert in ascending order: [combineStart[ex], combineStart[ex + 1]) of this rank's tokens and the returned rows they add. */
    private final int[] combineStart, combineTokens, combineRows;

    private ExchangePlan(int[] lo, int rank, long[] sendRows, long[] receiveRows, int[] sendTokens, int[] expertStart, int[] expertRows,
                         float[] expertScales, int[] combineStart, int[] combineTokens, int[] combineRows) {
        this.lo = lo;
        this.rank = rank;
        this.sendRows = sendRows;
        this.receiveRows = receiveRows;
        this.sendTokens = sendTokens;
        this.expertStart = expertStart;
        this.expertRows = expertRows;
        this.expertScales = expertScales;
        this.combineStart = combineStart;
        this.combineTokens = combineTokens;
        this.combineRows = combineRows;
    }

    /**
     * @param chosen the k experts of each of the n tokens ({@link ExpertRouting#chosen}), {@code weight} their weights
     * @param owner the rank owning each expert
     */
    public static ExchangePlan of(int[] chosen, float[] weight, int n, int k, int[] owner, int rank, int ranks) {
        int e = owner.length;
        int[] lo = new int[ranks + 1];
        for (int r = 0; r <= ranks; r++) lo[r] = (int) ((long) r * n / ranks);
        // rows[s][ex]: how many of rank s's tokens chose expert ex
        int[][] rows = new int[ranks][e];
        for (int s = 0; s < ranks; s++) {
            for (int t = lo[s]; t < lo[s + 1]; t++) for (int j = 0; j < k; j++) rows[s][chosen[t * k + j]]++;
        }
        long[] sendRows = new long[ranks], receiveRows = new long[ranks];
        for (int ex = 0; ex < e; ex++) {
            sendRows[owner[ex]] += rows[rank][ex];
            if (owner[ex] == rank) for (int s = 0; s < ranks; s++) receiveRows[s] += rows[s][ex];
        }
        // send order: destination rank, expert, token; the combine reads the returned rows in the same order
        int[] sendTokens = new int[(int) sum(sendRows)];
        int[] blockStart = new int[e];
        int at = 0;
        for (int dest = 0; dest < ranks; dest++) {
            for (int ex = 0; ex < e; ex++) {
                if (owner[ex] != dest) continue;
                blockStart[ex] = at;
                for (int t = lo[rank]; t < lo[rank + 1]; t++) if (choice(chosen, t, k, ex) >= 0) sendTokens[at++] = t;
            }
        }
        int[] combineStart = new int[e + 1];
        for (int ex = 0; ex < e; ex++) combineStart[ex + 1] = combineStart[ex] + rows[rank][ex];
        int[] combineTokens = new int[combineStart[e]], combineRows = new int[combineStart[e]];
        for (int ex = 0; ex < e; ex++) {
            int i = combineStart[ex], row = blockStart[ex];
            for (int t = lo[rank]; t < lo[rank + 1]; t++) {
                if (choice(chosen, t, k, ex) < 0) continue;
                combineTokens[i] = t;
                combineRows[i++] = row++;
            }
        }
        // received rows: by source rank, then (my) expert, then token; each of my experts takes its rows from every source
        int[] cursor = new int[ranks];
        for (int s = 1; s < ranks; s++) cursor[s] = cursor[s - 1] + (int) receiveRows[s - 1];
        int[] expertStart = new int[e + 1];
        for (int ex = 0; ex < e; ex++) {
            int m = 0;
            if (owner[ex] == rank) for (int s = 0; s < ranks; s++) m += rows[s][ex];
            expertStart[ex + 1] = expertStart[ex] + m;
        }
        int[] expertRows = new int[expertStart[e]];
        float[] expertScales = new float[expertStart[e]];
        for (int ex = 0; ex < e; ex++) {
            if (owner[ex] != rank) continue;
            int i = expertStart[ex];
            for (int s = 0; s < ranks; s++) {
                int row = cursor[s];
                for (int t = lo[s]; t < lo[s + 1]; t++) {
                    int j = choice(chosen, t, k, ex);
                    if (j < 0) continue;
                    expertRows[i] = row++;
                    expertScales[i++] = weight[t * k + j];
                }
                cursor[s] = row;
            }
        }
        return new ExchangePlan(lo, rank, sendRows, receiveRows, sendTokens, expertStart, expertRows, expertScales, combineStart, combineTokens,
                combineRows);
    }

    /** The first token this rank owns, and how many. */
    public int firstToken() {
        return lo[rank];
    }

    public int tokens() {
        return lo[rank + 1] - lo[rank];
    }

    /** The first token rank {@code r} owns (r up to the ranks: the end of the last chunk). */
    public int firstTokenOf(int r) {
        return lo[r];
    }

    public long[] sendRows() {
        return sendRows.clone();
    }

    public long[] receiveRows() {
        return receiveRows.clone();
    }

    /** The counts above times {@code width} (floats per row), as the collectives take them. */
    public static long[] times(long[] rows, int width) {
        long[] out = new long[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = rows[i] * width;
        return out;
    }

    public int[] sendTokens() {
        return sendTokens.clone();
    }

    /** Received rows expert {@code ex} runs over (start, then count, in {@link #expertRows}). */
    public int expertStart(int ex) {
        return expertStart[ex];
    }

    public int expertCount(int ex) {
        return expertStart[ex + 1] - expertStart[ex];
    }

    public int[] expertRows() {
        return expertRows.clone();
    }

    public float[] expertScales() {
        return expertScales.clone();
    }

    /** This rank's tokens that chose expert {@code ex} (start, then count, in {@link #combineTokens} / {@link #combineRows}). */
    public int combineStart(int ex) {
        return combineStart[ex];
    }

    public int combineCount(int ex) {
        return combineStart[ex + 1] - combineStart[ex];
    }

    public int[] combineTokens() {
        return combineTokens.clone();
    }

    /** The returned row each entry of {@link #combineTokens} adds: consecutive within one expert. */
    public int[] combineRows() {
        return combineRows.clone();
    }

    /** Which of token t's k choices is expert ex, or -1. */
    private static int choice(int[] chosen, int t, int k, int ex) {
        for (int j = 0; j < k; j++) if (chosen[t * k + j] == ex) return j;
        return -1;
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) s += x;
        return s;
    }
}
