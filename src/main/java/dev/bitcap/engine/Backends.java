package dev.bitcap.engine;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;

/** Chooses the backend named by {@code --device}. */
public final class Backends {
    private Backends() {}

    public static Backend create(String device, LoadedModel model, PassRecorder recorder) {
        return switch (device) {
            case "cpu", "auto" -> new CpuBackend(model, recorder);
            case "cuda" -> throw new BitcapException("--device cuda: this build has no CUDA backend yet; use --device cpu");
            default -> throw new BitcapException("unknown --device '" + device + "' (valid: cpu, cuda, auto)");
        };
    }
}
