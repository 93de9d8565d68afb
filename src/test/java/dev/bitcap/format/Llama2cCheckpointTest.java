package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cCheckpointTest {
    private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d+)\\.(\\w+)\\.weight");

    @TempDir
    Path dir;

    @Test
    void readsTheStories260KHeaderAndLayout() {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(SharedData.require("models/stories260K.bin"))) {
            assertEquals(new Llama2cCheckpoint.Header(64, 172, 5, 8, 4, 512, 512, true), c.header());
            assertEquals(32, c.header().kvDim());
            assertEquals(3 + 9 * 5, c.names().size());
            Tensor embedding = c.tensor("model.embed_tokens.weight");
            assertArrayEquals(new long[] {512, 64}, embedding.shape());
            assertEquals(-0.29474878311157227f, embedding.getFloat(0));
            assertSame(embedding, c.tensor("lm_head.weight"));
            assertArrayEquals(new long[] {32, 64}, c.tensor("model.layers.4.self_attn.k_proj.weight").shape());
            assertArrayEquals(new long[] {64, 172}, c.tensor("model.layers.0.mlp.down_proj.weight").shape());
            assertArrayEquals(new long[] {64}, c.tensor("model.layers.2.input_layernorm.weight").shape());
            assertEquals(DType.F32, c.tensor("model.norm.weight").dtype());
        }
    }

    /** llama.cpp's converter wrote the same weights as GGUF: every tensor must be bit-identical through the name mapping. */
    @Test
    void everyGgufTensorIsBitIdenticalToTheBinThroughTheNameMapping() {
        try (Llama2cCheckpoint bin = Llama2cCheckpoint.open(SharedData.require("models/stories260K.bin"));
             GgufFile gguf = GgufFile.open(SharedData.require("models/stories260K.gguf"))) {
            Set<String> mapped = new HashSet<>();
            for (String ggufName : gguf.names()) {
                String hfName = hfName(ggufName);
                Tensor expected = bin.tensor(hfName);
                Tensor actual = gguf.tensor(ggufName);
                assertEquals(expected.dtype(), actual.dtype(), ggufName);
                assertArrayEquals(expected.shape(), actual.shape(), ggufName);
                assertEquals(-1, expected.data().mismatch(actual.data()), ggufName + " differs from " + hfName);
                mapped.add(hfName);
            }
            assertEquals(bin.names(), mapped);
        }
    }

    @Test
    void storiesGgufMetadataAgreesWithTheBinHeader() {
        try (Llama2cCheckpoint bin = Llama2cCheckpoint.open(SharedData.require("models/stories260K.bin"));
             GgufFile gguf = GgufFile.open(SharedData.require("models/stories260K.gguf"))) {
            Llama2cCheckpoint.Header h = bin.header();
            assertEquals(3, gguf.version());
            assertEquals("llama", gguf.getString("general.architecture"));
            assertEquals(h.dim(), gguf.getLong("llama.embedding_length"));
            assertEquals(h.hiddenDim(), gguf.getLong("llama.feed_forward_length"));
            assertEquals(h.layers(), gguf.getLong("llama.block_count"));
            assertEquals(h.heads(), gguf.getLong("llama.attention.head_count"));
            assertEquals(h.kvHeads(), gguf.getLong("llama.attention.head_count_kv"));
            assertEquals(1e-5, gguf.getDouble("llama.attention.layer_norm_rms_epsilon", 0), 1e-12);
            assertEquals(4294967295L, gguf.getLong("tokenizer.ggml.padding_token_id"));
            List<Object> tokens = gguf.getArray("tokenizer.ggml.tokens");
            assertEquals(h.vocabSize(), tokens.size());
            assertEquals(List.of("<unk>", "<s>", "</s>"), tokens.subList(0, 3));
            assertEquals(h.vocabSize(), gguf.getArray("tokenizer.ggml.scores").size());
        }
    }

    @Test
    void sizeThatDisagreesWithTheHeader() throws IOException {
        Path file = header(dir.resolve("short.bin"), 64, 172, 5, 8, 4, 512, 512, 100);
        String message = assertThrows(BitcapException.class, () -> Llama2cCheckpoint.open(file)).getMessage();
        assertEquals(file + ": file has 128 bytes but its llama2.c header (dim=64 layers=5 vocab=512) implies 1056540", message);
    }

    @Test
    void implausibleHeaderAndVersionedExport() throws IOException {
        Path zeros = header(dir.resolve("zero.bin"), 0, 0, 0, 0, 0, 0, 0, 0);
        assertTrue(assertThrows(BitcapException.class, () -> Llama2cCheckpoint.open(zeros)).getMessage()
                .contains("not a llama2.c checkpoint (implausible header dim=0"));
        Path huge = header(dir.resolve("huge.bin"), Integer.MAX_VALUE - 3, Integer.MAX_VALUE, Integer.MAX_VALUE, 2, 1,
                Integer.MAX_VALUE, Integer.MAX_VALUE, 0);
        assertTrue(assertThrows(BitcapException.class, () -> Llama2cCheckpoint.open(huge)).getMessage()
                .contains("header implies over 2^63 bytes"));
        Path versioned = header(dir.resolve("v2.bin"), 0x616b3432, 2, 0, 0, 0, 0, 0, 0);
        assertTrue(assertThrows(BitcapException.class, () -> Llama2cCheckpoint.open(versioned)).getMessage()
                .contains("versioned export (magic ak42)"));
        Path tiny = Files.write(dir.resolve("tiny.bin"), new byte[10]);
        assertTrue(assertThrows(BitcapException.class, () -> Llama2cCheckpoint.open(tiny)).getMessage()
                .contains("truncated: llama2.c header at byte 0 needs 28 bytes but the file has 10"));
    }

    @Test
    void negativeVocabMeansASeparateClassifier() throws IOException {
        // dim 4, hidden 2, 1 layer, 2 heads, 1 kv head, vocab -3, seq 1: every float numbered by its position
        int floats = 3 * 4 + 4 + 16 + 8 + 8 + 16 + 4 + 8 + 8 + 8 + 4 + 1 + 1 + 3 * 4;
        ByteBuffer b = ByteBuffer.allocate(28 + 4 * floats).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(4).putInt(2).putInt(1).putInt(2).putInt(1).putInt(-3).putInt(1);
        for (int i = 0; i < floats; i++) {
            b.putFloat(i);
        }
        Path file = Files.write(dir.resolve("wcls.bin"), b.array());
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(file)) {
            assertEquals(new Llama2cCheckpoint.Header(4, 2, 1, 2, 1, 3, 1, false), c.header());
            assertEquals(0f, c.tensor("model.embed_tokens.weight").getFloat(0));
            assertEquals(12f, c.tensor("model.layers.0.input_layernorm.weight").getFloat(0));
            assertArrayEquals(new long[] {2, 4}, c.tensor("model.layers.0.self_attn.k_proj.weight").shape());
            assertEquals(16f + 16, c.tensor("model.layers.0.self_attn.k_proj.weight").getFloat(0));
            assertEquals(floats - 12f, c.tensor("lm_head.weight").getFloat(0));
            assertEquals(floats - 1f, c.tensor("lm_head.weight").getFloat(11));
        }
    }

    /** The Hugging Face name that llama.cpp's GGUF name stands for. */
    static String hfName(String ggufName) {
        switch (ggufName) {
            case "token_embd.weight": return "model.embed_tokens.weight";
            case "output_norm.weight": return "model.norm.weight";
            case "output.weight": return "lm_head.weight";
            default: break;
        }
        Matcher m = BLOCK.matcher(ggufName);
        assertTrue(m.matches(), ggufName);
        String part = switch (m.group(2)) {
            case "attn_q" -> "self_attn.q_proj";
            case "attn_k" -> "self_attn.k_proj";
            case "attn_v" -> "self_attn.v_proj";
            case "attn_output" -> "self_attn.o_proj";
            case "attn_norm" -> "input_layernorm";
            case "ffn_norm" -> "post_attention_layernorm";
            case "ffn_gate" -> "mlp.gate_proj";
            case "ffn_down" -> "mlp.down_proj";
            case "ffn_up" -> "mlp.up_proj";
            default -> throw new AssertionError("unmapped GGUF tensor " + ggufName);
        };
        return "model.layers." + m.group(1) + "." + part + ".weight";
    }

    private static Path header(Path file, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seq,
                               int extraBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28 + extraBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(dim).putInt(hidden).putInt(layers).putInt(heads).putInt(kvHeads).putInt(vocab).putInt(seq);
        return Files.write(file, b.array());
    }
}
