package dev.bitcap.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process and captures what it prints. */
record CliRunner(int code, String out, String err) {
    static CliRunner run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new CliRunner(code, out.toString(), err.toString());
    }

    /** A user error: exit code 2 and exactly one line on stderr, containing {@code fragment}. */
    void assertUserError(String fragment) {
        org.junit.jupiter.api.Assertions.assertEquals(2, code, "exit code; stderr: " + err);
        String trimmed = err.strip();
        org.junit.jupiter.api.Assertions.assertFalse(trimmed.contains("\n"), "one line expected, got: " + err);
        org.junit.jupiter.api.Assertions.assertTrue(trimmed.contains(fragment), "expected '" + fragment + "' in: " + err);
    }
}
