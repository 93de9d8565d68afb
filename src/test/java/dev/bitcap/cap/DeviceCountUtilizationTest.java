package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.bitcap.engine.PassRecord;
import dev.bitcap.model.ModelConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A pass run by several devices together is measured against their total peak: the same bytes, N times the peak. */
class DeviceCountUtilizationTest {
    private static final double H100_BW = 3.35e12, H100_BF16 = 989.4e12;

    @Test
    void fourDevicesQuarterTheUtilisationOfTheSameWork() {
        ModelConfig c = SparseUtilizationTest.preset("mixtral-8x7b");
        ModelCosts costs = ModelCosts.of(c, null, 0, 16, 16, "bf16");
        int[][] routed = SparseUtilizationTest.sameRouting(c, new int[] {0, 1}, new int[] {1, 2});
        PassRecord one = new PassRecord(PassRecord.Mode.DECODE, 2, 2, new int[] {100, 50}, 20_000_000L, 2, routed);
        PassRecord four = new PassRecord(PassRecord.Mode.DECODE, 2, 2, new int[] {100, 50}, 20_000_000L, 2, routed, 4);
        assertEquals(1, one.devices());
        SparseUtilization paper = new SparseUtilization(costs, CountingMode.PAPER, 2);
        PhaseUtilization u1 = paper.phase(List.of(one), PassRecord.Mode.DECODE), u4 = paper.phase(List.of(four), PassRecord.Mode.DECODE);
        // bytes and FLOPs of the pass are the model's, however many devices shared them (hand sums in SparseUtilizationTest)
        assertEquals(36_528_979_968.0 / 0.02, u4.bytesPerSecond(), 1);
        assertEquals(4, u4.devices());
        assertEquals(36_528_979_968.0 / 0.02 / (4 * H100_BW), u4.smbu(H100_BW), 1e-12);
        assertEquals(u1.smfu(H100_BF16) / 4, u4.smfu(H100_BF16), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new PassRecord(PassRecord.Mode.DECODE, 1, 1, new int[] {1}, 1, 0, null, 0));
    }
}
