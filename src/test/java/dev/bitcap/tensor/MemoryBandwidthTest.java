package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link MemoryBandwidth}: a sanity range only (100 MB/s to 10 TB/s), not a speed assertion. */
class MemoryBandwidthTest {
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void measuresAPlausibleFiniteRate() {
        double bytesPerSecond = MemoryBandwidth.measureRead(64L << 20, 2);
        assertTrue(Double.isFinite(bytesPerSecond) && bytesPerSecond >= 1e8 && bytesPerSecond <= 1e13,
                "measured " + bytesPerSecond + " bytes/s");
    }
}
