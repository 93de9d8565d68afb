package dev.bitcap.parallel;

import dev.bitcap.cuda.NcclLibrary;
import java.lang.foreign.MemorySegment;

/**
 * The GPU transport: the collectives of {@link Collective} by NCCL on device buffers, queued on one CUDA stream (the
 * backend's), so they order with its kernels without host synchronisation. Buffers are device pointers wrapped as
 * {@link MemorySegment#ofAddress(long)}; heap arrays are refused. The all-to-all is a group of point-to-point
 * sends and receives. The communicator is set up from a unique id that rank 0 makes and sends over the TCP
 * rendezvous, so the same code spans several hosts. The caller makes its GPU's context current before {@link #create}.
 */
public final class NcclCollective implements Collective {
    private final NcclLibrary nccl;
    private final MemorySegment comm;
    private final MemorySegment stream;
    private final RankLinks links;
    private final Runnable synchronizeStream;

    private NcclCollective(NcclLibrary nccl, MemorySegment comm, MemorySegment stream, RankLinks links, Runnable synchronizeStream) {
        this.nccl = nccl;
        this.comm = comm;
        this.stream = stream;
        this.links = links;
        this.synchronizeStream = synchronizeStream;
    }

    /**
     * Sets up the communicator of the ranks joined by {@code links}: rank 0 makes the unique id and sends it to the
     * others as a control message. {@code stream} is the CUstream the collectives are queued on (NULL: the default
     * stream); {@code synchronizeStream} waits for it (used by {@link #barrier()}).
     */
    public static NcclCollective create(NcclLibrary nccl, RankLinks links, MemorySegment stream, Runnable synchronizeStream) {
        byte[] id;
        if (links.rank() == 0) {
            id = nccl.uniqueId();
            links.sendControl(id);
        } else {
            id = links.receiveControl();
            if (id == null) throw new dev.bitcap.BitcapException("rank " + links.rank() + ": rank 0 went away before sending the NCCL id");
        }
        MemorySegment comm = nccl.commInitRank(links.size(), id, links.rank());
        return new NcclCollective(nccl, comm, stream, links, synchronizeStream);
    }

    @Override
    public int rank() {
        return links.rank();
    }

    @Override
    public int size() {
        return links.size();
    }

    @Override
    public void allReduceSum(MemorySegment buffer, long count) {
        long p = device(buffer);
        nccl.allReduceSumF32(p, p, count, comm, stream);
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment receive) {
        nccl.allGatherF32(device(send), device(receive), count, comm, stream);
    }

    @Override
    public void allToAll(MemorySegment send, long[] sendCounts, MemorySegment receive, long[] receiveCounts) {
        long s = device(send), r = device(receive);
        nccl.groupStart();
        try {
            long sendAt = 0, receiveAt = 0;
            for (int peer = 0; peer < size(); peer++) {
                if (sendCounts[peer] > 0) nccl.sendF32(s + sendAt * Float.BYTES, sendCounts[peer], peer, comm, stream);
                if (receiveCounts[peer] > 0) nccl.recvF32(r + receiveAt * Float.BYTES, receiveCounts[peer], peer, comm, stream);
                sendAt += sendCounts[peer];
                receiveAt += receiveCounts[peer];
            }
        } finally {
            nccl.groupEnd();
        }
    }

    @Override
    public void broadcast(MemorySegment buffer, long count, int root) {
        long p = device(buffer);
        nccl.broadcastF32(p, p, count, root, comm, stream);
    }

    /** Waits for this rank's queued work, then meets the other ranks over the TCP links. */
    @Override
    public void barrier() {
        synchronizeStream.run();
        new TcpCollective(links).barrier();
    }

    private static long device(MemorySegment s) {
        if (!s.isNative()) throw new IllegalArgumentException("NCCL collectives need device buffers, not heap arrays");
        return s.address();
    }

    @Override
    public void close() {
        nccl.commDestroy(comm);
    }
}
