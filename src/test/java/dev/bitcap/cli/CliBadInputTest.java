package dev.bitcap.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.bitcap.tensor.DType;
import dev.bitcap.testing.SyntheticFixtures;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad input the foundation issue names gives one clear line and exit code 2. */
class CliBadInputTest {
    @TempDir Path dir;

    private Path tinyLlama;

    private Path tinyLlama() {
        if (tinyLlama == null) tinyLlama = SyntheticFixtures.hf("tiny-llama", DType.F32, dir);
        return tinyLlama;
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path m = tinyLlama();
        Path st = m.resolve("model.safetensors");
        try (var ch = Files.newByteChannel(st, StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(st) - 1000);
        }
        CliRunner.run("logits", "--model", m.toString(), "--ids", "1,2").assertUserError("truncated");
    }

    @Test
    void safetensorsHeaderThatIsNotJson() throws IOException {
        Path m = tinyLlama();
        byte[] junk = "this is not json at all".getBytes(UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + junk.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(junk.length).put(junk);
        Files.write(m.resolve("model.safetensors"), b.array());
        CliRunner.run("logits", "--model", m.toString(), "--ids", "1,2").assertUserError("JSON");
    }

    @Test
    void tensorShapeThatDisagreesWithTheConfig() throws IOException {
        Path m = tinyLlama();
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"intermediate_size\" : 256", "\"intermediate_size\" : 320"));
        CliRunner.run("inspect", "--model", m.toString()).assertUserError("but the config implies");
    }

    @Test
    void unsupportedArchitecture() throws IOException {
        Path m = tinyLlama();
        Path cfg = m.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"model_type\" : \"llama\"", "\"model_type\" : \"gpt_neox\""));
        CliRunner.run("inspect", "--model", m.toString()).assertUserError("unsupported architecture 'gpt_neox'");
    }

    @Test
    void ggufWithBadMagic() throws IOException {
        Path f = dir.resolve("bad.gguf");
        Files.write(f, new byte[] {'G', 'G', 'U', 'X', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        CliRunner.run("inspect", "--model", f.toString()).assertUserError("bad magic");
    }

    @Test
    void ggufWithUnknownTensorType() throws IOException {
        Path f = SyntheticFixtures.gguf("tiny-llama", DType.F32, dir);
        byte[] bytes = Files.readAllBytes(f);
        // the tensor info: name, n_dims (u32), dims (u64 each), type (u32): set the type to 99
        byte[] name = "blk.0.attn_q.weight".getBytes(UTF_8);
        int at = indexOf(bytes, name) + name.length;
        int dims = ByteBuffer.wrap(bytes, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        ByteBuffer.wrap(bytes, at + 4 + 8 * dims, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(99);
        Files.write(f, bytes);
        CliRunner.run("inspect", "--model", f.toString()).assertUserError("99");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void promptLongerThanTheContext() {
        Path m = tinyLlama(); // context 1024
        CliRunner.run("generate", "--model", m.toString(), "--prompt", "a ".repeat(1500), "--max-tokens", "4")
                .assertUserError("does not fit the context");
    }

    @Test
    void missingModelAndBadFlags() {
        CliRunner.run("generate", "--model", dir.resolve("nope").toString()).assertUserError("does not exist");
        CliRunner.run("generate", "--model", tinyLlama().toString(), "--temperature", "-1").assertUserError("--temperature");
        CliRunner.run("logits", "--model", tinyLlama().toString(), "--ids", "1,99999").assertUserError("outside the vocabulary");
        CliRunner.run("generate", "--device", "tpu").assertUserError("unknown --device 'tpu'");
        CliRunner.run("synth", "--preset", "llama-9000", "--out", dir.resolve("x").toString()).assertUserError("unknown preset");
    }
}
