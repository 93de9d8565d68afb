package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The TCP connections of one rank after the rendezvous: rank 0 holds one to every other rank, every other rank one to
 * rank 0 (a star, so that only rank 0's address has to be known, on one host or several). Carries the collectives of
 * {@link TcpCollective} and the control messages rank 0 sends to drive the others.
 */
public final class RankLinks implements AutoCloseable {
    static final int MAGIC = 0x62637470; // "bctp"
    private static final int BUFFER = 1 << 16;

    private final int rank;
    private final int size;
    private final Socket[] sockets;
    private final DataInputStream[] in;
    private final DataOutputStream[] out;

    private RankLinks(int rank, int size, Socket[] sockets) throws IOException {
        this.rank = rank;
        this.size = size;
        this.sockets = sockets;
        this.in = new DataInputStream[size];
        this.out = new DataOutputStream[size];
        for (int p = 0; p < size; p++) {
            if (sockets[p] == null) continue;
            in[p] = new DataInputStream(new BufferedInputStream(sockets[p].getInputStream(), BUFFER));
            out[p] = new DataOutputStream(new BufferedOutputStream(sockets[p].getOutputStream(), BUFFER));
        }
    }

    /** Rank 0's links over sockets whose handshakes {@link Rendezvous} has checked ({@code sockets[0]} is null). */
    static RankLinks ofRoot(Socket[] sockets) throws IOException {
        return new RankLinks(0, sockets.length, sockets);
    }

    /**
     * Connects rank {@code rank} of {@code size} to rank 0 at {@code root}, retrying until {@code timeoutMillis} has
     * passed (rank 0 may start later on another host); {@code job} must equal rank 0's.
     */
    public static RankLinks join(InetSocketAddress root, int rank, int size, long job, long timeoutMillis) {
        if (rank < 1 || rank >= size) throw new BitcapException("rank " + rank + " is outside 1.." + (size - 1) + " for " + size + " ranks");
        long deadline = System.currentTimeMillis() + timeoutMillis;
        IOException last = null;
        while (System.currentTimeMillis() < deadline) {
            Socket s = new Socket();
            try {
                s.connect(root, (int) Math.max(1, Math.min(5000, deadline - System.currentTimeMillis())));
                s.setTcpNoDelay(true);
                Socket[] sockets = new Socket[size];
                sockets[0] = s;
                RankLinks links = new RankLinks(rank, size, sockets);
                DataOutputStream o = links.out[0];
                o.writeInt(MAGIC);
                o.writeInt(rank);
                o.writeInt(size);
                o.writeLong(job);
                o.flush();
                String refusal = links.in[0].readUTF();
                if (!refusal.isEmpty()) {
                    links.close();
                    throw new BitcapException("rank 0 at " + root + " refused rank " + rank + ": " + refusal);
                }
                return links;
            } catch (IOException e) {
                last = e;
                try {
                    s.close();
                    Thread.sleep(100);
                } catch (IOException | InterruptedException ignored) {
                    // retry until the deadline
                }
            }
        }
        throw new BitcapException("rank " + rank + " could not reach rank 0 at " + root + " within " + timeoutMillis / 1000 + " s"
                + (last == null ? "" : " (" + last.getMessage() + ")"));
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    DataInputStream in(int peer) {
        return in[peer];
    }

    DataOutputStream out(int peer) {
        return out[peer];
    }

    /** Rank 0 only: the same message to every other rank. */
    public void sendControl(byte[] message) {
        if (rank != 0) throw new IllegalStateException("only rank 0 sends control messages");
        for (int p = 1; p < size; p++) {
            try {
                out[p].writeInt(message.length);
                out[p].write(message);
                out[p].flush();
            } catch (IOException e) {
                throw lost(p, e);
            }
        }
    }

    /** Any rank but 0: the next control message from rank 0, or null when rank 0 has gone (closed, died, link broken). */
    public byte[] receiveControl() {
        try {
            int n = in[0].readInt();
            byte[] message = in[0].readNBytes(n);
            return message.length == n ? message : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** A one-line error for a link that failed mid-operation. */
    BitcapException lost(int peer, IOException e) {
        return new BitcapException("rank " + rank + ": the link to rank " + peer + " failed (" + e.getMessage()
                + "); that rank has probably exited, see its output above");
    }

    @Override
    public void close() {
        for (Socket s : sockets) {
            if (s == null) continue;
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing is left to deliver
            }
        }
    }
}
