package dev.bitcap.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.attention.SeerGate;
import dev.bitcap.tensor.RopeStyle;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The hand-written gate gradients against central finite differences of the loss, for every weight. */
class GateLossTest {
    @ParameterizedTest
    @EnumSource(RopeStyle.class)
    void gradientsMatchFiniteDifferences(RopeStyle style) {
        Random r = new Random(3);
        SeerGate.Shape shape = new SeerGate.Shape(2, 4, 2, 4, 6, 5);
        double[] invFreq = {1.0, 0.1, 0.01};
        SeerGate gate = SeerGate.initialised(shape, invFreq, style, "fp", "test", 11);
        int nb = 6;
        GateSample[] samples = new GateSample[shape.layers()];
        for (int l = 0; l < shape.layers(); l++) samples[l] = randomSample(r, shape, nb);

        for (int l = 0; l < shape.layers(); l++) {
            double[] gq = new double[gate.queryWeights(l).length], gk = new double[gate.keyWeights(l).length];
            double loss = GateLoss.compute(gate, l, samples[l], gq, gk, 1.0);
            assertTrue(loss > 0, "a random gate does not match a random target");
            check(gate, l, samples[l], gate.queryWeights(l), gq);
            check(gate, l, samples[l], gate.keyWeights(l), gk);
        }
    }

    private static void check(SeerGate gate, int layer, GateSample s, double[] weights, double[] analytic) {
        double h = 1e-6;
        double largest = 0;
        for (double g : analytic) largest = Math.max(largest, Math.abs(g));
        assertTrue(largest > 1e-3, "gradient should not vanish");
        for (int i = 0; i < weights.length; i++) {
            double keep = weights[i];
            weights[i] = keep + h;
            double up = GateLoss.compute(gate, layer, s, null, null, 1.0);
            weights[i] = keep - h;
            double down = GateLoss.compute(gate, layer, s, null, null, 1.0);
            weights[i] = keep;
            double numeric = (up - down) / (2 * h);
            assertEquals(numeric, analytic[i], 1e-7 + 1e-5 * Math.abs(numeric), "layer " + layer + " weight " + i);
        }
    }

    /** Random pooled inputs and a random target whose rows are distributions over causal blocks, some entries zero. */
    private static GateSample randomSample(Random r, SeerGate.Shape s, int nb) {
        double[] pq = new double[nb * s.heads() * s.headDim()], pk = new double[nb * s.kvHeads() * 3 * s.headDim()];
        for (int i = 0; i < pq.length; i++) pq[i] = r.nextGaussian() * 2;
        for (int i = 0; i < pk.length; i++) pk[i] = r.nextGaussian() * 2;
        double[] target = new double[s.heads() * nb * nb];
        for (int h = 0; h < s.heads(); h++) {
            for (int i = 0; i < nb; i++) {
                double sum = 0;
                for (int j = 0; j <= i; j++) sum += target[(h * nb + i) * nb + j] = r.nextInt(4) == 0 ? 0 : r.nextDouble();
                if (sum == 0) sum += target[(h * nb + i) * nb + i] = 1;
                for (int j = 0; j <= i; j++) target[(h * nb + i) * nb + j] /= sum;
            }
        }
        return new GateSample(nb, pq, pk, target);
    }
}
