package dev.bitcap.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.bitcap.BitcapException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class BlockSelectionTest {
    private static int[] select(BlockSelection s, double[] scores) {
        int[] into = new int[scores.length];
        return Arrays.copyOf(into, s.select(scores, scores.length, into));
    }

    @Test
    void densityKeepsTheFirstTheLastAndTheBestInBetween() {
        double[] scores = {0, 0.9, 0.1, 0.5, 0.05, 0.3, 0.2, 0.8, 0.0, 0.0};
        // budget round(0.4 * 10) = 4: blocks 0 and 9, then the two best of 1..8 (0.9 at 1, 0.8 at 7)
        assertArrayEquals(new int[] {0, 1, 7, 9}, select(BlockSelection.density(0.4), scores));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, select(BlockSelection.density(1.0), scores));
        assertArrayEquals(new int[] {0, 9}, select(BlockSelection.density(0.01), scores));
    }

    @Test
    void tiesGoToTheLaterBlock() {
        assertArrayEquals(new int[] {0, 3, 5}, select(BlockSelection.density(0.5), new double[] {0, 1, 1, 1, 0, 0}));
    }

    @Test
    void shortRowsKeepWhatTheyHave() {
        assertArrayEquals(new int[] {0}, select(BlockSelection.density(0.1), new double[] {1}));
        assertArrayEquals(new int[] {0, 1}, select(BlockSelection.threshold(0.9), new double[] {0.5, 0.5}));
    }

    @Test
    void thresholdKeepsBlocksAboveIt() {
        assertArrayEquals(new int[] {0, 1, 3, 5}, select(BlockSelection.threshold(0.15), new double[] {0.01, 0.3, 0.1, 0.2, 0.15, 0.24}));
    }

    @Test
    void budgetFollowsTheDensityWithTwoBlocksAtLeast() {
        assertEquals(16, BlockSelection.budget(0.5, 32));
        assertEquals(2, BlockSelection.budget(0.1, 12));
        assertEquals(3, BlockSelection.budget(0.1, 32));
        assertEquals(1, BlockSelection.budget(0.1, 1));
    }

    @Test
    void densityOutsideTheUnitIntervalIsRefused() {
        for (double d : new double[] {0, -0.5, 1.5, Double.NaN}) {
            BitcapException e = assertThrows(BitcapException.class, () -> BlockSelection.density(d));
            assertEquals("--density must be in (0, 1], got " + d, e.getMessage());
        }
        assertThrows(BitcapException.class, () -> BlockSelection.threshold(1.0));
        assertThrows(BitcapException.class, () -> BlockSelection.threshold(0));
    }
}
