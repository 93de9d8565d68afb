package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code --ranks/--tp/--ep} on the commands that run a model: worker processes for real, and the flags' bad values. */
class ParallelCliTest {
    private static Path fixture(String name) {
        return SharedData.require("hf-fixtures/" + name + "/model.safetensors").getParent();
    }

    @Test
    void logitsOnTwoRankProcessesMatchOneProcess() throws Exception {
        String m = fixture("tiny-llama").toString();
        CliRunner one = CliRunner.run("logits", "--model", m, "--ids", "1,5,9,200,17", "--json");
        CliRunner two = CliRunner.run("logits", "--model", m, "--ids", "1,5,9,200,17", "--json", "--ranks", "2", "--tp", "2");
        assertEquals(0, one.code(), one.err());
        assertEquals(0, two.code(), two.err());
        JsonNode a = new ObjectMapper().readTree(one.out()).get("logits"), b = new ObjectMapper().readTree(two.out()).get("logits");
        assertEquals(a.size(), b.size());
        double scale = 0, err = 0;
        for (int t = 0; t < a.size(); t++) {
            for (int v = 0; v < a.get(t).size(); v++) {
                scale = Math.max(scale, Math.abs(a.get(t).get(v).asDouble()));
                err = Math.max(err, Math.abs(a.get(t).get(v).asDouble() - b.get(t).get(v).asDouble()));
            }
        }
        // fp32 summation order only (see ParallelForwardTest)
        assertTrue(err <= 1e-5 * scale, "max logit error " + err + " against scale " + scale);
    }

    @Test
    void generateWithExpertParallelProcessesGivesTheSameGreedyText() {
        // the built-in tiny MoE (16 experts, with a tokenizer): the workers find it where rank 0 did
        CliRunner one = CliRunner.run("generate", "--prompt", "Hello world", "--max-tokens", "6", "--temperature", "0");
        CliRunner two = CliRunner.run("generate", "--prompt", "Hello world", "--max-tokens", "6", "--temperature", "0", "--ep", "2");
        assertEquals(0, one.code(), one.err());
        assertEquals(0, two.code(), two.err());
        assertEquals(one.out(), two.out());
    }

    @Test
    void splitsThatDoNotDivideAreOneLineNamingTheNumbers() {
        String llama = fixture("tiny-llama").toString();
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "3").assertUserError("--tp 3 does not divide the 4 attention heads");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "4").assertUserError("--tp 4 does not divide the 2 KV heads");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--ep", "2").assertUserError("--ep 2 needs a MoE model");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--ranks", "4", "--tp", "2").assertUserError("--tp 2 must be 1 or the number of ranks (4)");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--ranks", "0").assertUserError("--ranks must be >= 1, got 0");
        String mixtral = fixture("tiny-mixtral").toString();
        CliRunner.run("logits", "--model", mixtral, "--ids", "1", "--ep", "3").assertUserError("--ep 3 does not divide the 4 experts");
        CliRunner.run("logits", "--model", mixtral, "--ids", "1", "--ep", "2", "--ep-placement", "random").assertUserError("unknown --ep-placement 'random'");
    }

    @Test
    void whatSplitRunsCannotDoYetIsRefusedInOneLine() {
        String llama = fixture("tiny-llama").toString();
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "2", "--device", "cuda").assertUserError("--ranks runs on --device cpu only");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--gpus", "2").assertUserError("--gpus 2: the CUDA backend does not run split models yet");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "2", "--kv", "int4").assertUserError("--ranks keeps an f32 KV cache");
    }
}
