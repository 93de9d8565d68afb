package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The NCCL bindings against a stand-in library (nothing is called), and the one-line error where NCCL is absent. */
class NcclLibraryTest {
    @Test
    void everyEntryPointIsBoundWithItsArgumentCount() {
        Map<String, FunctionDescriptor> b = new LinkedHashMap<>();
        new NcclLibrary(new NativeLibrary("stand-in", name -> Optional.of(MemorySegment.ofAddress(4096)), b::put));
        // parameter counts from nccl.h: (sendbuff, recvbuff, count, datatype, op, comm, stream) and so on
        Map<String, Integer> arity = Map.ofEntries(Map.entry("ncclGetVersion", 1), Map.entry("ncclGetUniqueId", 1),
                Map.entry("ncclCommInitRank", 4), Map.entry("ncclCommDestroy", 1), Map.entry("ncclGetErrorString", 1),
                Map.entry("ncclAllReduce", 7), Map.entry("ncclAllGather", 6), Map.entry("ncclBroadcast", 7), Map.entry("ncclSend", 6),
                Map.entry("ncclRecv", 6), Map.entry("ncclGroupStart", 0), Map.entry("ncclGroupEnd", 0));
        assertEquals(arity.keySet(), b.keySet());
        for (var e : arity.entrySet()) assertEquals(e.getValue(), b.get(e.getKey()).argumentLayouts().size(), e.getKey());
        // the unique id travels by value: a 128-byte struct, not a pointer
        assertEquals(NcclLibrary.UNIQUE_ID_BYTES, b.get("ncclCommInitRank").argumentLayouts().get(2).byteSize());
    }

    @Test
    void aMachineWithoutNcclGetsOneLineNamingTheLibraryAndWhereItLooked() {
        boolean present = false;
        try (Arena a = Arena.ofConfined()) {
            CudaLibraries.load("NCCL", NcclLibrary.SONAMES, a);
            present = true;
        } catch (BitcapException expected) {
            // the case under test
        }
        Assumptions.assumeFalse(present, "libnccl.so.2 is installed here; the missing-library message cannot be seen");
        BitcapException e = assertThrows(BitcapException.class, NcclLibrary::get);
        assertTrue(e.getMessage().startsWith("no NCCL: could not load libnccl.so.2 (looked in "), e.getMessage());
        assertTrue(e.getMessage().contains("BITCAP_CUDA_LIB_DIR"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertEquals(List.of("libnccl.so.2"), NcclLibrary.SONAMES);
    }
}
