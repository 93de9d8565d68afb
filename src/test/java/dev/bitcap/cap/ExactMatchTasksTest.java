package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading a task file: defaults, and every bad line is one message naming the file, the line and what is wrong. */
class ExactMatchTasksTest {
    @TempDir Path dir;

    private Path file(String text) throws IOException {
        Path f = dir.resolve("tasks.jsonl");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void readsTasksWithDefaultsAndSkipsBlankLines() throws IOException {
        ExactMatchTasks t = ExactMatchTasks.read(file("""
                {"prompt": "2+2=", "answer": "4", "extract": "first-number", "max_tokens": 3, "id": "sum"}

                {"prompt": "Capital of France:", "answer": "Paris"}
                """), 16);
        assertEquals(2, t.tasks().size());
        ExactMatchTasks.Task a = t.tasks().get(0), b = t.tasks().get(1);
        assertEquals("sum", a.id());
        assertEquals(3, a.maxTokens());
        assertEquals("first-number", a.extract().spec());
        assertEquals(3, b.line());
        assertEquals("line 3", b.id());
        assertEquals(16, b.maxTokens());
        assertEquals(ExactMatchTasks.DEFAULT_EXTRACT, b.extract().spec());
        assertEquals("exact match, 2 tasks (tasks.jsonl)", t.measure());
    }

    @Test
    void badLinesNameTheLine() throws IOException {
        String ok = "{\"prompt\": \"a\", \"answer\": \"b\"}\n";
        assertError(ok + "{\"prompt\": \"a\", \"answer\": \"b\"\n", "line 2: not valid JSON");
        assertError(ok + ok + "{\"answer\": \"b\"}\n", "line 3: no 'prompt'");
        assertError("{\"prompt\": \"a\"}\n", "line 1: no 'answer'");
        assertError("{\"prompt\": \"a\", \"answer\": 4}\n", "line 1: 'answer' must be a string");
        assertError("{\"prompt\": \"a\", \"answer\": \"b\", \"extrct\": \"exact\"}\n", "line 1: unknown key 'extrct'");
        assertError("{\"prompt\": \"a\", \"answer\": \"b\", \"extract\": \"last\"}\n", "line 1: unknown extract 'last'");
        assertError("{\"prompt\": \"a\", \"answer\": \"b\", \"extract\": \"regex:(\"}\n", "line 1: extract 'regex:(' is not a valid regular expression");
        assertError("{\"prompt\": \"a\", \"answer\": \"four\", \"extract\": \"first-number\"}\n", "line 1: answer 'four' is not a number");
        assertError("{\"prompt\": \"a\", \"answer\": \"b\", \"max_tokens\": 0}\n", "line 1: 'max_tokens' must be >= 1, got 0");
        assertError("{\"prompt\": \"a\", \"answer\": \"b\", \"max_tokens\": 2.5}\n", "line 1: 'max_tokens' must be an integer");
        assertError("[\"a\", \"b\"]\n", "line 1: 'the top level' must be an object");
        assertError("\n  \n", ": no tasks");
    }

    private void assertError(String text, String expected) throws IOException {
        Path f = file(text);
        BitcapException e = assertThrows(BitcapException.class, () -> ExactMatchTasks.read(f, 8));
        assertTrue(e.getMessage().startsWith("tasks " + f), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
}
