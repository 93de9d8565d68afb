package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What may share one stacked device matrix (q/k/v, gate/up), and the arithmetic of its row views; no GPU needed. */
class StackedMatrixTest {
    private static QuantizedTensor packed(String format, int rows, int group, float[] scale, Arena arena) {
        float[] w = new float[rows * 256];
        Random r = new Random(rows);
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        return QuantizedTensor.pack(RtnQuantizer.quantize(QuantFormats.byName(format), w, rows, 256, group, "w"), scale, arena);
    }

    @Test
    void matricesOfOneFormatStackAndOthersDoNot() {
        try (Arena arena = Arena.ofConfined()) {
            QuantizedTensor q = packed("int4-asym", 64, 128, null, arena), k = packed("int4-asym", 16, 128, null, arena);
            assertTrue(DeviceMatrix.stackable(q, k));
            assertFalse(DeviceMatrix.stackable(q, packed("int4-asym", 16, 64, null, arena)), "another group size");
            assertFalse(DeviceMatrix.stackable(q, packed("nf4", 16, 128, null, arena)), "another format");
            assertFalse(DeviceMatrix.stackable(q, packed("int4-asym", 16, 128, new float[256], arena)), "an input scale of its own");
            Tensor f32 = Tensor.allocate(arena, DType.F32, 16, 256), bf16 = Tensor.allocate(arena, DType.BF16, 16, 256);
            assertTrue(DeviceMatrix.stackable(f32, Tensor.allocate(arena, DType.F32, 8, 256)));
            assertFalse(DeviceMatrix.stackable(f32, bf16), "another dtype");
            assertFalse(DeviceMatrix.stackable(f32, q), "dense with packed");
        }
    }

    @Test
    void aRowViewOffsetsCodesAndParametersAndSharesTheRest() {
        DeviceMatrix.Packed p = new DeviceMatrix.Packed("int4-asym g128", 4, true, 2, 4, 32, 1_000_000, 7, 9, true, 0);
        DeviceMatrix w = new DeviceMatrix(5_000_000, DType.U8, 6144, 4096, 2048, p);
        DeviceMatrix v = w.rowSlice(5120, 1024);
        assertEquals(5_000_000 + 5120L * 2048, v.pointer());
        assertEquals(1024, v.rows());
        assertEquals(4096, v.cols());
        assertEquals(1_000_000 + 2L * 5120 * 32 * 2, v.packed().params(), "fp16 parameters [rows][groups][2]");
        assertEquals(7, v.packed().table());
        assertEquals(9, v.packed().inputScale());
        assertEquals(2048L * 1024, v.bytes());
        DeviceMatrix dense = new DeviceMatrix(100, DType.BF16, 10, 8, 16, null);
        assertEquals(100 + 3 * 16, dense.rowSlice(3, 7).pointer());
        assertThrows(IllegalArgumentException.class, () -> w.rowSlice(6000, 145));
        assertThrows(IllegalArgumentException.class, () -> w.rowSlice(-1, 2));
    }

    @Test
    void stackingIsOnUnlessTheVariableSaysZero() {
        assertTrue(DeviceWeights.stackingOn(null));
        assertTrue(DeviceWeights.stackingOn("1"));
        assertFalse(DeviceWeights.stackingOn(" 0 "));
    }
}
