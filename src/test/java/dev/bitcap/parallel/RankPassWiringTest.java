package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvCache;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * How rank 0 and a worker drive a {@link RankPass} (what a GPU rank plugs into): every sequence comes from the pass,
 * a sequence the caller lets go is released on both ranks, close() closes rank 0's pass, and passes are recorded with
 * the number of devices given (GPUs, when ranks share one). The pass here is the CPU forward, counted.
 */
class RankPassWiringTest {
    /** The CPU forward with its sequences, releases and closes counted. */
    static final class Counted implements RankPass {
        final RankForward inner;
        final AtomicInteger made = new AtomicInteger(), closed = new AtomicInteger();
        final List<KvCache> released = Collections.synchronizedList(new ArrayList<>());

        Counted(ModelShard shard, Collective c) {
            inner = new RankForward(shard, c);
        }

        @Override
        public Sequence newSequence(int capacity) {
            made.incrementAndGet();
            return inner.newSequence(capacity);
        }

        @Override
        public RankForward.Result forward(List<Sequence> s, List<int[]> t, boolean allLogits, boolean wantLogits) {
            return inner.forward(s, t, allLogits, wantLogits);
        }

        @Override
        public void release(KvCache cache) {
            released.add(cache);
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }

    @Test
    void releasesReachBothRanksAndCloseClosesThePass() throws Exception {
        Path dir = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null); Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            ParallelPlan plan = new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS);
            CompletableFuture<Counted> worker = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                try (ModelShard shard = ModelShard.of(model, plan, 1); RankLinks links = RankLinks.join(rv.address(), 1, 2, 9, 10_000)) {
                    Counted pass = new Counted(shard, new TcpCollective(links));
                    new RankWorker(shard, links, pass).serve();
                    worker.complete(pass);
                } catch (Throwable e) {
                    worker.completeExceptionally(e);
                }
            });
            t.start();
            RankLinks links = rv.accept(2, 9, 10_000, () -> null);
            TcpCollective collective = new TcpCollective(links);
            ModelShard shard0 = ModelShard.of(model, plan, 0);
            Counted pass0 = new Counted(shard0, collective);
            PassRecorder recorder = new PassRecorder();
            KvCache firstCache;
            try (ParallelBackend backend = new ParallelBackend(shard0, links, collective, pass0, "test", 1, recorder, null)) {
                assertEquals("test x2", backend.name());
                Sequence first = backend.newSequence(8);
                firstCache = first.cache();
                backend.forward(List.of(first), List.of(new int[] {1, 2, 3}), false);
                first = null; // let go: the next pass must release its caches on both ranks
                Sequence second = backend.newSequence(8);
                for (int i = 0; i < 50 && pass0.released.isEmpty(); i++) {
                    System.gc();
                    Thread.sleep(20);
                    backend.forward(List.of(second), List.of(new int[] {4}), false);
                }
                assertEquals(List.of(firstCache), pass0.released, "rank 0 released the dropped sequence's cache, once");
                assertEquals(2, pass0.made.get());
                assertTrue(recorder.records().stream().allMatch(r -> r.devices() == 1), "passes recorded with the devices given");
            }
            assertEquals(1, pass0.closed.get(), "close() closes rank 0's pass");
            Counted w = worker.get(20, TimeUnit.SECONDS);
            assertEquals(2, w.made.get(), "the worker made its twins through its pass");
            assertEquals(1, w.released.size(), "the worker released its twin of the dropped sequence");
        }
    }
}
