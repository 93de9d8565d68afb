package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.model.ModelConfig;

/**
 * How a model is split over {@code ranks} processes. {@code tp}: attention heads (query and KV heads alike, so GQA
 * groups stay whole), dense MLP columns and, without EP, each expert's columns are split {@code tp} ways, with one
 * all-reduce after the attention output projection and one after the MLP or MoE down projection. {@code ep}: MoE
 * experts are placed on {@code ep} ranks and tokens travel to them by all-to-all. Each of tp and ep is 1 or the
 * number of ranks; with tp = 1 every rank computes the whole attention.
 */
public record ParallelPlan(int ranks, int tp, int ep, ExpertPlacement placement) {
    public ParallelPlan {
        if (ranks < 1) throw new BitcapException("--ranks must be >= 1, got " + ranks);
        if (tp != 1 && tp != ranks) throw new BitcapException("--tp " + tp + " must be 1 or the number of ranks (" + ranks + ")");
        if (ep != 1 && ep != ranks) throw new BitcapException("--ep " + ep + " must be 1 or the number of ranks (" + ranks + ")");
        if (ranks > 1 && tp == 1 && ep == 1) throw new BitcapException(ranks + " ranks need --tp " + ranks + " or --ep " + ranks);
    }

    /** The plan of the launch options: ranks default to the larger of tp and ep, and tp to the ranks when neither is given. */
    public static ParallelPlan of(Integer ranks, Integer tp, Integer ep, ExpertPlacement placement) {
        int r = ranks != null ? ranks : Math.max(tp == null ? 1 : tp, ep == null ? 1 : ep);
        int t = tp != null ? tp : (ep != null && ep > 1 ? 1 : r);
        int e = ep != null ? ep : 1;
        return new ParallelPlan(r, t, e, placement);
    }

    public boolean expertParallel() {
        return ep > 1;
    }

    /** The rank owning each of {@code experts} experts under this plan's placement. */
    public int[] expertOwners(int experts) {
        int[] owner = new int[experts];
        for (int e = 0; e < experts; e++) owner[e] = placement.owner(e, experts, ranks);
        return owner;
    }

    /**
     * Whether the CUDA ranks dispatch tokens by all-to-all under this plan ({@code BITCAP_EP_DISPATCH=all-to-all}, ep
     * without tp); otherwise they use the replicated-token form (the default: its rows passed on the H200).
     */
    public boolean tokenDispatch(String variable) {
        if (variable == null || variable.isBlank() || variable.trim().equals("replicated")) return false;
        if (!variable.trim().equals("all-to-all")) {
            throw new BitcapException(EP_DISPATCH_ENV + ": expected replicated or all-to-all, got '" + variable + "'");
        }
        if (!expertParallel() || tp > 1) throw new BitcapException(EP_DISPATCH_ENV + "=all-to-all needs --ep without --tp, got " + this);
        return true;
    }

    public static final String EP_DISPATCH_ENV = "BITCAP_EP_DISPATCH";

    /** Refuses a model this plan cannot split, naming the numbers that do not divide. */
    public void check(ModelConfig c) {
        if (tp > 1) {
            requireDivides("attention heads", c.heads());
            requireDivides("KV heads", c.kvHeads());
            if (c.layers() > 0 && hasDenseLayer(c)) requireDivides("intermediate size", c.intermediateSize());
            if (c.isMoe() && !expertParallel()) requireDivides("expert intermediate size", c.moeIntermediate());
            if (c.hasSharedExpert() && !expertParallel()) requireDivides("shared expert intermediate size", c.sharedExpertIntermediate());
        }
        if (expertParallel()) {
            if (!c.isMoe()) throw new BitcapException("--ep " + ep + " needs a MoE model; " + c.family() + " here has no experts");
            if (placement == ExpertPlacement.CONTIGUOUS && c.experts() % ep != 0) {
                throw new BitcapException("--ep " + ep + " does not divide the " + c.experts() + " experts; use --ep-placement round-robin");
            }
            if (c.experts() < ep) throw new BitcapException("--ep " + ep + " is more ranks than the " + c.experts() + " experts");
        }
    }

    private void requireDivides(String what, int n) {
        if (n % tp != 0) throw new BitcapException("--tp " + tp + " does not divide the " + n + " " + what);
    }

    private static boolean hasDenseLayer(ModelConfig c) {
        for (int l = 0; l < c.layers(); l++) if (!c.isMoeLayer(l)) return true;
        return false;
    }

    @Override
    public String toString() {
        return ranks + " ranks (tp " + tp + ", ep " + ep + (expertParallel() ? ", experts " + placement.flag() : "") + ")";
    }
}
