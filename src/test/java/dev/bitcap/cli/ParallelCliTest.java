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
    void aRankStartedByHandAsOnAnotherHostJoinsRankZero() throws Exception {
        String m = fixture("tiny-mixtral").toString();
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        // the worker starts first and keeps knocking until rank 0 listens, as one started on another host would
        ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-Dbitcap.threads=1",
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.bitcap.cli.Main", "rank", "--connect", "127.0.0.1:" + port, "--rank", "1", "--ranks", "2", "--tp", "1", "--ep", "2",
                "--job", "77", "--model", m);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process worker = pb.start();
        try {
            CliRunner one = CliRunner.run("logits", "--model", m, "--ids", "3,1,4,1,5,9,2,6", "--json");
            CliRunner two = CliRunner.run("logits", "--model", m, "--ids", "3,1,4,1,5,9,2,6", "--json", "--ep", "2", "--local-ranks", "1",
                    "--rendezvous", "127.0.0.1:" + port, "--job", "77");
            assertEquals(0, two.code(), two.err());
            assertTrue(two.err().contains("waiting for rank 1: on its host run  bitcap rank --connect 127.0.0.1:" + port + " --rank 1 --ranks 2"
                    + " --tp 1 --ep 2 --ep-placement contiguous --job 77 --model "), two.err());
            assertEquals(one.out(), two.out(), "expert parallelism alone keeps the one-process order: identical logits");
            assertTrue(worker.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "the rank exits when rank 0 stops");
            assertEquals(0, worker.exitValue());
        } finally {
            worker.destroyForcibly();
        }
    }

    @Test
    void badRendezvousAndRankFlagsAreOneLine() {
        String m = fixture("tiny-mixtral").toString();
        CliRunner.run("logits", "--model", m, "--ids", "1", "--ep", "2", "--rendezvous", "nohost").assertUserError("--rendezvous needs HOST:PORT, got 'nohost'");
        CliRunner.run("logits", "--model", m, "--ids", "1", "--ep", "2", "--rendezvous", "h:x").assertUserError("--rendezvous needs a port number");
        CliRunner.run("logits", "--model", m, "--ids", "1", "--ep", "2", "--local-ranks", "0").assertUserError("--local-ranks must be >= 1, got 0");
        CliRunner.run("rank", "--connect", "127.0.0.1:1", "--rank", "3", "--ranks", "2", "--tp", "2", "--ep", "1", "--job", "1", "--model", m)
                .assertUserError("rank 3 is outside 1..1 for 2 ranks");
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
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--gpus", "2", "--ranks", "2").assertUserError("--gpus and --ranks both give the number of ranks");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "2", "--ranks-per-gpu", "2").assertUserError("--ranks-per-gpu goes with --gpus");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--gpus", "2", "--ranks-per-gpu", "3").assertUserError("--ranks-per-gpu must be 1..2 for --gpus 2, got 3");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--gpus", "1").assertUserError("--gpus 1 is the plain CUDA backend");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--gpus", "2", "--tp", "2", "--kv", "int4").assertUserError("--ranks keeps an f32 KV cache");
        CliRunner.run("logits", "--model", llama, "--ids", "1", "--tp", "2", "--kv", "int4").assertUserError("--ranks keeps an f32 KV cache");
    }
}
