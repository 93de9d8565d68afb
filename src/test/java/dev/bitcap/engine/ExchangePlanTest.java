package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The all-to-all plans of all ranks fit together: what each rank sends is what its peers expect to receive, every
 * (token, choice) is run by exactly one expert of its owner with its weight, and comes back to the token's rank in
 * ascending expert order. (The CPU ranks run on it: ParallelForwardTest's ep splits are bit-identical to one process.)
 */
class ExchangePlanTest {
    @Test
    void theRanksPlansAgreeAndCoverEveryChoiceOnce() {
        Random r = new Random(3);
        int n = 23, k = 2, e = 8, ranks = 3;
        int[] chosen = new int[n * k];
        float[] weight = new float[n * k];
        for (int t = 0; t < n; t++) {
            int a = r.nextInt(e), b = (a + 1 + r.nextInt(e - 1)) % e;
            chosen[t * k] = a;
            chosen[t * k + 1] = b;
            weight[t * k] = t + 0.25f;
            weight[t * k + 1] = t + 0.75f;
        }
        int[] owner = {0, 0, 1, 1, 1, 2, 2, 0};
        ExchangePlan[] plans = new ExchangePlan[ranks];
        for (int q = 0; q < ranks; q++) plans[q] = ExchangePlan.of(chosen, weight, n, k, owner, q, ranks);

        // what rank a sends to rank b is what b expects from a
        for (int a = 0; a < ranks; a++) for (int b = 0; b < ranks; b++) assertEquals(plans[a].sendRows()[b], plans[b].receiveRows()[a]);

        // simulate the exchange of (token, expert) labels; each expert must see its choices in token order with their weights
        int[][] sendLabels = new int[ranks][];
        for (int a = 0; a < ranks; a++) sendLabels[a] = plans[a].sendTokens();
        int seen = 0;
        for (int b = 0; b < ranks; b++) {
            int[] received = concatenateFrom(plans, sendLabels, b);
            int[] rows = plans[b].expertRows();
            float[] scales = plans[b].expertScales();
            boolean[] used = new boolean[received.length];
            for (int ex = 0; ex < e; ex++) {
                int last = -1;
                for (int i = plans[b].expertStart(ex); i < plans[b].expertStart(ex) + plans[b].expertCount(ex); i++) {
                    assertEquals(b, owner[ex], "only the owner runs an expert");
                    int t = received[rows[i]];
                    assertTrue(t > last, "token order");
                    last = t;
                    int j = chosen[t * k] == ex ? 0 : 1;
                    assertEquals(ex, chosen[t * k + j]);
                    assertEquals(weight[t * k + j], scales[i]);
                    assertTrue(!used[rows[i]], "each received row runs once");
                    used[rows[i]] = true;
                    seen++;
                }
            }
        }
        assertEquals(n * k, seen, "every choice of every token runs once");

        // the returned rows come back in send order: the combine adds each own token's experts in ascending order
        for (int a = 0; a < ranks; a++) {
            ExchangePlan p = plans[a];
            int[] tokens = p.combineTokens(), rows = p.combineRows(), sent = p.sendTokens();
            for (int i = 0; i < tokens.length; i++) assertEquals(sent[rows[i]], tokens[i], "a returned row belongs to the token it is added to");
            for (int ex = 0; ex < e; ex++) {
                for (int i = p.combineStart(ex); i < p.combineStart(ex) + p.combineCount(ex); i++) {
                    int t = tokens[i];
                    assertTrue(t >= p.firstToken() && t < p.firstToken() + p.tokens(), "only own tokens");
                    assertTrue(chosen[t * k] == ex || chosen[t * k + 1] == ex);
                }
            }
            assertEquals(p.tokens() * k, tokens.length);
        }
        assertArrayEquals(new long[] {0, 4, 8}, ExchangePlan.times(new long[] {0, 1, 2}, 4));
    }

    /** Rank b's receive buffer (as token labels): rank a's rows for b, a in order. */
    private static int[] concatenateFrom(ExchangePlan[] plans, int[][] sendLabels, int b) {
        int total = 0;
        for (ExchangePlan p : plans) total += (int) p.sendRows()[b];
        int[] out = new int[total];
        int at = 0;
        for (int a = 0; a < plans.length; a++) {
            int offset = 0;
            for (int c = 0; c < b; c++) offset += (int) plans[a].sendRows()[c];
            for (int i = 0; i < plans[a].sendRows()[b]; i++) out[at++] = sendLabels[a][offset + i];
        }
        return out;
    }
}
