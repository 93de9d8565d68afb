package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.tensor.DType;
import dev.bitcap.testing.SharedData;
import dev.bitcap.testing.SyntheticFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bitcap perplexity --reference}: KL divergence and top-1 agreement through the command line. */
class PerplexityReferenceTest {
    @TempDir Path dir;

    private static JsonNode json(CliRunner r) throws Exception {
        assertEquals(0, r.code(), r.err());
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void againstItselfKlIsZeroAndBothPerplexitiesMatchThePlainCommand() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin"), text = SharedData.require("text/tinystories-val.txt");
        JsonNode kl = json(CliRunner.run("perplexity", "--model", bin.toString(), "--reference", bin.toString(), "--text", text.toString(),
                "--ctx", "256", "--max-tokens", "1300", "--json"));
        assertEquals(0.0, kl.get("mean_kl").asDouble());
        assertEquals(1.0, kl.get("top1_agreement").asDouble());
        assertEquals(5 * 255, kl.get("tokens").asLong(), "1300 tokens hold 5 whole windows of 256");
        assertEquals(1280, kl.get("evaluated_tokens").asLong());
        JsonNode plain = json(CliRunner.run("perplexity", "--model", bin.toString(), "--text", text.toString(), "--ctx", "256",
                "--max-windows", "5", "--json"));
        assertEquals(plain.get("perplexity").asDouble(), kl.get("perplexity").asDouble());
        assertEquals(plain.get("perplexity").asDouble(), kl.get("reference_perplexity").asDouble());
    }

    @Test
    void quantizedModelAgainstF32() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin"), text = SharedData.require("text/tinystories-val.txt");
        Path q = dir.resolve("q");
        assertEquals(0, CliRunner.run("quantize", "--model", bin.toString(), "--format", "int3-sym", "--group", "64", "--out", q.toString()).code());
        CliRunner r = CliRunner.run("perplexity", "--model", q.toString(), "--reference", bin.toString(), "--text", text.toString(),
                "--ctx", "256", "--max-tokens", "1024");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s)perplexity \\d+\\.\\d{4} \\(reference \\d+\\.\\d{4}\\), mean KL\\(reference \\|\\| model\\) \\d+\\.\\d{6} nats, "
                + "top-1 agreement [01]\\.\\d{4}, over 1020 predicted tokens \\(4 windows of 256: the first 1024 of the text's \\d+ tokens\\).*"), r.out());
        JsonNode j = json(CliRunner.run("perplexity", "--model", q.toString(), "--reference", bin.toString(), "--text", text.toString(),
                "--ctx", "256", "--max-tokens", "1024", "--json"));
        assertTrue(j.get("mean_kl").asDouble() > 0.01, j.toString());
        assertTrue(j.get("top1_agreement").asDouble() < 1, j.toString());
        assertTrue(j.get("perplexity").asDouble() > j.get("reference_perplexity").asDouble(), j.toString());
    }

    @Test
    void referenceWithAnotherVocabulary() {
        Path bin = SharedData.require("models/stories260K.bin"), text = SharedData.require("text/tinystories-val.txt");
        Path other = SyntheticFixtures.hf("tiny-llama", DType.F32, dir); // vocabulary of 1024
        CliRunner.run("perplexity", "--model", bin.toString(), "--reference", other.toString(), "--text", text.toString(), "--ctx", "128",
                "--max-tokens", "256").assertUserError("has a vocabulary of 1024 tokens, the model " + bin + " 512");
    }

    /** Same vocabulary size, another tokenizer: the token ids would not mean the same thing. */
    @Test
    void referenceThatTokenisesDifferently() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin"), text = SharedData.require("text/tinystories-val.txt");
        Path fixture = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        Path other = Files.createDirectory(dir.resolve("tiny-llama-bytelevel"));
        for (String f : new String[] {"config.json", "model.safetensors"}) Files.copy(fixture.resolve(f), other.resolve(f));
        Files.copy(SharedData.require("hf-fixtures/tokenizers/bytelevel-tokenizer.json"), other.resolve("tokenizer.json"));
        CliRunner.run("perplexity", "--model", bin.toString(), "--reference", other.toString(), "--text", text.toString(), "--ctx", "128",
                "--max-tokens", "256").assertUserError("tokenises " + text + " differently from the model");
    }

    @Test
    void badLimitsAndMissingReference() {
        Path bin = SharedData.require("models/stories260K.bin"), text = SharedData.require("text/tinystories-val.txt");
        CliRunner.run("perplexity", "--model", bin.toString(), "--text", text.toString(), "--ctx", "256", "--max-tokens", "100")
                .assertUserError("--max-tokens 100 is less than one window of --ctx 256");
        CliRunner.run("perplexity", "--model", bin.toString(), "--text", text.toString(), "--max-tokens", "-1")
                .assertUserError("--max-tokens must be >= 0");
        CliRunner.run("perplexity", "--model", bin.toString(), "--reference", dir.resolve("nope").toString(), "--text", text.toString())
                .assertUserError("reference model " + dir.resolve("nope") + " does not exist");
    }
}
