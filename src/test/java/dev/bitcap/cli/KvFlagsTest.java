package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The --kv flags on the commands that run a model (the built-in model: head dim 32, 2 KV heads, 4 layers). */
class KvFlagsTest {
    @Test
    void badFlagsAreOneLineErrors() {
        CliRunner.run("logits", "--ids", "1,2", "--kv", "int3").assertUserError("unknown --kv 'int3'");
        CliRunner.run("logits", "--ids", "1,2", "--kv", "int4", "--kv-group", "16").assertUserError("--kv-group must be 32, 64 or 128");
        CliRunner.run("logits", "--ids", "1,2", "--kv", "int4", "--kv-key", "row").assertUserError("unknown --kv-key 'row'");
        CliRunner.run("logits", "--ids", "1,2", "--kv", "int4", "--kv-pool-mb", "0").assertUserError("--kv-pool-mb must be >= 1");
    }

    @Test
    void inspectShowsTheCacheBytes() {
        CliRunner r = CliRunner.run("inspect", "--kv", "int4", "--kv-group", "32");
        assertEquals(0, r.code(), r.err());
        // head dim 32, 2 KV heads, 4 layers: per head and position 16+16 code bytes, 4 key and 4 value parameter bytes
        assertTrue(r.out().contains("int4 g32, keys per channel"), r.out());
        assertTrue(r.out().matches("(?s).*kv bytes per position\\s+320\\n.*"), r.out());
    }

    @Test
    void benchCountsTheFormatsBytesAndAShortPoolIsRefused() {
        CliRunner f32 = CliRunner.run("bench", "--prompt-len", "40", "--gen", "2", "--repeat", "1", "--json");
        CliRunner int2 = CliRunner.run("bench", "--prompt-len", "40", "--gen", "2", "--repeat", "1", "--json", "--kv", "int2");
        assertEquals(0, f32.code(), f32.err());
        assertEquals(0, int2.code(), int2.err());
        // 42 positions: f32 2*64*4*4 bytes each; int2: 32 packed at 2 heads * 4 layers * (8+8 code bytes + 4 + 4
        // parameter bytes) = 192 bytes, and 10 still in the fp32 residual block
        assertTrue(f32.out().contains("\"kv_bytes_per_sequence_at_end\" : " + 42 * 2048), f32.out());
        assertTrue(int2.out().contains("\"kv_bytes_per_sequence_at_end\" : " + (32 * 192 + 10 * 2048)), int2.out());
        CliRunner.run("bench", "--prompt-len", "300", "--gen", "1", "--batch", "64", "--repeat", "1", "--kv", "int4", "--kv-pool-mb", "1")
                .assertUserError("KV cache pool exhausted");
    }
}
