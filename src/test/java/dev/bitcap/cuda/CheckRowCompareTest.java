package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The comparison every GPU check row is made of (runs without a GPU). */
class CheckRowCompareTest {
    @Test
    void relativeToTheLargestReferenceValue() {
        CudaCheck.Row r = CudaCheck.Row.compare("g", "n", new float[] {4f, -2f}, new float[] {4f, -2.001f}, 1e-3, "note");
        assertEquals(0.001, r.absError(), 1e-6);
        assertEquals(0.001 / 4, r.relError(), 1e-6);
        assertTrue(r.pass());
        assertEquals("note", r.note());
        assertFalse(CudaCheck.Row.compare("g", "n", new float[] {4f}, new float[] {4.1f}, 1e-3, "").pass());
    }

    @Test
    void nonFiniteOrMissingOutputFails() {
        CudaCheck.Row nan = CudaCheck.Row.compare("g", "n", new float[] {1f, 2f}, new float[] {1f, Float.NaN}, 1, "");
        assertFalse(nan.pass());
        assertEquals("non-finite or missing output", nan.note());
        assertFalse(CudaCheck.Row.compare("g", "n", new float[] {1f, 2f}, new float[] {1f}, 1, "").pass());
    }

    @Test
    void anAllZeroReferenceUsesTheAbsoluteError() {
        assertTrue(CudaCheck.Row.compare("g", "n", new float[] {0f}, new float[] {1e-7f}, 1e-6, "").pass());
        assertFalse(CudaCheck.Row.compare("g", "n", new float[] {0f}, new float[] {1e-5f}, 1e-6, "").pass());
    }
}
