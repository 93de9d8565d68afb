package dev.bitcap.cap;

import dev.bitcap.BitcapException;
import dev.bitcap.hw.GpuProbe;

/** GPU 0's measured ceilings for a cap run on cuda: HBM read bandwidth and the best measured throughput of the compute dtype. */
public final class GpuCeilings {
    private GpuCeilings() {}

    /**
     * Short probes: HBM read over 4 GiB (1 GiB read 3.5 TB/s on the H200 against 4.26 over 4 GiB, the kernel being
     * too short to hide its start and tail), no latency sweep, tensor cores only for a 16/8-bit compute dtype. A GPU
     * that cannot be opened gives NaN ceilings naming why.
     */
    public static Ceilings measure(String computeDtype) {
        GpuProbe.Options quick = GpuProbe.Options.quick();
        GpuProbe.Options o = new GpuProbe.Options(4L << 30, 0, quick.loadsPerPoint(), quick.fmaIters(), quick.mmaIters(),
                quick.wgmmaIters(), quick.runs(), !computeDtype.equals("fp32"));
        try {
            return of(GpuProbe.run(0, o, line -> {}), computeDtype);
        } catch (BitcapException e) {
            return new Ceilings("measured cuda: not probed (" + e.getMessage() + ")", Double.NaN, Double.NaN);
        }
    }

    static Ceilings of(GpuProbe.Result r, String computeDtype) {
        Double bw = r.bandwidth("hbm_read"), peak = r.best(computeDtype);
        return new Ceilings("measured cuda " + computeDtype + " (" + r.device() + ")", bw == null ? Double.NaN : bw * 1e9, peak == null ? Double.NaN : peak * 1e12);
    }
}
