package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.Weights;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The plan's defaults and refusals, and what a rank's shard holds. */
class ParallelPlanTest {
    @Test
    void defaultsFollowTheGivenFlags() {
        assertEquals(new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS), ParallelPlan.of(2, null, null, ExpertPlacement.CONTIGUOUS));
        assertEquals(new ParallelPlan(4, 4, 1, ExpertPlacement.CONTIGUOUS), ParallelPlan.of(null, 4, null, ExpertPlacement.CONTIGUOUS));
        assertEquals(new ParallelPlan(2, 1, 2, ExpertPlacement.CONTIGUOUS), ParallelPlan.of(null, null, 2, ExpertPlacement.CONTIGUOUS));
        assertEquals(new ParallelPlan(2, 2, 2, ExpertPlacement.CONTIGUOUS), ParallelPlan.of(null, 2, 2, ExpertPlacement.CONTIGUOUS));
        BitcapException e = assertThrows(BitcapException.class, () -> new ParallelPlan(3, 1, 1, ExpertPlacement.CONTIGUOUS));
        assertEquals("3 ranks need --tp 3 or --ep 3", e.getMessage());
    }

    @Test
    void placementsGiveEveryExpertOneOwner() {
        assertEquals(0, ExpertPlacement.CONTIGUOUS.owner(3, 8, 2));
        assertEquals(1, ExpertPlacement.CONTIGUOUS.owner(4, 8, 2));
        assertEquals(1, ExpertPlacement.ROUND_ROBIN.owner(3, 8, 2));
        assertEquals(2, ExpertPlacement.ROUND_ROBIN.owner(5, 7, 3));
    }

    @Test
    void aShardViewsItsRowsAndOwnsOnlyItsColumnsAndExperts() {
        Path dir = SharedData.require("hf-fixtures/tiny-mixtral/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null);
             ModelShard shard = ModelShard.of(model, new ParallelPlan(2, 2, 2, ExpertPlacement.ROUND_ROBIN), 1)) {
            Weights.Layer full = model.weights().layers()[0], part = shard.weights().layers()[0];
            Tensor q = (Tensor) full.attention().q(), q1 = (Tensor) part.attention().q();
            assertEquals(q.rows() / 2, q1.rows());
            // rank 1's q rows are the second half of the mapped tensor, the same memory
            assertEquals(q.data().address() + q.byteSize() / 2, q1.data().address());
            Tensor o = (Tensor) full.attention().o(), o1 = (Tensor) part.attention().o();
            assertEquals(o.rows(), o1.rows());
            assertEquals(o.cols() / 2, o1.cols());
            assertEquals(o.getFloat(3 * o.cols() + o.cols() / 2 + 1), o1.getFloat(3 * o1.cols() + 1));
            for (int e = 0; e < 4; e++) {
                if (e % 2 == 1) assertTrue(part.moe().experts()[e] == full.moe().experts()[e], "rank 1 holds expert " + e + " whole");
                else assertNull(part.moe().experts()[e], "rank 1 does not hold expert " + e);
            }
            assertEquals(2, shard.config().heads());
            assertEquals(1, shard.config().kvHeads());
        }
    }

    @Test
    void quantizedCutsOffTheirBoundariesAndUnsplittableMatricesAreOneLine() {
        Path mixtral = SharedData.require("hf-fixtures/tiny-mixtral/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(mixtral, null);
             LoadedModel q = QuantizedModels.rtn(model, "int4-asym", 32)) {
            // the experts' intermediate size is 96: 48 columns per rank is not a whole number of 32-code groups
            BitcapException e = assertThrows(BitcapException.class, () -> ModelShard.of(q, new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS), 0));
            assertEquals("--tp cannot cut layer 0 expert 0 down (int4-asym g32) at columns 0..48: the split must fall on its groups of 32 and "
                    + "its units of 32 codes", e.getMessage());
            // under ep the experts are not cut, so the same model splits
            ModelShard.of(q, new ParallelPlan(2, 1, 2, ExpertPlacement.CONTIGUOUS), 1).close();
        }
        Path llama = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(llama, null)) {
            LoadedModel watched = model.withWeights(Weights.mapMatrices(model.weights(), (slot, w) -> slot.role() == dev.bitcap.model.WeightRole.O
                    ? new dev.bitcap.quant.ActivationCapture(w, (x, n, cols) -> {}) : w), null);
            BitcapException e = assertThrows(BitcapException.class, () -> ModelShard.of(watched, new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS), 0));
            assertTrue(e.getMessage().startsWith("--tp splits dense, GGML-block and group-quantized weights only; layer 0 attention o is stored as "),
                    e.getMessage());
        }
    }
}
