package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Every value a format can produce decodes, encodes and decodes again to itself, for a range of fp16 scales. */
class CodebookRoundTripTest {
    private static final float[] SCALES = {1f, 0.5f, 0.013f, 3.7f, 1e-3f, 6e-5f, 2e-7f, 1234f};

    private static float fp16(double v) {
        return Float.float16ToFloat(Float.floatToFloat16((float) v));
    }

    /** Parameter sets for the format, each parameter an fp16 value. */
    private static List<float[]> paramSets(QuantFormat f) {
        List<float[]> sets = new ArrayList<>();
        int maxCode = (1 << f.codeBits()) - 1;
        for (float s0 : SCALES) {
            float s = fp16(s0);
            if (f.paramCount() == 1) sets.add(new float[] {s});
            else if (f.name().startsWith("int")) {
                for (int z : new int[] {0, 1, maxCode / 2, maxCode}) sets.add(new float[] {s, z});
            } else {
                sets.add(new float[] {s, s});
                sets.add(new float[] {s, fp16(s0 * 0.37)});
                sets.add(new float[] {s, 0});
                sets.add(new float[] {0, s});
            }
        }
        return sets;
    }

    @Test
    void everyRepresentableValueRoundTripsExactly() {
        for (QuantFormat f : QuantFormats.all()) {
            for (float[] p : paramSets(f)) {
                for (int c = 0; c < 1 << f.codeBits(); c++) {
                    float v = f.decode(c, p, 0);
                    int back = f.encode(v, p, 0);
                    assertEquals(v, f.decode(back, p, 0), f.name() + " code " + c + " params " + p[0] + (p.length > 1 ? "," + p[1] : ""));
                }
            }
        }
    }

    @Test
    void distinctValuesKeepTheirCode() {
        for (QuantFormat f : QuantFormats.all()) {
            float[] p = f.paramCount() == 1 ? new float[] {0.5f} : f.name().startsWith("int") ? new float[] {0.5f, 2} : new float[] {0.5f, 0.25f};
            TreeSet<Float> seen = new TreeSet<>();
            for (int c = 0; c < 1 << f.codeBits(); c++) {
                float v = f.decode(c, p, 0);
                if (seen.add(v)) assertEquals(c, f.encode(v, p, 0), f.name() + " code " + c);
            }
        }
    }

    @Test
    void tablesAreThePublishedOnes() {
        assertArrayEquals(new float[] {-6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6}, Codebook.FP4.values);
        assertArrayEquals(new float[] {-4, -2, -1, 0, 1, 2, 4}, Codebook.FP3.values);
        float[] nf4 = {-1, -0.6962f, -0.5251f, -0.3949f, -0.2844f, -0.1848f, -0.0911f, 0, 0.0796f, 0.1609f, 0.2461f,
            0.3379f, 0.4407f, 0.5626f, 0.7230f, 1};
        assertArrayEquals(nf4, Codebook.NF4.values, 0.5e-4f);
        assertArrayEquals(new float[] {-1, -0.5350f, -0.2469f, 0, 0.1833f, 0.3820f, 0.6230f, 1}, Codebook.NF3.values, 0.5e-4f);
    }

    @Test
    void fittedParametersFollowTheReferenceFormulas() {
        float[] w = {-0.8f, 0.1f, 0.3f, 1.7f};
        float lo = -0.8f, hi = 1.7f;
        float[] p = new float[2];
        QuantFormats.byName("int4-asym").fit(w, 0, 4, lo, hi, p, 0);
        float s = fp16(2.5 / 15);
        assertEquals(s, p[0]);
        assertEquals(Math.rint(0.8 / s), p[1]);
        QuantFormats.byName("int2-asym").fit(w, 0, 4, lo, hi, p, 0);
        assertEquals(fp16(2.5 / 3), p[0]);
        QuantFormats.byName("afp4").fit(w, 0, 4, lo, hi, p, 0);
        assertEquals(fp16(1.7 / 6), p[0]);
        assertEquals(fp16(0.8 / 6), p[1]);
        QuantFormats.byName("anf3").fit(w, 0, 4, lo, hi, p, 0);
        assertEquals(fp16(1.7), p[0]);
        assertEquals(fp16(0.8), p[1]);
        QuantFormats.byName("fp3").fit(w, 0, 4, lo, hi, p, 0);
        assertEquals(fp16(1.7 / 4), p[0]);
        QuantFormats.byName("int4-sym").fit(w, 0, 4, lo, hi, p, 0);
        assertEquals(fp16(1.7 / 8), p[0]);
        // int4-sym: code c stands for (c - 8) * s
        assertEquals(-8 * p[0], QuantFormats.byName("int4-sym").decode(0, p, 0));
        assertEquals(7 * p[0], QuantFormats.byName("int4-sym").decode(15, p, 0));
    }

    @Test
    void oneSignAndZeroGroupsGetUsableParameters() {
        for (QuantFormat f : QuantFormats.all()) {
            float[] p = new float[2];
            float[] pos = {0.5f, 1f, 2f};
            f.fit(pos, 0, 3, 0, 2f, p, 0);
            double maxGap = 0;
            for (int c = 1; c < 1 << f.codeBits(); c++) maxGap = Math.max(maxGap, Math.abs(f.decode(c, p, 0) - f.decode(c - 1, p, 0)));
            // half a step, plus one step where int-sym clips its top positive level
            double allowed = maxGap * (f.name().endsWith("-sym") ? 1.5 : 0.5) + 1e-3;
            for (float v : pos) assertEquals(v, f.decode(f.encode(v, p, 0), p, 0), allowed, f.name() + " positive " + v);
            assertEquals(0f, f.decode(f.encode(0f, p, 0), p, 0), 1e-3, f.name());
            float[] zero = {0, 0, 0};
            f.fit(zero, 0, 3, 0, 0, p, 0);
            assertEquals(0f, f.decode(f.encode(0f, p, 0), p, 0), 1e-6, f.name() + " zero group");
        }
    }
}
