package dev.bitcap.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * FFM bindings to NCCL ({@code libnccl.so.2}): the unique id, communicators, and the float32 collectives and
 * point-to-point calls on a CUDA stream. Found like the other CUDA libraries ({@link CudaLibraries}). NVLink multicast
 * (NVLS) is switched off in this process's environment before NCCL reads it.
 */
public final class NcclLibrary {
    public static final List<String> SONAMES = List.of("libnccl.so.2");
    /** NCCL_UNIQUE_ID_BYTES: the opaque id rank 0 makes and every rank passes to ncclCommInitRank by value. */
    public static final int UNIQUE_ID_BYTES = 128;
    static final int FLOAT32 = 7; // ncclFloat32
    static final int SUM = 0;     // ncclSum
    private static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));
    private static volatile NcclLibrary instance;

    private final MethodHandle getVersion, getUniqueId, commInitRank, commDestroy, errorString, allReduce, allGather, broadcast,
            send, recv, groupStart, groupEnd;

    NcclLibrary(NativeLibrary lib) {
        getVersion = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "ncclGetVersion");
        getUniqueId = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "ncclGetUniqueId");
        commInitRank = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT), "ncclCommInitRank");
        commDestroy = lib.bind(FunctionDescriptor.of(JAVA_INT, ADDRESS), "ncclCommDestroy");
        errorString = lib.bind(FunctionDescriptor.of(ADDRESS, JAVA_INT), "ncclGetErrorString");
        // (send, recv, count, datatype, op, comm, stream)
        allReduce = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), "ncclAllReduce");
        // (send, recv, sendcount, datatype, comm, stream)
        allGather = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS), "ncclAllGather");
        // (send, recv, count, datatype, root, comm, stream)
        broadcast = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), "ncclBroadcast");
        // (buffer, count, datatype, peer, comm, stream)
        send = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), "ncclSend");
        recv = lib.bind(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), "ncclRecv");
        groupStart = lib.bind(FunctionDescriptor.of(JAVA_INT), "ncclGroupStart");
        groupEnd = lib.bind(FunctionDescriptor.of(JAVA_INT), "ncclGroupEnd");
    }

    /** The library, loaded once; a machine without it gets one line saying where it was looked for. */
    public static NcclLibrary get() {
        NcclLibrary n = instance;
        if (n != null) return n;
        synchronized (NcclLibrary.class) {
            if (instance == null) {
                disableNvlinkMulticast();
                instance = new NcclLibrary(new NativeLibrary("NCCL", CudaLibraries.load("NCCL", SONAMES, Arena.global())));
            }
            return instance;
        }
    }

    /** NCCL reads NCCL_NVLS_ENABLE from the environment at communicator set-up; Java cannot set it, libc can. */
    private static void disableNvlinkMulticast() {
        Linker linker = Linker.nativeLinker();
        var setenv = linker.defaultLookup().find("setenv");
        if (setenv.isEmpty()) return;
        MethodHandle h = linker.downcallHandle(setenv.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocateFrom("NCCL_NVLS_ENABLE"), value = a.allocateFrom("0");
            NativeLibrary.invoke(() -> (int) h.invokeExact(name, value, 1));
        }
    }

    /** e.g. 22703 for 2.27.3. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("ncclGetVersion", NativeLibrary.invoke(() -> (int) getVersion.invokeExact(v)));
            return v.get(JAVA_INT, 0);
        }
    }

    /** A new unique id (rank 0 makes it; the others receive it over the rendezvous). */
    public byte[] uniqueId() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", NativeLibrary.invoke(() -> (int) getUniqueId.invokeExact(id)));
            return id.toArray(JAVA_BYTE);
        }
    }

    /** A communicator of {@code ranks} ranks for this process's current CUDA context (the caller sets the device first). */
    public MemorySegment commInitRank(int ranks, byte[] uniqueId, int rank) {
        if (uniqueId.length != UNIQUE_ID_BYTES) throw new IllegalArgumentException("an NCCL unique id has " + UNIQUE_ID_BYTES + " bytes");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment comm = a.allocate(ADDRESS), id = a.allocate(UNIQUE_ID);
            id.copyFrom(MemorySegment.ofArray(uniqueId));
            check("ncclCommInitRank", NativeLibrary.invoke(() -> (int) commInitRank.invokeExact(comm, ranks, id, rank)));
            return comm.get(ADDRESS, 0);
        }
    }

    public void commDestroy(MemorySegment comm) {
        check("ncclCommDestroy", NativeLibrary.invoke(() -> (int) commDestroy.invokeExact(comm)));
    }

    public void allReduceSumF32(long send, long recv, long count, MemorySegment comm, MemorySegment stream) {
        check("ncclAllReduce", NativeLibrary.invoke(() -> (int) allReduce.invokeExact(send, recv, count, FLOAT32, SUM, comm, stream)));
    }

    public void allGatherF32(long send, long recv, long count, MemorySegment comm, MemorySegment stream) {
        check("ncclAllGather", NativeLibrary.invoke(() -> (int) allGather.invokeExact(send, recv, count, FLOAT32, comm, stream)));
    }

    public void broadcastF32(long send, long recv, long count, int root, MemorySegment comm, MemorySegment stream) {
        check("ncclBroadcast", NativeLibrary.invoke(() -> (int) broadcast.invokeExact(send, recv, count, FLOAT32, root, comm, stream)));
    }

    public void sendF32(long buffer, long count, int peer, MemorySegment comm, MemorySegment stream) {
        check("ncclSend", NativeLibrary.invoke(() -> (int) send.invokeExact(buffer, count, FLOAT32, peer, comm, stream)));
    }

    public void recvF32(long buffer, long count, int peer, MemorySegment comm, MemorySegment stream) {
        check("ncclRecv", NativeLibrary.invoke(() -> (int) recv.invokeExact(buffer, count, FLOAT32, peer, comm, stream)));
    }

    /** Starts a group: the sends and receives until {@link #groupEnd()} are issued together (no deadlock between pairs). */
    public void groupStart() {
        check("ncclGroupStart", NativeLibrary.invoke(() -> (int) groupStart.invokeExact()));
    }

    public void groupEnd() {
        check("ncclGroupEnd", NativeLibrary.invoke(() -> (int) groupEnd.invokeExact()));
    }

    private void check(String call, int status) {
        if (status == 0) return;
        throw new CudaException(call, status, NativeLibrary.cString(errorText(status)));
    }

    private MemorySegment errorText(int status) {
        try {
            return (MemorySegment) errorString.invokeExact(status);
        } catch (Throwable t) {
            return MemorySegment.NULL;
        }
    }
}
