package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import org.junit.jupiter.api.Test;

/** The parts of the paged GPU KV cache that need no GPU: sizes, refusals, the kernel source. */
class CudaKvLayoutTest {
    private static CudaKvLayout llama8b(KvFormat f, KeyGrouping k) {
        return new CudaKvLayout(new KvSpec(f, 128, k), 32, 8, 128);
    }

    @Test
    void bytesPerTokenOfLlama8bHeads() {
        // per (token, KV head, layer): int4 64 code bytes + 4 key-parameter + 4 value-parameter bytes (g128)
        assertEquals(32 * 8 * (128 + 8), llama8b(KvFormat.INT4, KeyGrouping.CHANNEL).bytesPerToken(), 0);
        assertEquals(32 * 8 * (64 + 8), llama8b(KvFormat.INT2, KeyGrouping.CHANNEL).bytesPerToken(), 0);
        assertEquals(32 * 8 * (64 + 8), llama8b(KvFormat.INT2, KeyGrouping.TOKEN).bytesPerToken(), 0);
        assertEquals(32 * 8 * 512, llama8b(KvFormat.FP16, KeyGrouping.CHANNEL).bytesPerToken(), 0);
        // a million int2 positions of an 8B model: about 17 GiB of pages
        double gib = llama8b(KvFormat.INT2, KeyGrouping.CHANNEL).bytesPerToken() * (1 << 20) / (1L << 30);
        assertEquals(18.0, gib, 1e-9);
    }

    @Test
    void blocksAreGroupsForIntFormatsAndTilesForFp16() {
        assertEquals(64, new CudaKvLayout(new KvSpec(KvFormat.INT4, 64, KeyGrouping.TOKEN), 2, 2, 64).blockTokens());
        assertEquals(16, new CudaKvLayout(new KvSpec(KvFormat.FP16, 64, KeyGrouping.TOKEN), 2, 2, 64).blockTokens());
        CudaKvLayout l = new CudaKvLayout(new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), 1, 1, 64);
        // 100 positions: 96 packed at the page rate, 4 in the fp32 ring
        assertEquals((long) (l.regionBytes() / 128.0 * 96) + 2L * 4 * 64 * 4, l.decodeBytesPerLayer(100));
    }

    @Test
    void unsupportedHeadDimsAreOneLineErrors() {
        for (int d : new int[] {16, 32, 96, 512}) {
            BitcapException e = assertThrows(BitcapException.class,
                    () -> new CudaKvLayout(new KvSpec(KvFormat.INT4, 32, KeyGrouping.CHANNEL), 1, 1, d));
            assertTrue(e.getMessage().contains("supports head dims 64, 128 and 256, got " + d), e.getMessage());
        }
    }

    @Test
    void kernelSourceIsInTheJarAndListsItsVariants() {
        String src = CudaDevice.source("kv_attention.cu");
        assertTrue(src.startsWith("// variants: -D"));
        for (String k : new String[] {"kv_decode", "kv_combine", "kv_pack", "kv_ring_store"}) assertTrue(src.contains("void __launch_bounds__(") && src.contains(k), k);
    }
}
