package dev.bitcap.parallel;

import dev.bitcap.cuda.CudaDevice;
import dev.bitcap.cuda.CudaRankForward;
import dev.bitcap.cuda.DeviceAllReduce;
import dev.bitcap.cuda.DeviceExchange;
import dev.bitcap.cuda.NcclLibrary;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KvCache;
import java.util.List;

/**
 * A rank on a GPU: its own {@link CudaDevice} (GPU rank / ranksPerGpu) and a {@link CudaRankForward} over its shard.
 * One rank per GPU sums with NCCL on the device; several ranks on one GPU (a test setup: NCCL refuses it) sum through
 * the host over the TCP links.
 */
final class CudaRankPass implements RankPass {
    private final CudaDevice device;
    private final Collective collective;
    private final CudaRankForward forward;

    private CudaRankPass(CudaDevice device, Collective collective, CudaRankForward forward) {
        this.device = device;
        this.collective = collective;
        this.forward = forward;
    }

    /** Opens this rank's GPU and uploads its shard; ranks of one job must agree on {@code ranksPerGpu}. */
    static CudaRankPass open(ModelShard shard, RankLinks links, int ranksPerGpu) {
        CudaDevice device = CudaDevice.open(CudaRanks.gpuOf(shard.rank(), ranksPerGpu));
        Collective collective = null;
        try {
            DeviceAllReduce reduce;
            DeviceExchange exchange;
            if (ranksPerGpu > 1) {
                collective = new TcpCollective(links);
                reduce = HostStagedAllReduce.of(device, collective);
                exchange = HostStagedExchange.of(device, collective);
            } else {
                collective = NcclCollective.create(NcclLibrary.get(), links, device.stream(), device::synchronize);
                reduce = new DeviceCollectiveAllReduce(collective);
                exchange = new DeviceCollectiveExchange(collective);
            }
            ParallelPlan plan = shard.plan();
            boolean dispatch = plan.tokenDispatch(System.getenv(ParallelPlan.EP_DISPATCH_ENV));
            CudaRankForward f = new CudaRankForward(device, shard.full(), shard.config(), shard.weights(), shard.rank(), plan.tp() > 1,
                    plan.expertParallel(), reduce, dispatch ? exchange : null, plan.ranks(), plan.expertOwners(shard.full().experts()));
            return new CudaRankPass(device, collective, f);
        } catch (RuntimeException e) {
            if (collective instanceof NcclCollective) collective.close();
            device.close();
            throw e;
        }
    }

    /** The collective the ranks sum with (the caller closes it, before the links). */
    Collective collective() {
        return collective;
    }

    @Override
    public Sequence newSequence(int capacity) {
        return forward.newSequence(capacity);
    }

    @Override
    public RankForward.Result forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits, boolean wantLogits) {
        CudaRankForward.Result r = forward.forward(sequences, tokens, allLogits, wantLogits);
        return new RankForward.Result(r.logits(), r.routed());
    }

    @Override
    public void release(KvCache cache) {
        forward.release(cache);
    }

    @Override
    public void close() {
        try {
            forward.close();
        } finally {
            device.close();
        }
    }
}
