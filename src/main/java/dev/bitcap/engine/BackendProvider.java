package dev.bitcap.engine;

import dev.bitcap.model.LoadedModel;

/**
 * A backend other than the CPU one, found through {@link java.util.ServiceLoader} so that the engine does not depend
 * on the packages that implement it (the CUDA backend registers itself in META-INF/services).
 */
public interface BackendProvider {
    /** The {@code --device} name, e.g. {@code cuda}. */
    String device();

    /** Null when this machine can run the backend; otherwise one line saying why not (no driver, no GPU). */
    String unavailableReason();

    Backend create(LoadedModel model, PassRecorder recorder);
}
