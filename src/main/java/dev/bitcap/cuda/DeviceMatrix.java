package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;

/** A weight matrix copied to the device in its stored bytes: W [rows, cols] row-major, {@code rowBytes} per row. */
public record DeviceMatrix(long pointer, DType type, int rows, int cols, long rowBytes) {
    /** Whether the CUDA kernels can read {@code m} as stored. */
    public static boolean supported(WeightMatrix m) {
        return m instanceof Tensor t && CudaMatMul.weightType(t.dtype()) >= 0;
    }

    /** Uploads {@code m} once; a storage the kernels cannot read is a one-line error naming it. */
    public static DeviceMatrix upload(CudaDevice device, WeightMatrix m) {
        if (!(m instanceof Tensor t) || CudaMatMul.weightType(t.dtype()) < 0) {
            throw new BitcapException("the CUDA backend cannot run " + m.storage() + " weights yet (it runs F32, F16, BF16, Q8_0 and Q4_0)");
        }
        int rows = Math.toIntExact(t.rows()), cols = Math.toIntExact(t.cols());
        return new DeviceMatrix(device.upload(t.data()), t.dtype(), rows, cols, t.dtype().byteSize(cols));
    }

    public long bytes() {
        return rowBytes * rows;
    }
}
