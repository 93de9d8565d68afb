package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.BackendProvider;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;

/** Registers the CUDA backend with {@link dev.bitcap.engine.Backends} (META-INF/services). */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String device() {
        return "cuda";
    }

    @Override
    public String unavailableReason() {
        try {
            if (CudaDriver.get().deviceCount() == 0) return "no CUDA device";
            return null;
        } catch (BitcapException e) {
            return e.getMessage();
        }
    }

    @Override
    public Backend create(LoadedModel model, PassRecorder recorder) {
        return new CudaBackend(model, recorder);
    }
}
