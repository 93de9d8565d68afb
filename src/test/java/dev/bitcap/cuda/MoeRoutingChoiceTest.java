package dev.bitcap.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaBackend.Routing;
import org.junit.jupiter.api.Test;

/** Which MoE passes the CUDA backend routes on the device, by BITCAP_MOE_ROUTING and pass size; no GPU needed. */
class MoeRoutingChoiceTest {
    @Test
    void theVariableNamesAMode() {
        assertEquals(Routing.AUTO, CudaBackend.routingFor(null));
        assertEquals(Routing.AUTO, CudaBackend.routingFor(" "));
        assertEquals(Routing.DEVICE, CudaBackend.routingFor("Device"));
        assertEquals(Routing.HOST, CudaBackend.routingFor(" host "));
        BitcapException e = assertThrows(BitcapException.class, () -> CudaBackend.routingFor("gpu"));
        assertEquals("BITCAP_MOE_ROUTING: expected auto, device or host, got 'gpu'", e.getMessage());
    }

    @Test
    void autoRoutesBatchedPassesOnTheDeviceAndSingleTokensOnTheHost() {
        assertFalse(CudaBackend.routesOnDevice(Routing.AUTO, 1));
        assertTrue(CudaBackend.routesOnDevice(Routing.AUTO, 2));
        assertTrue(CudaBackend.routesOnDevice(Routing.AUTO, CudaMoe.MAX_TOKENS));
        assertFalse(CudaBackend.routesOnDevice(Routing.AUTO, CudaMoe.MAX_TOKENS + 1), "prefill stays on the host path");
        assertTrue(CudaBackend.routesOnDevice(Routing.DEVICE, 1));
        assertFalse(CudaBackend.routesOnDevice(Routing.DEVICE, CudaMoe.MAX_TOKENS + 1));
        assertFalse(CudaBackend.routesOnDevice(Routing.HOST, 2));
    }
}
