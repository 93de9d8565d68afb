package dev.bitcap.eval;

import static org.junit.jupiter.api.Assertions.*;

import dev.bitcap.BitcapException;
import dev.bitcap.compress.ModelQuantizer;
import dev.bitcap.compress.QuantMethod;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.testing.SharedData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class KlDivergenceTest {
    private static float[] logitsOf(double... probabilities) {
        float[] out = new float[probabilities.length];
        // softmax is shift-invariant: the +3 checks that only differences of logits matter
        for (int i = 0; i < out.length; i++) out[i] = (float) (Math.log(probabilities[i]) + 3);
        return out;
    }

    /** KL(P‖Q) = Σ p·ln(p/q), written out by hand for two small distributions, in both directions. */
    @Test
    void handComputedCases() {
        float[] p = logitsOf(0.5, 0.25, 0.25), u = logitsOf(1 / 3.0, 1 / 3.0, 1 / 3.0);
        double expected = 0.5 * Math.log(1.5) + 2 * 0.25 * Math.log(0.75); // 0.0589086
        assertEquals(expected, KlDivergence.klOfLogits(p, u, 0, 3), 1e-7);
        float[] a = logitsOf(0.9, 0.1), b = logitsOf(0.5, 0.5);
        assertEquals(0.9 * Math.log(1.8) + 0.1 * Math.log(0.2), KlDivergence.klOfLogits(a, b, 0, 2), 1e-7); // 0.368064
        assertEquals(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(5), KlDivergence.klOfLogits(b, a, 0, 2), 1e-7); // 0.510826
        assertEquals(0.0, KlDivergence.klOfLogits(p, p.clone(), 0, 3));
    }

    @Test
    void rowOffsetSelectsTheRow() {
        float[] two = {0, 0, 5, 1}, other = {9, -9, 5, 1};
        assertEquals(0.0, KlDivergence.klOfLogits(two, other, 2, 2));
        assertTrue(KlDivergence.klOfLogits(two, other, 0, 2) > 1);
    }

    @Test
    void argmaxTakesTheLowestIdOnTies() {
        assertEquals(1, KlDivergence.argmax(new float[] {0, 2, 2, 1}, 0, 4));
        assertEquals(0, KlDivergence.argmax(new float[] {7, 2, 7, 1}, 0, 4));
    }

    @Test
    void windowsFollowMaxTokensAndMaxWindows() {
        int[] ids = new int[1000];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        assertEquals(3, EvalWindows.of(ids, 256, 0, 0).count());
        assertEquals(2, EvalWindows.of(ids, 256, 767, 0).count());
        assertEquals(1, EvalWindows.of(ids, 256, 767, 1).count());
        assertEquals(3, EvalWindows.of(ids, 256, 100_000, 0).count());
        EvalWindows w = EvalWindows.of(ids, 256, 600, 0);
        assertEquals(512, w.tokens());
        assertEquals(510, w.predictions());
        assertEquals(256, w.window(1)[0]);
        assertThrows(BitcapException.class, () -> EvalWindows.of(ids, 256, 255, 0));
        assertThrows(BitcapException.class, () -> EvalWindows.of(ids, 2000, 0, 0));
        assertThrows(BitcapException.class, () -> EvalWindows.of(ids, 1, 0, 0));
    }

    private static int[] storyIds(LoadedModel m) throws Exception {
        String text = Files.readString(SharedData.require("text/tinystories-val.txt"), StandardCharsets.UTF_8);
        return m.tokenizer().encode(text.substring(0, 20_000), true);
    }

    /** The same model as reference: every log-probability is bit-identical, so the KL is exactly 0, not just small. */
    @Test
    void modelAgainstItselfIsExactlyZero() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin");
        try (LoadedModel a = ModelLoader.load(bin, null); LoadedModel b = ModelLoader.load(bin, null);
             CpuBackend ra = new CpuBackend(a, PassRecorder.NONE); CpuBackend rb = new CpuBackend(b, PassRecorder.NONE)) {
            EvalWindows w = EvalWindows.of(storyIds(a), 128, 0, 4);
            KlDivergence.Result r = KlDivergence.evaluate(ra, rb, w, n -> {});
            assertEquals(0.0, r.meanKl());
            assertEquals(1.0, r.top1Agreement());
            assertEquals(4 * 127, r.positions());
            Perplexity.Result alone = Perplexity.evaluate(ra, w, n -> {});
            assertEquals(alone, r.reference());
            assertEquals(alone, r.model());
        }
    }

    /**
     * A quantized stories260K drifts from the F32 model, and further the fewer bits it keeps; its perplexity here is
     * the one Perplexity gives for it alone (one protocol).
     */
    @Test
    void quantizedModelsDriftMoreWithFewerBits() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin");
        double previous = 0;
        double previousAgreement = 1;
        for (String format : List.of("int8-asym", "int4-asym", "int2-asym")) {
            try (LoadedModel ref = ModelLoader.load(bin, null);
                 LoadedModel q = ModelQuantizer.quantize(ModelLoader.load(bin, null),
                         new ModelQuantizer.Options(QuantFormats.byName(format), 32, QuantMethod.RTN, List.of("lm_head")), null,
                         (n, d, t) -> {}).model();
                 CpuBackend rr = new CpuBackend(ref, PassRecorder.NONE); CpuBackend rq = new CpuBackend(q, PassRecorder.NONE)) {
                EvalWindows w = EvalWindows.of(storyIds(ref), 128, 0, 4);
                KlDivergence.Result r = KlDivergence.evaluate(rr, rq, w, n -> {});
                assertTrue(r.meanKl() > previous, format + ": KL " + r.meanKl() + " should exceed " + previous);
                assertTrue(r.top1Agreement() <= previousAgreement, format + ": agreement " + r.top1Agreement());
                assertEquals(Perplexity.evaluate(rq, w, n -> {}), r.model());
                assertEquals(Perplexity.evaluate(rr, w, n -> {}), r.reference());
                previous = r.meanKl();
                previousAgreement = r.top1Agreement();
            }
        }
        assertTrue(previous > 0.1, "int2 RTN is far from the F32 model: " + previous);
    }
}
