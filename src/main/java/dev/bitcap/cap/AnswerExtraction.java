package dev.bitcap.cap;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * How an exact-match task takes its answer out of the generated text, and compares it with the expected one:
 * <ul>
 *   <li>{@code exact}: the whole generated text;
 *   <li>{@code first-line}: the first line that is not blank;
 *   <li>{@code first-number}: the first number (an optional sign, digits with optional thousands commas, an
 *       optional fraction), compared as a number, so 42 matches 42.0 and 1,000 matches 1000;
 *   <li>{@code regex:<re>}: the first match of the Java regular expression, its group 1 when it has a group.
 * </ul>
 * Text is compared after stripping surrounding white space, ignoring case (as MoE-CAP's exact-match scoring does).
 */
public final class AnswerExtraction {
    public static final String RULES = "exact, first-line, first-number, regex:<re>";
    private static final Pattern NUMBER = Pattern.compile("[-+]?(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d+)?");

    private enum Kind { EXACT, FIRST_LINE, FIRST_NUMBER, REGEX }

    private final String spec;
    private final Kind kind;
    private final Pattern regex;

    private AnswerExtraction(String spec, Kind kind, Pattern regex) {
        this.spec = spec;
        this.kind = kind;
        this.regex = regex;
    }

    /** The rule named by {@code spec}; an unknown rule or a bad regular expression is an IllegalArgumentException saying which. */
    public static AnswerExtraction parse(String spec) {
        switch (spec) {
            case "exact" -> {
                return new AnswerExtraction(spec, Kind.EXACT, null);
            }
            case "first-line" -> {
                return new AnswerExtraction(spec, Kind.FIRST_LINE, null);
            }
            case "first-number" -> {
                return new AnswerExtraction(spec, Kind.FIRST_NUMBER, null);
            }
            default -> {
                if (!spec.startsWith("regex:")) throw new IllegalArgumentException("unknown extract '" + spec + "' (valid: " + RULES + ")");
                String re = spec.substring("regex:".length());
                if (re.isEmpty()) throw new IllegalArgumentException("extract 'regex:' has no regular expression");
                try {
                    return new AnswerExtraction(spec, Kind.REGEX, Pattern.compile(re));
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException("extract '" + spec + "' is not a valid regular expression (" + e.getDescription() + ")");
                }
            }
        }
    }

    public String spec() {
        return spec;
    }

    /** Checks that {@code answer} can ever match under this rule (a number for first-number); the reason, or null. */
    String unmatchable(String answer) {
        if (kind == Kind.FIRST_NUMBER && number(answer.strip()) == null) return "answer '" + answer + "' is not a number, but extract is first-number";
        return null;
    }

    /** The answer found in {@code output}, or null when the rule finds nothing. */
    public String extract(String output) {
        return switch (kind) {
            case EXACT -> output.strip();
            case FIRST_LINE -> output.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse(null);
            case FIRST_NUMBER -> {
                Matcher m = NUMBER.matcher(output);
                yield m.find() ? m.group() : null;
            }
            case REGEX -> {
                Matcher m = regex.matcher(output);
                yield m.find() ? (m.groupCount() >= 1 && m.group(1) != null ? m.group(1) : m.group()).strip() : null;
            }
        };
    }

    /** Whether an extracted answer equals the expected one under this rule. */
    public boolean matches(String extracted, String answer) {
        if (extracted == null) return false;
        if (kind == Kind.FIRST_NUMBER) {
            BigDecimal a = number(extracted), b = number(answer.strip());
            return a != null && b != null && a.compareTo(b) == 0;
        }
        return extracted.strip().toLowerCase(Locale.ROOT).equals(answer.strip().toLowerCase(Locale.ROOT));
    }

    private static BigDecimal number(String s) {
        if (!NUMBER.matcher(s).matches()) return null;
        return new BigDecimal(s.replace(",", "").replace("+", ""));
    }

    @Override
    public String toString() {
        return spec;
    }
}
