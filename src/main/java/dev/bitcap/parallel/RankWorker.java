package dev.bitcap.parallel;

import dev.bitcap.engine.Sequence;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A rank other than 0: does what rank 0's control messages say, over its own shard, until rank 0 says stop or goes
 * away. Runs in a worker process ({@link RankWorkerMain}) or, in tests, on a thread.
 */
public final class RankWorker {
    private final ModelShard shard;
    private final RankLinks links;
    private final RankPass forward;
    private final Map<Integer, Sequence> sequences = new HashMap<>();

    public RankWorker(ModelShard shard, RankLinks links, Collective collective) {
        this(shard, links, new RankForward(shard, collective));
    }

    /** A worker running {@code pass} (a GPU rank: {@link CudaRankPass}); the caller closes the pass. */
    RankWorker(ModelShard shard, RankLinks links, RankPass pass) {
        if (shard.rank() == 0) throw new IllegalArgumentException("rank 0 is the ParallelBackend");
        this.shard = shard;
        this.links = links;
        this.forward = pass;
    }

    /** Serves until stopped; returns true when rank 0 said stop, false when its link closed without a word. */
    public boolean serve() {
        while (true) {
            byte[] bytes = links.receiveControl();
            if (bytes == null) return false;
            switch (ControlMessage.decode(bytes)) {
                case ControlMessage.NewSequence s -> sequences.put(s.id(), forward.newSequence(s.capacity()));
                case ControlMessage.DropSequences d -> {
                    for (int id : d.ids()) {
                        Sequence gone = sequences.remove(id);
                        if (gone != null) forward.release(gone.cache());
                    }
                }
                case ControlMessage.Forward f -> {
                    List<Sequence> seqs = new ArrayList<>();
                    for (int id : f.sequenceIds()) seqs.add(sequences.get(id));
                    forward.forward(seqs, f.tokens(), f.allLogits(), false);
                }
                case ControlMessage.Stop s -> {
                    return true;
                }
            }
        }
    }
}
