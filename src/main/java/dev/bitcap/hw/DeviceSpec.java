package dev.bitcap.hw;

import java.util.Map;

/**
 * One device of the hardware catalog: its dense peak memory bandwidth and FLOPS per dtype, power and price.
 * Any figure may be unknown (null), e.g. the local CPU before it has been measured or a part with no list price.
 *
 * @param kind            "gpu" or "cpu"
 * @param bandwidthGBs    peak memory bandwidth in GB/s (1e9 bytes/s)
 * @param peakTflops      dense peak per dtype (fp32, tf32, fp16, bf16, fp8, int8, int4, fp4) in TFLOPS or TOPS
 * @param powerW          board power (TDP/TBP) in watts
 * @param priceUsd        purchase price in US dollars
 */
public record DeviceSpec(String id, String name, String kind, Double bandwidthGBs, Map<String, Double> peakTflops, Double powerW,
                         Double priceUsd, String source) {
    public DeviceSpec {
        peakTflops = Map.copyOf(peakTflops);
    }

    /** Peak memory bandwidth in bytes/s, or NaN when unknown. */
    public double bandwidthBytesPerSecond() {
        return bandwidthGBs == null ? Double.NaN : bandwidthGBs * 1e9;
    }

    /** Dense peak for {@code dtype} in FLOP/s, or NaN when the catalog has none. */
    public double flopsPerSecond(String dtype) {
        Double t = peakTflops.get(dtype);
        return t == null ? Double.NaN : t * 1e12;
    }

    public DeviceSpec withMeasured(double bandwidthGBs, Map<String, Double> tflops) {
        return new DeviceSpec(id, name, kind, bandwidthGBs, tflops, powerW, priceUsd, source);
    }
}
