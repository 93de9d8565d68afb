package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bitcap cap --tasks} with stories260K, whose greedy text from BOS is llama2.c's own sample (Golden): a task
 * asking for the name it writes is right, the same prompt with another name is wrong, and a first-line task over a
 * longer continuation is right, so accuracy is 2/3 on every configuration whose greedy text is unchanged.
 */
class CapTasksTest {
    @TempDir Path dir;

    static final String TASKS = """
            {"id": "name", "prompt": "Once upon a time, there was a little girl named", "answer": "Lily", "extract": "regex:(\\\\w+)", "max_tokens": 4}
            {"id": "wrong name", "prompt": "Once upon a time, there was a little girl named", "answer": "Tom", "extract": "regex:(\\\\w+)", "max_tokens": 4}
            {"id": "clause", "prompt": "Once upon a time,", "answer": "there was a little girl named Lily.", "max_tokens": 10}
            """;

    @Test
    void taskAccuracyIsTheRadarsAccuracyAndEachOutputIsWritten() throws IOException {
        Path bin = SharedData.require("models/stories260K.bin");
        Path tok = SharedData.require("models/tok512.bin");
        Path tasks = dir.resolve("story-tasks.jsonl");
        Files.writeString(tasks, TASKS);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("cap", "--model", bin.toString(), "--tokenizer", tok.toString(), "--tasks", tasks.toString(), "--weights", "f32",
                "--kv", "f32", "--batch", "1", "--no-probe", "--input-len", "4", "--output-len", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode row = new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("results").get(0);
        assertEquals("ok", row.get("status").asText());
        assertEquals(2, row.get("task_correct").asInt());
        assertEquals(3, row.get("task_count").asInt());
        assertEquals(2 / 3.0, row.get("accuracy").asDouble(), 1e-12);
        assertEquals(2 / 3.0, row.get("task_accuracy").asDouble(), 1e-12);
        assertEquals("exact match, 3 tasks (story-tasks.jsonl)", row.get("accuracy_measure").asText());
        List<String> lines = Files.readAllLines(out.resolve("task-outputs.jsonl"));
        assertEquals(3, lines.size());
        JsonNode name = new ObjectMapper().readTree(lines.get(0)), wrong = new ObjectMapper().readTree(lines.get(1));
        assertEquals("Lily", name.get("extracted").asText());
        assertTrue(name.get("correct").asBoolean());
        assertTrue(name.get("output").asText().startsWith("Lily."), name.toString());
        assertEquals("Lily", wrong.get("extracted").asText());
        assertTrue(!wrong.get("correct").asBoolean());
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.contains("Accuracy (exact match, 3 tasks (story-tasks.jsonl))"), "the radar names its accuracy measure");
        assertTrue(Files.readString(out.resolve("results.csv")).lines().findFirst().orElseThrow().contains("task_accuracy"));
        assertTrue(r.out().contains("2/3"), r.out());
    }

    @Test
    void badTaskInputIsOneLineExitTwo() throws IOException {
        CliRunner.run("cap", "--no-probe", "--tasks", dir.resolve("none.jsonl").toString()).assertUserError("no such file");
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"prompt\": \"a\", \"answer\": \"b\"}\n{\"prompt\": \"a\"}\n");
        CliRunner.run("cap", "--no-probe", "--tasks", bad.toString()).assertUserError("bad.jsonl line 2: no 'answer'");
        Path ok = dir.resolve("ok.jsonl");
        Files.writeString(ok, "{\"prompt\": \"a\", \"answer\": \"b\"}\n");
        CliRunner.run("cap", "--no-probe", "--tasks", ok.toString(), "--task-max-tokens", "0").assertUserError("task max tokens must be >= 1");
        Path cfg = dir.resolve("cap.yaml");
        Files.writeString(cfg, "tasks:\n  file: ok.jsonl\n  max_token: 4\n");
        CliRunner.run("cap", "--config", cfg.toString()).assertUserError("unknown key 'tasks.max_token'");
    }
}
