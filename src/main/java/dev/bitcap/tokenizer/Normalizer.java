package dev.bitcap.tokenizer;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json normalizer: rewrites a plain-text segment before pre-tokenization. */
sealed interface Normalizer {
    String normalize(String text);

    /** Prepend: puts a string in front of non-empty text. */
    record Prepend(String prefix) implements Normalizer {
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /** Replace: every match of a literal string or a regex becomes content. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        public String normalize(String text) {
            return pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    /** NFC, NFD, NFKC, NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        public String normalize(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** Lowercase (Unicode, locale independent). */
    record Lowercase() implements Normalizer {
        public String normalize(String text) {
            return text.toLowerCase(Locale.ROOT);
        }
    }

    /** Strip: removes whitespace on the left and/or right. */
    record Strip(boolean left, boolean right) implements Normalizer {
        public String normalize(String text) {
            int start = 0, end = text.length();
            while (left && start < end && AddedTokenMatcher.isWhiteSpace(text.codePointAt(start))) {
                start += Character.charCount(text.codePointAt(start));
            }
            while (right && end > start && AddedTokenMatcher.isWhiteSpace(text.codePointBefore(end))) {
                end -= Character.charCount(text.codePointBefore(end));
            }
            return text.substring(start, end);
        }
    }

    /** Sequence: each normalizer in turn. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        public String normalize(String text) {
            for (Normalizer step : steps) text = step.normalize(text);
            return text;
        }
    }
}
