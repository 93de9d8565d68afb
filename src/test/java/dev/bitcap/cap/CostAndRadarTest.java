package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class CostAndRadarTest {
    @Test
    void amortisedCostIsPriceShareOfLifetimePlusEnergy() {
        CostModel m = new CostModel(CostModel.Formula.AMORTISED, 3, 1, 0.15, 1);
        // an H100 SXM for one hour: 38,000 $ / (3 · 8766 h) + 0.7 kWh · 0.15 $
        assertEquals(38_000.0 / (3 * 8766) + 0.7 * 0.15, m.usd(3600, 38_000.0, 700.0), 1e-9);
        // one million tokens in 1000 s at half utilisation: the price share doubles
        CostModel half = new CostModel(CostModel.Formula.AMORTISED, 3, 0.5, 0.15, 1);
        assertEquals(38_000.0 * 1000 / (3 * 8766 * 3600 * 0.5) + 0.7 * 1000 / 3600 * 0.15,
                half.usdPerMillionTokens(1000, 1_000_000, 38_000.0, 700.0), 1e-9);
        assertEquals(Double.NaN, m.usd(10, null, 700.0));
    }

    @Test
    void moecapCostIsCapitalDominated() {
        CostModel m = new CostModel(CostModel.Formula.MOECAP, 3, 1, 0.15, 2);
        // 2 GPUs of 35,000 $ and 700 W for 2 hours: E = (1400 + 350)/1000 · 0.15 · 2, K = 70,000 + 7214
        assertEquals(1.2 * (1.75 * 0.15 * 2) + 1.25 * 77_214, m.usd(7200, 35_000.0, 700.0), 1e-9);
    }

    @Test
    void radarFollowsMoeCapNormalisation() {
        // TPOT 0.058, 0.073, 0.150 s (the paper's Qwen3-30B-A3B systems): best 100, worst the baseline 20
        double[] p = RadarScale.performance(new double[] {0.058, 0.073, 0.150});
        assertArrayEquals(new double[] {100, 20 + (0.150 - 0.073) / (0.150 - 0.058) * 80, 20}, p, 1e-9);
        // cost 8920 and 3800 $: ticks 0, 2500, …, 10000, 12500; T = 10000
        assertEquals(List.of(0.0, 2500.0, 5000.0, 7500.0, 10000.0, 12500.0), RadarScale.ticks(8920));
        assertArrayEquals(new double[] {20 + (10000 - 8920) / 10000.0 * 80, 20 + (10000 - 3800) / 10000.0 * 80},
                RadarScale.cost(new double[] {8920, 3800}), 1e-9);
        // accuracy 0.911, 0.800: the lowest sits on the baseline, 1.0 would be at 100
        assertArrayEquals(new double[] {20 + (0.911 - 0.8) / 0.2 * 80, 20}, RadarScale.accuracy(new double[] {0.911, 0.8}), 1e-9);
        assertArrayEquals(new double[] {100, 100}, RadarScale.accuracy(new double[] {1, 1}), 0);
    }

    @Test
    void moecapPrecisionLabels() {
        assertEquals(4, MoeCapPrecision.bytesPerParam(MoeCapPrecision.label("f32", "")));
        assertEquals(1, MoeCapPrecision.bytesPerParam(MoeCapPrecision.label("int8-sym", "rtn")));
        assertEquals(0.5, MoeCapPrecision.bytesPerParam(MoeCapPrecision.label("int4-asym", "rtn")));
        assertEquals(0.5, MoeCapPrecision.bytesPerParam(MoeCapPrecision.label("int2-asym", "gptq"))); // the label is the method
        assertEquals(2, MoeCapPrecision.bytesPerParam(MoeCapPrecision.label("int2-asym", "clip"))); // no row: the code's default
    }
}
