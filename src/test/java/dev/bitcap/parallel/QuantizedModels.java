package dev.bitcap.parallel;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.WeightRole;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.Arena;

/** A model with every projection quantized by round-to-nearest and packed (the head and router left dense). */
final class QuantizedModels {
    private QuantizedModels() {}

    static LoadedModel rtn(LoadedModel model, String format, int groupSize) {
        var f = QuantFormats.byName(format);
        Arena arena = Arena.ofShared();
        return model.withWeights(Weights.mapMatrices(model.weights(), (slot, w) -> {
            if (slot.role() == WeightRole.LM_HEAD || slot.role() == WeightRole.ROUTER) return w;
            float[] values = ((Tensor) w).toFloatArray();
            return QuantizedTensor.pack(RtnQuantizer.quantize(f, values, (int) w.rows(), (int) w.cols(), groupSize, slot.toString()), null, arena);
        }), arena);
    }
}
