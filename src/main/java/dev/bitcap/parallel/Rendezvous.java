package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Rank 0's side of the rendezvous: a listening socket that the other ranks connect to and identify themselves on
 * (rank, world size, job number). Opened before the workers start, so that its port can go on their command lines.
 */
public final class Rendezvous implements AutoCloseable {
    private final ServerSocket server;

    private Rendezvous(ServerSocket server) {
        this.server = server;
    }

    /** Listens on {@code host:port} (port 0: any free port). */
    public static Rendezvous listen(String host, int port) {
        try {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), port));
            return new Rendezvous(s);
        } catch (IOException e) {
            throw new BitcapException("cannot listen for ranks on " + host + ":" + port + " (" + e.getMessage() + ")");
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /**
     * Waits until ranks 1..size-1 of job {@code job} have joined. {@code stillWaiting} is asked about once a second and
     * may return a reason to give up (a worker process that exited); the wait also ends after {@code timeoutMillis}.
     */
    public RankLinks accept(int size, long job, long timeoutMillis, Supplier<String> stillWaiting) {
        Socket[] sockets = new Socket[size];
        int joined = 1;
        long deadline = System.currentTimeMillis() + timeoutMillis;
        try {
            server.setSoTimeout(1000);
            while (joined < size) {
                String reason = stillWaiting.get();
                if (reason != null) throw fail(sockets, reason);
                if (System.currentTimeMillis() > deadline) {
                    throw fail(sockets, "rank(s) " + missing(sockets) + " did not join the rendezvous at " + address() + " within "
                            + timeoutMillis / 1000 + " s");
                }
                Socket s;
                try {
                    s = server.accept();
                } catch (SocketTimeoutException tick) {
                    continue;
                }
                s.setTcpNoDelay(true);
                s.setSoTimeout(10_000); // for the handshake only
                DataInputStream in = new DataInputStream(s.getInputStream());
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                String refusal;
                int rank = -1;
                try {
                    int magic = in.readInt();
                    rank = in.readInt();
                    int theirSize = in.readInt();
                    long theirJob = in.readLong();
                    refusal = magic != RankLinks.MAGIC ? "not a bitcap rank"
                            : theirSize != size ? "it expects " + theirSize + " ranks, this job has " + size
                            : theirJob != job ? "it belongs to another job"
                            : rank < 1 || rank >= size ? "rank " + rank + " is outside 1.." + (size - 1)
                            : sockets[rank] != null ? "rank " + rank + " has already joined" : "";
                } catch (IOException e) {
                    s.close(); // a stray connection: ignore it
                    continue;
                }
                out.writeUTF(refusal);
                out.flush();
                if (!refusal.isEmpty()) {
                    s.close();
                    continue;
                }
                s.setSoTimeout(0);
                sockets[rank] = s;
                joined++;
            }
            return RankLinks.ofRoot(sockets);
        } catch (IOException e) {
            throw fail(sockets, "the rendezvous at " + address() + " failed (" + e.getMessage() + ")");
        }
    }

    private static String missing(Socket[] sockets) {
        List<String> out = new ArrayList<>();
        for (int r = 1; r < sockets.length; r++) if (sockets[r] == null) out.add(String.valueOf(r));
        return String.join(", ", out);
    }

    private static BitcapException fail(Socket[] sockets, String message) {
        for (Socket s : sockets) {
            try {
                if (s != null) s.close();
            } catch (IOException ignored) {
                // already failing
            }
        }
        return new BitcapException(message);
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // nothing to release beyond the port
        }
    }
}
