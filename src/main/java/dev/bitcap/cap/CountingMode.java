package dev.bitcap.cap;

import dev.bitcap.BitcapException;

/** How S-MBU and S-MFU count bytes and FLOPs: as the MoE-CAP paper defines them, or as its public code computes them. */
public enum CountingMode {
    /**
     * The paper's definitions: attention, router, shared expert and only the experts some token in the pass was
     * routed to; KV bytes in the KV format's own bytes; FLOPs with the top-k experts of every token, the router,
     * and attention over each sequence's own context; rates as totals over a phase's passes divided by their time.
     */
    PAPER("paper"),
    /**
     * The public MoE-CAP code's formulas: bytes from the mean distinct experts per layer, one byte width (the
     * weights') for weights and KV; FLOPs per token with one expert and no router, attention over the batch-summed
     * context; S-MBU/S-MFU per pass, then averaged; prefill passes of at most 10 context tokens skipped as warm-up.
     */
    MOECAP_COMPAT("moecap-compat");

    private final String cliName;

    CountingMode(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    public static CountingMode byName(String name) {
        for (CountingMode m : values()) if (m.cliName.equals(name)) return m;
        throw new BitcapException("unknown metrics mode '" + name + "' (valid: paper, moecap-compat)");
    }
}
