package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The longest-context arithmetic of {@link CudaKvCapacity} at Llama-3.1-8B shapes (32 layers, 8 KV heads, d128). */
class CudaKvCapacityTest {
    private static final long GIB = 1L << 30;

    private static CudaKvLayout layout(KvFormat f) {
        return new CudaKvLayout(new KvSpec(f, 128, KeyGrouping.CHANNEL), 32, 8, 128);
    }

    @Test
    void wholePagesOfWhatIsLeftAfterHeadroomAndRing() {
        CudaKvLayout int4 = layout(KvFormat.INT4);
        // 10 pages and a bit less than an 11th, after the headroom and the sequence's fp32 ring
        long available = CudaKvCapacity.HEADROOM_BYTES + int4.ringBytes() + 11 * int4.pageBytes() - 1;
        CudaKvCapacity.Limit l = CudaKvCapacity.limit(int4.spec(), 32, 8, 128, available, 1);
        assertEquals(10, l.pages());
        assertEquals(10 * 128, l.positionsPerSequence());
        assertEquals(10 * int4.pageBytes(), l.poolBytes());
        assertEquals(32 * 8 * (128 + 8), l.bytesPerPosition(), 0);
        // two sequences share it: each gets half the pages (less its own ring)
        CudaKvCapacity.Limit two = CudaKvCapacity.limit(int4.spec(), 32, 8, 128, available + int4.ringBytes(), 2);
        assertEquals(5 * 128, two.positionsPerSequence());
    }

    @Test
    void anH200AfterLlama8bInt4WeightsHoldsAMillionInt2Positions() {
        // ~139 GiB of device memory less ~5 GiB of int4 weights and cuBLAS: about 130 GiB free
        long free = 130 * GIB;
        List<CudaKvCapacity.Limit> all = CudaKvCapacity.all(128, KeyGrouping.CHANNEL, 32, 8, 128, free, 1);
        assertEquals(List.of("f32", "fp16", "int4", "int2"), all.stream().map(CudaKvCapacity.Limit::format).toList());
        long f32 = all.get(0).positionsPerSequence(), fp16 = all.get(1).positionsPerSequence();
        long int4 = all.get(2).positionsPerSequence(), int2 = all.get(3).positionsPerSequence();
        assertEquals(129 * GIB / (2L * 4 * 32 * 1024), f32);
        assertEquals(2 * 32 * 8 * 128 * 2.0, all.get(1).bytesPerPosition(), 0);
        // per position: f32 256 KiB, fp16 128 KiB, int4 34 KiB, int2 18 KiB
        assertEquals(true, fp16 >= 1_000_000 && fp16 < 1_100_000, "fp16 " + fp16);
        assertEquals(true, int4 > 3_900_000 && int4 < 4_000_000, "int4 " + int4);
        assertEquals(true, int2 > 7_500_000, "int2 " + int2);
        // page granularity
        assertEquals(0, int2 % CudaKvLayout.PAGE_TOKENS);
    }

    @Test
    void nothingLeftGivesZeroAndABadBatchIsRefused() {
        CudaKvLayout int2 = layout(KvFormat.INT2);
        assertEquals(0, CudaKvCapacity.limit(int2.spec(), 32, 8, 128, CudaKvCapacity.HEADROOM_BYTES / 2, 1).positionsPerSequence());
        BitcapException e = assertThrows(BitcapException.class, () -> CudaKvCapacity.limit(int2.spec(), 32, 8, 128, GIB, 0));
        assertEquals("--batch must be >= 1, got 0", e.getMessage());
    }
}
