package dev.bitcap.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** RTN error bounds on random groups: ordinary, one-sign, constant, zero, tiny and huge magnitudes. */
class RtnQuantizerProperties {
    enum Kind { GAUSSIAN, POSITIVE, NEGATIVE, CONSTANT, ZERO, TINY, HUGE, OUTLIER }

    @Provide
    Arbitrary<Kind> kinds() {
        return Arbitraries.of(Kind.class);
    }

    /** Two groups of 64 (and a row of 64+40 for the shorter last group) of the given kind. */
    private static float[] weights(Kind kind, long seed, int n) {
        Random r = new Random(seed);
        float[] w = new float[n];
        double scale = switch (kind) {
            case TINY -> 1e-6;
            case HUGE -> 3000;
            default -> 0.02 + r.nextDouble();
        };
        float constant = (float) (r.nextGaussian() * scale);
        for (int i = 0; i < n; i++) {
            double v = r.nextGaussian() * scale;
            w[i] = (float) switch (kind) {
                case POSITIVE -> Math.abs(v);
                case NEGATIVE -> -Math.abs(v);
                case CONSTANT -> constant;
                case ZERO -> 0;
                case OUTLIER -> i == n / 3 ? 40 * scale : v;
                default -> v;
            };
        }
        return w;
    }

    @Property(tries = 60)
    void errorIsWithinHalfAStepAndNearest(@ForAll("kinds") Kind kind, @ForAll long seed) {
        int rows = 2, cols = 104, g = 64;
        float[] w = weights(kind, seed, rows * cols);
        for (QuantFormat f : QuantFormats.all()) {
            GroupQuantized q = RtnQuantizer.quantize(f, w, rows, cols, g, "w");
            int pc = f.paramCount();
            for (int r = 0; r < rows; r++) {
                for (int gi = 0; gi < q.groups(); gi++) {
                    int start = gi * g, end = Math.min(cols, start + g), pOff = (r * q.groups() + gi) * pc;
                    double[] table = new double[1 << f.codeBits()];
                    double maxGap = 0, maxAbs = 0, lo = 0, hi = 0;
                    for (int c = 0; c < table.length; c++) table[c] = f.decode(c, q.params(), pOff);
                    double[] sorted = table.clone();
                    java.util.Arrays.sort(sorted);
                    for (int c = 1; c < sorted.length; c++) maxGap = Math.max(maxGap, sorted[c] - sorted[c - 1]);
                    for (int i = start; i < end; i++) {
                        float x = w[r * cols + i];
                        maxAbs = Math.max(maxAbs, Math.abs(x));
                        lo = Math.min(lo, x);
                        hi = Math.max(hi, x);
                    }
                    for (int k = 0; k < pc; k++) {
                        float p = q.params()[pOff + k];
                        assertTrue(Float.isFinite(p) && p == Float.float16ToFloat(Float.floatToFloat16(p)), f.name() + " parameter not fp16: " + p);
                    }
                    // fp16 rounding of a scale moves the range ends by at most 2^-11 relative, or 2^-25 absolute
                    // per unit of code value when the scale is subnormal; float division may misround near ties.
                    double cmax = 0;
                    for (double v : table) cmax = Math.max(cmax, Math.abs(v));
                    double slack = maxAbs * 0x1p-10 + 0x1p-24 * Math.max(1, 1 << f.codeBits()) + Math.ulp((float) maxAbs) * 4;
                    // int-sym clips positives above (2^(b-1)-1)*s by up to one step, by design
                    double clip = f.name().endsWith("-sym") ? maxGap : 0;
                    for (int i = start; i < end; i++) {
                        float x = w[r * cols + i];
                        double got = q.dequantize(r, i);
                        double best = Double.MAX_VALUE;
                        for (double v : table) best = Math.min(best, Math.abs(x - v));
                        double err = Math.abs(x - got);
                        assertTrue(err <= best + Math.ulp(x) * 2 + 1e-30, f.name() + " " + kind + ": " + x + " -> " + got + " but a value " + best + " away exists");
                        double allowed = x > 0 ? 0.5 * maxGap + clip + slack : 0.5 * maxGap + slack;
                        assertTrue(err <= allowed, f.name() + " " + kind + " group [" + lo + ", " + hi + "]: " + x + " -> " + got + ", error " + err + " > " + allowed);
                    }
                }
            }
        }
    }

    @Example
    void nonFiniteWeightsNameTheTensor() {
        float[] w = new float[64];
        w[37] = Float.NaN;
        BitcapException e = assertThrows(BitcapException.class,
                () -> RtnQuantizer.quantize(QuantFormats.byName("int4-asym"), w, 1, 64, 32, "layers.3.mlp.up"));
        assertTrue(e.getMessage().contains("layers.3.mlp.up") && e.getMessage().contains("37"), e.getMessage());
        w[37] = Float.POSITIVE_INFINITY;
        assertThrows(BitcapException.class, () -> RtnQuantizer.quantize(QuantFormats.byName("nf4"), w, 1, 64, 32, "x"));
    }

    @Example
    void badGroupSizesAreRejected() {
        float[] w = new float[2 * 96];
        QuantFormat f = QuantFormats.byName("afp4");
        assertThrows(BitcapException.class, () -> RtnQuantizer.quantize(f, w, 2, 96, 48, "w"));
        assertThrows(BitcapException.class, () -> RtnQuantizer.quantize(f, w, 2, 96, 0, "w"));
        assertThrows(BitcapException.class, () -> RtnQuantizer.quantize(f, w, 3, 96, 32, "w"));
        assertEquals(96, RtnQuantizer.quantize(f, w, 2, 96, -1, "w").groupSize());
    }
}
