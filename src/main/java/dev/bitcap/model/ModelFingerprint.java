package dev.bitcap.model;

import dev.bitcap.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A short identity of a model for files trained against it (a SeerAttention gate): SHA-256 over the shape of
 * its attention (layers, heads, head dim, hidden size, vocabulary, RoPE) and 64 evenly spaced rows of its
 * embedding table read as floats. Reading a sample keeps it quick for large models; reading values rather than
 * bytes makes the same weights in another file format (llama2.c, GGUF, safetensors) the same model.
 */
public final class ModelFingerprint {
    private static final int SAMPLED_ROWS = 64;

    private ModelFingerprint() {}

    public static String of(LoadedModel model) {
        ModelConfig c = model.config();
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        String shape = c.family() + " hidden=" + c.hiddenSize() + " layers=" + c.layers() + " heads=" + c.heads() + "/" + c.kvHeads()
                + " headDim=" + c.headDim() + " vocab=" + c.vocabSize() + " theta=" + c.ropeTheta() + " rope=" + c.ropeStyle() + " " + c.ropeScaling();
        sha.update(shape.getBytes(StandardCharsets.UTF_8));
        Tensor embedding = model.weights().embedding();
        long rows = embedding.dim(0), cols = embedding.dim(1);
        ByteBuffer row = ByteBuffer.allocate((int) cols * Float.BYTES);
        for (int i = 0; i < SAMPLED_ROWS; i++) {
            long r = rows * i / SAMPLED_ROWS;
            row.clear();
            for (long j = 0; j < cols; j++) row.putFloat(embedding.getFloat(r * cols + j));
            sha.update(row.array());
        }
        return HexFormat.of().formatHex(sha.digest(), 0, 8);
    }
}
