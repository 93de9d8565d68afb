package dev.bitcap.parallel;

import dev.bitcap.BitcapException;

/** Which rank owns each routed expert under expert parallelism. */
public enum ExpertPlacement {
    /** Experts 0..E/N-1 on rank 0, the next E/N on rank 1, and so on (E divisible by N). */
    CONTIGUOUS("contiguous"),
    /** Expert e on rank e mod N (any E). */
    ROUND_ROBIN("round-robin");

    private final String flag;

    ExpertPlacement(String flag) {
        this.flag = flag;
    }

    public String flag() {
        return flag;
    }

    public int owner(int expert, int experts, int ranks) {
        return this == CONTIGUOUS ? expert / (experts / ranks) : expert % ranks;
    }

    public static ExpertPlacement parse(String s) {
        for (ExpertPlacement p : values()) if (p.flag.equals(s)) return p;
        throw new BitcapException("unknown --ep-placement '" + s + "' (valid: contiguous, round-robin)");
    }
}
