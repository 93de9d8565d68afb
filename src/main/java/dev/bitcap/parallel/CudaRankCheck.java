package dev.bitcap.parallel;

import dev.bitcap.cuda.CudaBackend;
import dev.bitcap.cuda.CudaCheck;
import dev.bitcap.cuda.CudaRankForward;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The rows of {@code bitcap check --device cuda --parallel}: each Hugging Face fixture split tp 2 / ep 2 / tp 2 + ep 2
 * over two CUDA ranks that share GPU 0 (threads, host-staged all-reduce over TCP), against the single-GPU
 * {@link CudaBackend} on the same script: prefill logits of 11 tokens, four greedy decode steps (logits and tokens),
 * and a two-sequence batched prefill. Also: every rank's logits bit-equal to rank 0's (the TCP sum gives every rank
 * the same bits, so a rank that drifts is a defect, not rounding).
 */
public final class CudaRankCheck {
    /**
     * Relative to the largest |logit|: the split changes only where the o_proj / down_proj sums (and, under ep, the
     * experts' contributions) are re-associated in fp32, as the CPU split tests argue (they see 2e-7 .. 4e-7).
     */
    static final double SPLIT_TOLERANCE = 1e-5;
    private static final int PROMPT = 11, DECODE = 4;

    /** A fixture and one split of it. */
    /** {@code dispatch}: ep with tokens sent to the experts by all-to-all instead of the replicated-token form. */
    record Case(String fixture, int tp, int ep, boolean dispatch) {
        Case(String fixture, int tp, int ep) {
            this(fixture, tp, ep, false);
        }

        String label() {
            return (tp > 1 && ep > 1 ? "tp " + tp + " + ep " + ep : tp > 1 ? "tp " + tp : "ep " + ep) + (dispatch ? " all-to-all" : "");
        }
    }

    static final List<Case> CASES = List.of(new Case("tiny-llama", 2, 1), new Case("tiny-mixtral", 2, 1), new Case("tiny-mixtral", 1, 2),
            new Case("tiny-mixtral", 1, 2, true), new Case("tiny-mixtral", 2, 2), new Case("tiny-qwen2moe", 2, 1), new Case("tiny-qwen2moe", 1, 2),
            new Case("tiny-qwen2moe", 1, 2, true), new Case("tiny-qwen3moe", 1, 2), new Case("tiny-qwen3moe", 1, 2, true),
            new Case("tiny-qwen3moe", 2, 2));

    private final Path data;
    private final Consumer<CudaCheck.Row> sink;
    private final List<CudaCheck.Row> rows = new ArrayList<>();

    public CudaRankCheck(Path data, Consumer<CudaCheck.Row> sink) {
        this.data = data;
        this.sink = sink;
    }

    /** Every case whose fixture is named (null: all). */
    public List<CudaCheck.Row> run(List<String> fixtures) {
        for (Case c : CASES) if (fixtures == null || fixtures.contains(c.fixture())) run(c);
        return rows;
    }

    /** What the script saw: prefill logits, decode logits (one row per step), greedy tokens, batched logits. */
    record Script(float[] prefill, float[] decode, int[] tokens, float[] batched) {}

    /** The two calls the script makes, on the single-GPU backend or on a rank. */
    private interface Passes {
        Sequence newSequence(int capacity);

        float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits);
    }

    static int[] prompt(int vocab, int length, int salt) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = (int) ((37L * i + 11L * salt + 5) % vocab);
        return ids;
    }

    private static Script script(Passes p, int vocab) {
        int[] ids = prompt(vocab, PROMPT, 0);
        Sequence s = p.newSequence(PROMPT + DECODE + 1);
        float[] prefill = p.forward(List.of(s), List.of(ids), true);
        float[] decode = new float[DECODE * vocab];
        int[] tokens = new int[DECODE];
        int next = argmax(prefill, (PROMPT - 1) * vocab, vocab);
        for (int step = 0; step < DECODE; step++) {
            tokens[step] = next;
            float[] l = p.forward(List.of(s), List.of(new int[] {next}), false);
            System.arraycopy(l, 0, decode, step * vocab, vocab);
            next = argmax(l, 0, vocab);
        }
        Sequence a = p.newSequence(8), b = p.newSequence(8);
        float[] batched = p.forward(List.of(a, b), List.of(prompt(vocab, 5, 1), prompt(vocab, 7, 2)), false);
        return new Script(prefill, decode, tokens, batched);
    }

    private static int argmax(float[] v, int from, int count) {
        int best = 0;
        for (int i = 1; i < count; i++) if (v[from + i] > v[from + best]) best = i;
        return best;
    }

    private void run(Case c) {
        Path dir = data.resolve("hf-fixtures").resolve(c.fixture());
        String group = c.fixture();
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            add(new CudaCheck.Row(group, c.label() + " on 2 ranks sharing GPU 0", Double.NaN, Double.NaN, 0, false,
                    "missing " + dir.resolve("model.safetensors")));
            return;
        }
        try (LoadedModel model = ModelLoader.load(dir, null)) {
            int vocab = model.config().vocabSize();
            Script ref;
            try (CudaBackend single = new CudaBackend(model, PassRecorder.NONE)) {
                ref = script(new Passes() {
                    @Override
                    public Sequence newSequence(int capacity) {
                        return single.newSequence(capacity);
                    }

                    @Override
                    public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
                        return single.forward(sequences, tokens, allLogits);
                    }
                }, vocab);
            }
            ParallelPlan plan = new ParallelPlan(2, c.tp(), c.ep(), ExpertPlacement.CONTIGUOUS);
            List<Script> got = CudaRanks.run(model, plan, 2, c.dispatch(), 300_000, (CudaRankForward f) -> script(new Passes() {
                @Override
                public Sequence newSequence(int capacity) {
                    return f.newSequence(capacity);
                }

                @Override
                public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
                    return f.forward(sequences, tokens, allLogits, true).logits();
                }
            }, vocab));
            String on = c.label() + ", 2 ranks on GPU 0";
            Script r0 = got.get(0);
            compare(group, on + ": prefill logits (" + PROMPT + " tok) vs 1 GPU", ref.prefill(), r0.prefill());
            compare(group, on + ": " + DECODE + " decode steps' logits vs 1 GPU", ref.decode(), r0.decode());
            boolean same = Arrays.equals(ref.tokens(), r0.tokens());
            add(new CudaCheck.Row(group, on + ": greedy tokens vs 1 GPU", same ? 0 : 1, same ? 0 : 1, 0, same,
                    same ? DECODE + " tokens equal" : "1 GPU " + Arrays.toString(ref.tokens()) + ", split " + Arrays.toString(r0.tokens())));
            compare(group, on + ": batched prefill (5 + 7 tok) vs 1 GPU", ref.batched(), r0.batched());
            boolean agree = true;
            for (Script s : got) {
                agree &= Arrays.equals(s.prefill(), r0.prefill()) && Arrays.equals(s.decode(), r0.decode())
                        && Arrays.equals(s.batched(), r0.batched());
            }
            add(new CudaCheck.Row(group, on + ": every rank's logits bit-equal to rank 0's", agree ? 0 : 1, agree ? 0 : 1, 0, agree,
                    agree ? "" : "ranks disagree: the hidden state is not replicated"));
        } catch (RuntimeException e) {
            add(new CudaCheck.Row(group, c.label() + " on 2 ranks sharing GPU 0", Double.NaN, Double.NaN, 0, false, e.toString()));
        }
    }

    private void compare(String group, String name, float[] ref, float[] got) {
        add(CudaCheck.Row.compare(group, name, ref, got, SPLIT_TOLERANCE, ""));
    }

    private void add(CudaCheck.Row r) {
        rows.add(r);
        sink.accept(r);
    }
}
