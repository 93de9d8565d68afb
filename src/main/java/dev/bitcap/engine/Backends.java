package dev.bitcap.engine;

import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/** Chooses the backend named by {@code --device}: cpu, cuda, or auto (cuda when a GPU is usable, else cpu). */
public final class Backends {
    private Backends() {}

    public static Backend create(String device, LoadedModel model, PassRecorder recorder) {
        return create(device, model, recorder, note -> {});
    }

    /** As {@link #create(String, LoadedModel, PassRecorder)}; {@code notes} hears why auto chose the CPU. */
    public static Backend create(String device, LoadedModel model, PassRecorder recorder, Consumer<String> notes) {
        return switch (device) {
            case "cpu" -> new CpuBackend(model, recorder);
            case "cuda" -> {
                BackendProvider p = provider("cuda");
                if (p == null) throw new BitcapException("--device cuda: this build has no CUDA backend; use --device cpu");
                yield p.create(model, recorder);
            }
            case "auto" -> {
                BackendProvider p = provider("cuda");
                String reason = p == null ? "this build has no CUDA backend" : p.unavailableReason();
                if (reason == null) yield p.create(model, recorder);
                notes.accept("--device auto: running on the CPU (" + reason + ")");
                yield new CpuBackend(model, recorder);
            }
            default -> throw new BitcapException("unknown --device '" + device + "' (valid: cpu, cuda, auto)");
        };
    }

    static BackendProvider provider(String device) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.device().equals(device)) return p;
        }
        return null;
    }
}
