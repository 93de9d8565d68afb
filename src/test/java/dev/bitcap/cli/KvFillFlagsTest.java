package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.bitcap.BitcapException;
import org.junit.jupiter.api.Test;

/** bench --kv-fill and --kv-capacity where no GPU is needed: parsing and refusals. */
class KvFillFlagsTest {
    @Test
    void fillCountsTakeSuffixesAndMax() {
        assertEquals(1000, BenchCommand.parseFill("1000"));
        assertEquals(131072, BenchCommand.parseFill("128K"));
        assertEquals(131072, BenchCommand.parseFill("128k"));
        assertEquals(1048576, BenchCommand.parseFill("1M"));
        assertEquals(-1, BenchCommand.parseFill("max"));
        assertEquals(-1, BenchCommand.parseFill("MAX"));
    }

    @Test
    void badFillCountsAreRefused() {
        for (String bad : new String[] {"abc", "1G", "K", "1.5M", ""}) {
            BitcapException e = assertThrows(BitcapException.class, () -> BenchCommand.parseFill(bad), bad);
            assertEquals("--kv-fill takes a number of positions (e.g. 131072, 128K, 1M) or 'max', got '" + bad + "'", e.getMessage());
        }
        for (String bad : new String[] {"0", "-5", "2048M", "3000000000"}) {
            BitcapException e = assertThrows(BitcapException.class, () -> BenchCommand.parseFill(bad), bad);
            assertEquals("--kv-fill must be between 1 and " + (Integer.MAX_VALUE - 1024) + " positions, got '" + bad + "'", e.getMessage());
        }
    }

    @Test
    void fillAndCapacityNeedTheGpu() {
        CliRunner.run("bench", "--kv-fill", "1000", "--gen", "2", "--repeat", "1", "--kv", "int4")
                .assertUserError("--kv-fill runs on --device cuda with --kv fp16, int4 or int2");
        CliRunner.run("bench", "--kv-fill", "lots").assertUserError("--kv-fill takes a number of positions");
        CliRunner.run("bench", "--kv-capacity").assertUserError("--kv-capacity runs on --device cuda");
    }
}
