package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
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
    void quantizedMatricesAreNotCutAndSaySo() {
        Path dir = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null)) {
            var fmt = QuantFormats.byName("int4-asym");
            java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
            LoadedModel q = model.withWeights(Weights.mapMatrices(model.weights(), (slot, w) -> slot.role() != dev.bitcap.model.WeightRole.O ? w
                    : QuantizedTensor.pack(RtnQuantizer.quantize(fmt, ((Tensor) w).toFloatArray(), (int) w.rows(), (int) w.cols(), 32, "o"), null, arena)),
                    arena);
            BitcapException e = assertThrows(BitcapException.class, () -> ModelShard.of(q, new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS), 0));
            assertTrue(e.getMessage().startsWith("--tp splits dense and GGML-block weights only; layer 0 attention o is stored as "), e.getMessage());
        }
    }
}
