package dev.bitcap.parallel;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The CPU transport: collectives over the star of {@link RankLinks}, relayed by rank 0. Sums are taken on rank 0 in
 * rank order ((r0 + r1) + r2 ...) and sent back, so every rank holds the same bits afterwards, which keeps replicated
 * state (hidden rows, routing) identical on all ranks. Floats travel in the machine's byte order (all supported hosts
 * are little-endian). Not thread-safe: one rank, one caller.
 */
public final class TcpCollective implements Collective {
    private static final int CHUNK = 1 << 16;
    private final RankLinks links;
    private final byte[] chunk = new byte[CHUNK];

    public TcpCollective(RankLinks links) {
        this.links = links;
    }

    public RankLinks links() {
        return links;
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
        int n = Math.toIntExact(count);
        if (size() == 1) return;
        int peer = -1;
        try {
            if (rank() != 0) {
                peer = 0;
                write(links.out(0), buffer, 0, n);
                links.out(0).flush();
                read(links.in(0), buffer, 0, n);
                return;
            }
            float[] sum = new float[n], part = new float[n];
            MemorySegment.copy(buffer, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, sum, 0, n);
            MemorySegment partSeg = MemorySegment.ofArray(part);
            for (int p = 1; p < size(); p++) {
                peer = p;
                read(links.in(p), partSeg, 0, n);
                for (int i = 0; i < n; i++) sum[i] += part[i];
            }
            MemorySegment sumSeg = MemorySegment.ofArray(sum);
            for (int p = 1; p < size(); p++) {
                peer = p;
                write(links.out(p), sumSeg, 0, n);
                links.out(p).flush();
            }
            MemorySegment.copy(sum, 0, buffer, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, n);
        } catch (IOException e) {
            throw links.lost(peer, e);
        }
    }

    @Override
    public void allGather(MemorySegment send, long count, MemorySegment receive) {
        int n = Math.toIntExact(count);
        int peer = -1;
        try {
            if (rank() != 0) {
                peer = 0;
                write(links.out(0), send, 0, n);
                links.out(0).flush();
                read(links.in(0), receive, 0, n * size());
                return;
            }
            MemorySegment.copy(send, 0, receive, 0, (long) n * Float.BYTES);
            for (int p = 1; p < size(); p++) {
                peer = p;
                read(links.in(p), receive, (long) p * n, n);
            }
            for (int p = 1; p < size(); p++) {
                peer = p;
                write(links.out(p), receive, 0, n * size());
                links.out(p).flush();
            }
        } catch (IOException e) {
            throw links.lost(peer, e);
        }
    }

    @Override
    public void allToAll(MemorySegment send, long[] sendCounts, MemorySegment receive, long[] receiveCounts) {
        int world = size();
        if (sendCounts.length != world || receiveCounts.length != world) {
            throw new IllegalArgumentException("all-to-all needs " + world + " counts each way");
        }
        int peer = -1;
        try {
            if (rank() != 0) {
                peer = 0;
                DataOutputStream o = links.out(0);
                for (long c : sendCounts) o.writeLong(c);
                write(o, send, 0, total(sendCounts));
                o.flush();
                DataInputStream in = links.in(0);
                for (int s = 0; s < world; s++) {
                    long c = in.readLong();
                    if (c != receiveCounts[s]) throw new IllegalStateException("rank " + rank() + " expected " + receiveCounts[s] + " floats from rank " + s + ", got " + c);
                }
                read(in, receive, 0, total(receiveCounts));
                return;
            }
            // rank 0 collects every rank's send buffer, then hands each destination its column
            long[][] counts = new long[world][];
            float[][] sent = new float[world][];
            counts[0] = sendCounts;
            sent[0] = new float[total(sendCounts)];
            MemorySegment.copy(send, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, sent[0], 0, sent[0].length);
            for (int p = 1; p < world; p++) {
                peer = p;
                counts[p] = new long[world];
                for (int d = 0; d < world; d++) counts[p][d] = links.in(p).readLong();
                sent[p] = new float[total(counts[p])];
                read(links.in(p), MemorySegment.ofArray(sent[p]), 0, sent[p].length);
            }
            for (int d = 0; d < world; d++) {
                peer = d;
                long[] theirs = new long[world];
                int len = 0;
                for (int s = 0; s < world; s++) {
                    theirs[s] = counts[s][d];
                    len += (int) theirs[s];
                }
                float[] column = new float[len];
                int at = 0;
                for (int s = 0; s < world; s++) {
                    int from = 0;
                    for (int j = 0; j < d; j++) from += (int) counts[s][j];
                    System.arraycopy(sent[s], from, column, at, (int) counts[s][d]);
                    at += (int) counts[s][d];
                }
                if (d == 0) {
                    for (int s = 0; s < world; s++) {
                        if (theirs[s] != receiveCounts[s]) throw new IllegalStateException("rank 0 expected " + receiveCounts[s] + " floats from rank " + s + ", got " + theirs[s]);
                    }
                    MemorySegment.copy(column, 0, receive, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, len);
                } else {
                    DataOutputStream o = links.out(d);
                    for (long c : theirs) o.writeLong(c);
                    write(o, MemorySegment.ofArray(column), 0, len);
                    o.flush();
                }
            }
        } catch (IOException e) {
            throw links.lost(peer, e);
        }
    }

    @Override
    public void broadcast(MemorySegment buffer, long count, int root) {
        int n = Math.toIntExact(count);
        int peer = -1;
        try {
            if (root != 0) {
                // the root's floats reach rank 0 first, which relays them like its own
                if (rank() == root) {
                    peer = 0;
                    write(links.out(0), buffer, 0, n);
                    links.out(0).flush();
                } else if (rank() == 0) {
                    peer = root;
                    read(links.in(root), buffer, 0, n);
                }
            }
            if (rank() == 0) {
                for (int p = 1; p < size(); p++) {
                    if (p == root) continue;
                    peer = p;
                    write(links.out(p), buffer, 0, n);
                    links.out(p).flush();
                }
            } else if (rank() != root) {
                peer = 0;
                read(links.in(0), buffer, 0, n);
            }
        } catch (IOException e) {
            throw links.lost(peer, e);
        }
    }

    @Override
    public void barrier() {
        int peer = -1;
        try {
            if (rank() != 0) {
                peer = 0;
                links.out(0).writeByte(1);
                links.out(0).flush();
                links.in(0).readByte();
                return;
            }
            for (int p = 1; p < size(); p++) {
                peer = p;
                links.in(p).readByte();
            }
            for (int p = 1; p < size(); p++) {
                peer = p;
                links.out(p).writeByte(1);
                links.out(p).flush();
            }
        } catch (IOException e) {
            throw links.lost(peer, e);
        }
    }

    private static int total(long[] counts) {
        long t = 0;
        for (long c : counts) t += c;
        return Math.toIntExact(t);
    }

    /** {@code count} floats of {@code seg} from float index {@code first}. */
    private void write(DataOutputStream out, MemorySegment seg, long first, int count) throws IOException {
        long bytes = (long) count * Float.BYTES, at = first * Float.BYTES;
        MemorySegment buf = MemorySegment.ofArray(chunk);
        while (bytes > 0) {
            int len = (int) Math.min(CHUNK, bytes);
            MemorySegment.copy(seg, at, buf, 0, len);
            out.write(chunk, 0, len);
            at += len;
            bytes -= len;
        }
    }

    private void read(DataInputStream in, MemorySegment seg, long first, int count) throws IOException {
        long bytes = (long) count * Float.BYTES, at = first * Float.BYTES;
        MemorySegment buf = MemorySegment.ofArray(chunk);
        while (bytes > 0) {
            int len = (int) Math.min(CHUNK, bytes);
            in.readFully(chunk, 0, len);
            MemorySegment.copy(buf, 0, seg, at, len);
            at += len;
            bytes -= len;
        }
    }

    @Override
    public void close() {
        links.close();
    }
}
