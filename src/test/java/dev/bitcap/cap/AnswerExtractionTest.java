package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AnswerExtractionTest {
    private static boolean scores(String rule, String output, String answer) {
        AnswerExtraction e = AnswerExtraction.parse(rule);
        return e.matches(e.extract(output), answer);
    }

    @Test
    void exactTakesTheWholeOutputIgnoringCaseAndSurroundingSpace() {
        assertTrue(scores("exact", "  Paris \n", "paris"));
        assertFalse(scores("exact", "Paris is the capital", "Paris"));
    }

    @Test
    void firstLineSkipsBlankLines() {
        AnswerExtraction e = AnswerExtraction.parse("first-line");
        assertEquals("Paris.", e.extract("\n  \n Paris. \nIt is big."));
        assertNull(e.extract(" \n\n"));
        assertFalse(e.matches(null, "x"));
    }

    @Test
    void firstNumberComparesAsANumber() {
        AnswerExtraction e = AnswerExtraction.parse("first-number");
        assertEquals("-1,250.50", e.extract("The total is -1,250.50 dollars, not 3."));
        assertTrue(scores("first-number", "so 42.0 apples", "42"));
        assertTrue(scores("first-number", "about 1,000 of them", "1000"));
        assertTrue(scores("first-number", "+7 then 8", "7"));
        assertFalse(scores("first-number", "12 then 42", "42"));
        assertFalse(scores("first-number", "no digits", "0"));
        assertEquals("answer 'forty' is not a number, but extract is first-number", e.unmatchable("forty"));
        assertNull(e.unmatchable(" 3.5 "));
    }

    @Test
    void regexTakesGroupOneWhenThereIsOne() {
        assertTrue(scores("regex:answer is \\((\\w)\\)", "I think the answer is (B) because", "b"));
        assertTrue(scores("regex:\\d+", "abc 123 def", "123"));
        assertFalse(scores("regex:answer is (\\w)", "no verdict here", "B"));
        // an optional group that did not take part falls back to the whole match
        assertTrue(scores("regex:x(y)?", "x", "x"));
    }

    @Test
    void badRulesSayWhatIsWrong() {
        assertEquals("unknown extract 'last-word' (valid: exact, first-line, first-number, regex:<re>)",
                assertThrows(IllegalArgumentException.class, () -> AnswerExtraction.parse("last-word")).getMessage());
        assertEquals("extract 'regex:' has no regular expression", assertThrows(IllegalArgumentException.class, () -> AnswerExtraction.parse("regex:")).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AnswerExtraction.parse("regex:([a-")).getMessage()
                .startsWith("extract 'regex:([a-' is not a valid regular expression"));
    }
}
