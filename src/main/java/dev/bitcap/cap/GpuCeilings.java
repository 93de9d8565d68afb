package dev.bitcap.cap;

import dev.bitcap.BitcapException;
import dev.bitcap.hw.GpuProbe;

/** GPU 0's measured ceilings for a cap run on cuda: HBM read bandwidth and the best measured throughput of the compute dtype. */
public final class GpuCeilings {
    private GpuCeilings() {}

    /** Short probes (1 GiB HBM read, no latency sweep); a GPU that cannot be opened gives NaN ceilings naming why. */
    public static Ceilings measure(String computeDtype) {
        GpuProbe.Options quick = GpuProbe.Options.quick();
        GpuProbe.Options o = new GpuProbe.Options(quick.bandwidthBytes(), 0, quick.loadsPerPoint(), quick.fmaIters(), quick.mmaIters(),
                quick.wgmmaIters(), quick.runs(), !computeDtype.equals("fp32"));
        try {
            return of(GpuProbe.run(0, o, line -> {}), computeDtype);
        } catch (BitcapException e) {
            return new Ceilings("measured cuda: not probed (" + e.getMessage() + ")", Double.NaN, Double.NaN);
        }
    }

    static Ceilings of(GpuProbe.Result r, String computeDtype) {
        Double bw = r.bandwidth("hbm_read"), peak = r.best(computeDtype);
        return new Ceilings("measured cuda " + computeDtype, bw == null ? Double.NaN : bw * 1e9, peak == null ? Double.NaN : peak * 1e12);
    }
}
