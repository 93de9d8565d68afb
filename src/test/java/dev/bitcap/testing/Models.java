package dev.bitcap.testing;

import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.LoadedModel;
import java.util.List;

/** Small helpers for tests that run models. */
public final class Models {
    private Models() {}

    /** Logits of every position of {@code ids} from an empty cache. */
    public static float[] allLogits(LoadedModel model, int[] ids) {
        try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
            Sequence seq = backend.newSequence(ids.length);
            return backend.forward(List.of(seq), List.of(ids), true);
        }
    }

    public static int[] toInts(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) out[i] = Math.toIntExact(values[i]);
        return out;
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
