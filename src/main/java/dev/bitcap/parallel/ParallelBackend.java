package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.F32KvCache;
import dev.bitcap.model.ModelConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * Rank 0 of a model split over several ranks, seen by the engine as one backend. Each call is first sent to the other
 * ranks as a {@link ControlMessage}, then every rank runs the same {@link RankForward}; rank 0 alone computes the
 * logits and records the pass (with the number of devices, so that CAP divides by their total peak). Its sequences
 * hold this rank's KV heads only; their twins on the other ranks are named by a number and dropped once the
 * caller lets go of the sequence.
 */
public final class ParallelBackend implements Backend {
    private final ModelShard shard;
    private final RankLinks links;
    private final Collective collective;
    private final RankPass forward;
    private final String name;
    private final int devices;
    /** The caches of live sequences by id, freed through the pass when the caller lets go of the sequence. */
    private final Map<Integer, dev.bitcap.kv.KvCache> liveCaches = new java.util.HashMap<>();
    private final PassRecorder recorder;
    private final AutoCloseable onClose;
    private final Map<Sequence, Integer> ids = new WeakHashMap<>();
    private final Set<Integer> live = new HashSet<>();
    private int nextId;
    private boolean closed;

    /** @param onClose run last by {@link #close()} (waits for worker processes); may be null */
    public ParallelBackend(ModelShard shard, RankLinks links, Collective collective, PassRecorder recorder, AutoCloseable onClose) {
        this(shard, links, collective, new RankForward(shard, collective), "cpu", shard.plan().ranks(), recorder, onClose);
    }

    /**
     * Rank 0 running {@code pass} on {@code device} (named in {@link #name()}); passes are recorded with {@code devices}
     * (GPUs, when several ranks share one); {@link #close()} closes the pass.
     */
    ParallelBackend(ModelShard shard, RankLinks links, Collective collective, RankPass pass, String device, int devices, PassRecorder recorder,
                    AutoCloseable onClose) {
        if (shard.rank() != 0) throw new IllegalArgumentException("the backend is rank 0; other ranks run RankWorker");
        this.shard = shard;
        this.links = links;
        this.collective = collective;
        this.forward = pass;
        this.name = device + " x" + shard.plan().ranks();
        this.devices = devices;
        this.recorder = recorder;
        this.onClose = onClose;
    }

    public ParallelPlan plan() {
        return shard.plan();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Sequence newSequence(int capacity) {
        ModelConfig c = shard.full();
        if (capacity <= 0 || capacity > c.maxContext()) {
            throw new BitcapException("a sequence of " + capacity + " positions does not fit the model's context of " + c.maxContext());
        }
        int id = nextId++;
        links.sendControl(ControlMessage.encode(new ControlMessage.NewSequence(id, capacity)));
        Sequence s = forward.newSequence(capacity);
        ids.put(s, id);
        live.add(id);
        liveCaches.put(id, s.cache());
        return s;
    }

    static Sequence newLocalSequence(ModelShard shard, int capacity) {
        return new Sequence(new F32KvCache(shard.config().layers(), capacity, shard.config().kvDim()));
    }

    @Override
    public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
        long start = System.nanoTime();
        ModelConfig c = shard.full();
        int[] seqIds = new int[sequences.size()];
        for (int s = 0; s < sequences.size(); s++) {
            Sequence seq = sequences.get(s);
            Integer id = ids.get(seq);
            if (id == null) throw new IllegalArgumentException("sequence " + s + " was not made by this backend");
            seqIds[s] = id;
            int[] t = tokens.get(s);
            if (t.length == 0) throw new IllegalArgumentException("sequence " + s + " has no tokens in this pass");
            if (t.length > seq.remaining()) {
                throw new BitcapException("sequence " + s + " holds " + seq.length() + " positions and cannot take " + t.length
                        + " more: its context is " + seq.cache().capacity());
            }
            for (int tok : t) {
                if (tok < 0 || tok >= c.vocabSize()) throw new BitcapException("token id " + tok + " is outside the vocabulary of " + c.vocabSize());
            }
        }
        dropForgottenSequences();
        links.sendControl(ControlMessage.encode(new ControlMessage.Forward(seqIds, tokens, allLogits)));
        RankForward.Result r = forward.forward(sequences, tokens, allLogits, true);

        int n = 0;
        for (int[] t : tokens) n += t.length;
        int[] ctx = sequences.stream().mapToInt(Sequence::length).toArray();
        boolean decode = n == sequences.size();
        for (int s = 0; decode && s < sequences.size(); s++) decode = sequences.get(s).length() > 1;
        recorder.record(new PassRecord(decode ? PassRecord.Mode.DECODE : PassRecord.Mode.PREFILL, sequences.size(), n, ctx,
                System.nanoTime() - start, c.expertsPerToken(), c.isMoe() ? r.routed() : null, devices));
        return r.logits();
    }

    /** Tells the other ranks which sequences the caller no longer holds, so that their caches can go. */
    private void dropForgottenSequences() {
        Set<Integer> held = new HashSet<>(ids.values());
        if (held.size() == live.size()) return;
        List<Integer> gone = new ArrayList<>();
        for (int id : live) if (!held.contains(id)) gone.add(id);
        live.retainAll(held);
        for (int id : gone) forward.release(liveCaches.remove(id));
        links.sendControl(ControlMessage.encode(new ControlMessage.DropSequences(gone.stream().mapToInt(Integer::intValue).toArray())));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            links.sendControl(ControlMessage.encode(new ControlMessage.Stop()));
        } catch (RuntimeException gone) {
            // a rank that has already exited needs no stop message
        }
        try {
            forward.close();
        } finally {
            collective.close();
            links.close();
            shard.close();
        }
        if (onClose != null) {
            try {
                onClose.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
