package dev.bitcap.cap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.hw.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Exact-match tasks from a JSONL file, one JSON object per line: {@code prompt} and {@code answer} (strings), and
 * optionally {@code extract} (an {@link AnswerExtraction} rule, default {@code first-line}), {@code max_tokens}
 * (greedy tokens generated for the task, default the run's setting) and {@code id}. Blank lines are skipped; any
 * other line that is not such an object is an error naming the file, the line number and the key.
 */
public record ExactMatchTasks(Path file, List<Task> tasks) {
    public static final String DEFAULT_EXTRACT = "first-line";

    /** One task; {@code line} is its 1-based line number in the file. */
    public record Task(int line, String id, String prompt, String answer, AnswerExtraction extract, int maxTokens) {}

    public ExactMatchTasks {
        tasks = List.copyOf(tasks);
    }

    public static ExactMatchTasks read(Path file, int defaultMaxTokens) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new BitcapException("tasks " + file + ": cannot read (" + e.getMessage() + ")");
        }
        ObjectMapper mapper = new ObjectMapper();
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i);
            if (text.isBlank()) continue;
            String source = "tasks " + file + " line " + (i + 1);
            StrictJson j;
            try {
                j = new StrictJson(source, "", mapper.readTree(text));
            } catch (JsonProcessingException e) {
                throw new BitcapException(source + ": not valid JSON (" + e.getOriginalMessage().lines().findFirst().orElse("") + ")");
            }
            tasks.add(task(j, i + 1, defaultMaxTokens));
        }
        if (tasks.isEmpty()) throw new BitcapException("tasks " + file + ": no tasks (one JSON object per line: prompt, answer, extract)");
        return new ExactMatchTasks(file, tasks);
    }

    private static Task task(StrictJson j, int line, int defaultMaxTokens) {
        j.allowOnly(Set.of("id", "prompt", "answer", "extract", "max_tokens"));
        String prompt = j.string("prompt", null), answer = j.string("answer", null);
        if (prompt == null) throw new BitcapException(j.source() + ": no 'prompt'");
        if (answer == null) throw new BitcapException(j.source() + ": no 'answer'");
        AnswerExtraction extract;
        try {
            extract = AnswerExtraction.parse(j.string("extract", DEFAULT_EXTRACT));
        } catch (IllegalArgumentException e) {
            throw new BitcapException(j.source() + ": " + e.getMessage());
        }
        String unmatchable = extract.unmatchable(answer);
        if (unmatchable != null) throw new BitcapException(j.source() + ": " + unmatchable);
        int maxTokens = j.integer("max_tokens", defaultMaxTokens);
        if (maxTokens < 1) throw new BitcapException(j.source() + ": 'max_tokens' must be >= 1, got " + maxTokens);
        return new Task(line, j.string("id", "line " + line), prompt, answer, extract, maxTokens);
    }

    /** The accuracy measure as results and the radar name it, e.g. {@code exact match, 20 tasks (gsm.jsonl)}. */
    public String measure() {
        return "exact match, " + tasks.size() + " task" + (tasks.size() == 1 ? "" : "s") + " (" + file.getFileName() + ")";
    }
}
