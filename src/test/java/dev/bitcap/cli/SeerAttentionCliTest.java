package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.attention.SeerGate;
import dev.bitcap.attention.SeerGateFile;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train-gate end to end on stories260K, the gate used by perplexity and generate, and the flags' bad inputs. */
class SeerAttentionCliTest {
    @TempDir static Path dir;
    private static Path gate;
    private static String trainOutput;

    private static String[] model() {
        return new String[] {"--model", SharedData.require("models/stories260K.bin").toString(),
                "--tokenizer", SharedData.require("models/tok512.bin").toString()};
    }

    private static String text(String name) {
        return SharedData.require("text/" + name).toString();
    }

    private static CliRunner run(String[] model, String... args) {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        all.addAll(1, Arrays.asList(model));
        return CliRunner.run(all.toArray(String[]::new));
    }

    @BeforeAll
    static void trainSmallGate() {
        gate = dir.resolve("g.safetensors");
        CliRunner r = run(model(), "train-gate", "--text", text("tinyshakespeare.txt"), "--block", "16", "--steps", "40",
                "--ctx", "256", "--max-windows", "8", "--batch", "2", "--out", gate.toString());
        assertEquals(0, r.code(), r.err());
        trainOutput = r.out();
    }

    @Test
    void trainingWritesTheGateAndAFallingLossCurve() throws IOException {
        assertTrue(trainOutput.contains("step 40/40"), trainOutput);
        SeerGate g = SeerGateFile.read(gate);
        assertEquals(16, g.shape().block());
        List<String> csv = Files.readAllLines(dir.resolve("g.safetensors.loss.csv"));
        assertEquals("step,loss,layer0,layer1,layer2,layer3,layer4", csv.get(0));
        assertEquals(41, csv.size());
        double first = Double.parseDouble(csv.get(1).split(",")[1]), last = Double.parseDouble(csv.get(40).split(",")[1]);
        assertTrue(last < 0.2 * first, "loss " + first + " -> " + last);
    }

    @Test
    void perplexityWithTheGateReportsTheDensityReached() {
        CliRunner r = run(model(), "perplexity", "--text", text("tinystories-val.txt"), "--ctx", "256", "--max-windows", "2",
                "--attention", "seer", "--gate", gate.toString(), "--density", "0.5");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("attention: seer blocks of 16, density 0.5; visited 0.5"), r.out());
    }

    @Test
    void generateRunsWithSparseDecode() {
        CliRunner r = run(model(), "generate", "--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "0",
                "--attention", "seer", "--gate", gate.toString(), "--threshold", "0.05");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time"), r.out());
    }

    /** With the paged int4 cache: the trained gate at density 1 gives --kv int4's perplexity; at 0.5 another one, at half the blocks. */
    @Test
    void perplexityWithTheGateOverTheLowBitKvCache() {
        String[] common = {"perplexity", "--text", text("tinystories-val.txt"), "--ctx", "256", "--max-windows", "2", "--kv", "int4", "--kv-group", "32"};
        CliRunner dense = run(model(), common);
        CliRunner all = run(model(), concat(common, "--attention", "seer", "--gate", gate.toString(), "--density", "1.0"));
        CliRunner half = run(model(), concat(common, "--attention", "seer", "--gate", gate.toString(), "--density", "0.5"));
        for (CliRunner r : List.of(dense, all, half)) assertEquals(0, r.code(), r.err());
        assertEquals(perplexity(dense.out()), perplexity(all.out()), all.out());
        assertNotEquals(perplexity(dense.out()), perplexity(half.out()), half.out());
        assertTrue(half.out().contains("attention: seer blocks of 16, density 0.5; visited 0.5"), half.out());
    }

    private static String perplexity(String out) {
        return out.lines().filter(l -> l.startsWith("perplexity ")).findFirst().orElseThrow().split(" ")[1];
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void densityOutsideTheUnitIntervalIsAOneLineError() {
        for (String d : new String[] {"0", "1.5", "-0.2"}) {
            run(model(), "perplexity", "--text", text("tinystories-val.txt"), "--attention", "seer", "--gate", gate.toString(), "--density", d)
                    .assertUserError("--density must be in (0, 1], got ");
        }
    }

    @Test
    void theGateIsRefusedForAnotherBlockSizeOrModel() throws IOException {
        run(model(), "perplexity", "--text", text("tinystories-val.txt"), "--attention", "seer", "--gate", gate.toString(),
                "--density", "0.5", "--attention-block", "32").assertUserError("was trained for block size 16, not 32");
        SeerGate g = SeerGateFile.read(gate);
        Path other = dir.resolve("other.safetensors");
        double[][] wq = new double[g.shape().layers()][], wk = new double[g.shape().layers()][];
        for (int l = 0; l < wq.length; l++) {
            wq[l] = g.queryWeights(l);
            wk[l] = g.keyWeights(l);
        }
        SeerGateFile.write(other, new SeerGate(g.shape(), g.invFreq(), g.ropeStyle(), "00000000000000ff", "another.bin", wq, wk));
        run(model(), "perplexity", "--text", text("tinystories-val.txt"), "--attention", "seer", "--gate", other.toString(), "--density", "0.5")
                .assertUserError("was trained for model another.bin (fingerprint 00000000000000ff), not stories260K.bin");
    }

    @Test
    void badAttentionFlags() throws IOException {
        String t = text("tinystories-val.txt");
        run(model(), "perplexity", "--text", t, "--attention", "sparse").assertUserError("unknown --attention 'sparse'");
        run(model(), "perplexity", "--text", t, "--attention", "seer", "--density", "0.5").assertUserError("--attention seer needs --gate FILE");
        run(model(), "perplexity", "--text", t, "--attention", "seer", "--gate", gate.toString()).assertUserError("needs --density D or --threshold T");
        run(model(), "perplexity", "--text", t, "--density", "0.5").assertUserError("need --attention seer, oracle or window");
        run(model(), "perplexity", "--text", t, "--attention", "window", "--threshold", "0.1").assertUserError("--attention window takes --density");
        run(model(), "perplexity", "--text", t, "--attention", "oracle", "--density", "0.5", "--threshold", "0.1").assertUserError("not both");
        run(model(), "perplexity", "--text", t, "--attention", "seer", "--gate", dir.resolve("none.safetensors").toString(), "--density", "0.5")
                .assertUserError("does not exist");
        Path notGate = dir.resolve("notgate.safetensors");
        dev.bitcap.format.SafetensorsWriter.write(notGate, java.util.Map.of(), java.util.Map.of());
        run(model(), "perplexity", "--text", t, "--attention", "seer", "--gate", notGate.toString(), "--density", "0.5")
                .assertUserError("is not a bitcap SeerAttention gate");
        run(model(), "train-gate", "--text", t, "--block", "1", "--steps", "1", "--out", dir.resolve("x").toString()).assertUserError("--block must be >= 2");
        run(model(), "train-gate", "--text", t, "--block", "16", "--steps", "0", "--out", dir.resolve("x").toString()).assertUserError("--steps must be >= 1");
        run(model(), "train-gate", "--text", t, "--block", "16", "--ctx", "20", "--out", dir.resolve("x").toString()).assertUserError("must hold at least two blocks");
        run(model(), "train-gate", "--text", t, "--gate-dim", "7", "--block", "16", "--out", dir.resolve("x").toString()).assertUserError("gate dim must be even");
    }
}
