package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.util.List;
import org.junit.jupiter.api.Test;

class QuantFormatsTest {
    private static final List<String> NAMES = List.of("int2-sym", "int3-sym", "int4-sym", "int8-sym", "int2-asym",
            "int3-asym", "int4-asym", "int8-asym", "fp4", "fp3", "afp4", "afp3", "nf4", "nf3", "anf4", "anf3");

    @Test
    void registersEveryFormatInOrder() {
        assertEquals(NAMES, QuantFormats.all().stream().map(QuantFormat::name).toList());
        for (String n : NAMES) assertEquals(n, QuantFormats.byName(n).name());
    }

    @Test
    void codeBitsAndParameterCounts() {
        int[] bits = {2, 3, 4, 8, 2, 3, 4, 8, 4, 3, 4, 3, 4, 3, 4, 3};
        int[] params = {1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2};
        for (int i = 0; i < NAMES.size(); i++) {
            QuantFormat f = QuantFormats.byName(NAMES.get(i));
            assertEquals(bits[i], f.codeBits(), f.name());
            assertEquals(params[i], f.paramCount(), f.name());
        }
    }

    @Test
    void unknownNameListsTheValidOnes() {
        BitcapException e = assertThrows(BitcapException.class, () -> QuantFormats.byName("int5-asym"));
        assertTrue(e.getMessage().contains("int5-asym"), e.getMessage());
        for (String n : NAMES) assertTrue(e.getMessage().contains(n), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }

    @Test
    void groupSizeMustBeAMultipleOf32OrPerChannel() {
        assertThrows(BitcapException.class, () -> QuantFormats.resolveGroupSize(48, 256));
        assertThrows(BitcapException.class, () -> QuantFormats.resolveGroupSize(0, 256));
        assertThrows(BitcapException.class, () -> QuantFormats.resolveGroupSize(-2, 256));
        assertEquals(256, QuantFormats.resolveGroupSize(-1, 256));
        assertEquals(172, QuantFormats.resolveGroupSize(172, 172));
        assertEquals(64, QuantFormats.resolveGroupSize(64, 256));
    }

    @Test
    void bitsPerWeightCountsPaddingAndParameters() {
        QuantFormat int4a = QuantFormats.byName("int4-asym");
        assertEquals(4.25, QuantFormats.bitsPerWeight(int4a, 4096, 128), 0);
        assertEquals((192 * 4 + 2 * 2 * 16) / 172.0, QuantFormats.bitsPerWeight(int4a, 172, 128), 1e-12);
        // per channel: 4096 codes + one (scale, zero) pair per row
        assertEquals(4 + 32.0 / 4096, QuantFormats.bitsPerWeight(int4a, 4096, -1), 1e-12);
        assertEquals(8 + 32.0 / 4096, QuantFormats.bitsPerWeight(QuantFormats.byName("int8-asym"), 4096, -1), 1e-12);
        assertEquals(2 + 32.0 / 64, QuantFormats.bitsPerWeight(QuantFormats.byName("int2-asym"), 4096, 64), 1e-12);
        assertEquals(3 + 16.0 / 128, QuantFormats.bitsPerWeight(QuantFormats.byName("nf3"), 4096, 128), 1e-12);
        assertEquals(3 + 32.0 / 128, QuantFormats.bitsPerWeight(QuantFormats.byName("anf3"), 4096, 128), 1e-12);
        // 100 columns: codes padded to 128, one fp4 scale
        assertEquals((128 * 4 + 16) / 100.0, QuantFormats.bitsPerWeight(QuantFormats.byName("fp4"), 100, -1), 1e-12);
        assertThrows(BitcapException.class, () -> QuantFormats.bitsPerWeight(int4a, 4096, 48));
    }
}
