package dev.bitcap.cap;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.WeightRole;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * How a checkpoint's matrices are stored, for a configuration that runs it without quantizing (a bf16 checkpoint, or
 * one written packed by {@code quantize} or {@code synth --quant}): stored bits per weight over the decoder-layer
 * matrices other than the routers (as {@code quantize} counts them), and the MoE-CAP precision label of the storage
 * that holds most of those weights.
 */
record StoredWeights(double bitsPerWeight, String moeCapLabel) {
    static StoredWeights of(LoadedModel model) {
        long[] weights = {0}, bytes = {0};
        Map<String, Long> byFormat = new HashMap<>();
        Weights.mapMatrices(model.weights(), (slot, w) -> {
            if (slot.role() == WeightRole.ROUTER || slot.role() == WeightRole.LM_HEAD) return w;
            long n = w.rows() * w.cols();
            weights[0] += n;
            bytes[0] += w.byteSize();
            String format = switch (w) {
                case QuantizedTensor q -> q.format().name();
                case BinaryTensor b -> BinaryLayout.NAME;
                case Tensor t -> t.dtype().name().toLowerCase();
                default -> w.storage();
            };
            byFormat.merge(format, n, Long::sum);
            return w;
        });
        String format = byFormat.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse("f32");
        return new StoredWeights(weights[0] == 0 ? 32 : 8.0 * bytes[0] / weights[0], MoeCapPrecision.label(format, null));
    }
}
