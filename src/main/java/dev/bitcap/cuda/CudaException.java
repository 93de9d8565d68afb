package dev.bitcap.cuda;

import dev.bitcap.BitcapException;

/** A CUDA, NVRTC or cuBLAS call that returned an error status: names the call and the status. */
public final class CudaException extends BitcapException {
    private final int status;

    public CudaException(String call, int status, String statusName) {
        super(call + " failed: " + statusName + " (" + status + ")");
        this.status = status;
    }

    public CudaException(String message) {
        super(message);
        this.status = -1;
    }

    public int status() {
        return status;
    }
}
