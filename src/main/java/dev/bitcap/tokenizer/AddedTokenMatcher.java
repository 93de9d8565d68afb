package dev.bitcap.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits text around added tokens: leftmost match first, longest match at a position, non-overlapping (the
 * Aho-Corasick leftmost-longest search that Hugging Face uses), then lstrip/rstrip/single_word applied to each
 * match.
 */
final class AddedTokenMatcher {
    /** A piece of the text: either plain text (tokenId -1) or one added token; start is its offset in the text. */
    record Segment(String text, int tokenId, int start) {
        boolean isToken() {
            return tokenId >= 0;
        }
    }

    private record Pattern(String text, AddedToken token) {}

    // candidates by first char, longest first
    private final Map<Character, List<Pattern>> byFirstChar = new HashMap<>();

    /** patterns: the text to find for each token (its content, or its normalized content). */
    AddedTokenMatcher(List<AddedToken> tokens, List<String> patterns) {
        for (int i = 0; i < tokens.size(); i++) {
            String text = patterns.get(i);
            if (text.isEmpty()) continue;
            byFirstChar.computeIfAbsent(text.charAt(0), c -> new ArrayList<>()).add(new Pattern(text, tokens.get(i)));
        }
        for (List<Pattern> list : byFirstChar.values()) {
            list.sort(Comparator.comparingInt((Pattern p) -> p.text().length()).reversed());
        }
    }

    List<Segment> split(String text) {
        List<Segment> out = new ArrayList<>();
        if (byFirstChar.isEmpty()) {
            if (!text.isEmpty()) out.add(new Segment(text, -1, 0));
            return out;
        }
        int emitted = 0; // text before this offset is already in out
        int i = 0;
        while (i < text.length()) {
            Pattern found = longestAt(text, i);
            if (found == null) {
                i++;
                continue;
            }
            int start = i, stop = i + found.text().length();
            AddedToken token = found.token();
            if (token.singleWord() && (isWordChar(text, start - 1, true) || isWordChar(text, stop, false))) {
                i = stop; // the search goes on after the rejected match, as a non-overlapping search does
                continue;
            }
            if (token.lstrip()) {
                while (start > emitted && isWhiteSpace(text.codePointBefore(start))) {
                    start -= Character.charCount(text.codePointBefore(start));
                }
            }
            if (token.rstrip()) {
                while (stop < text.length() && isWhiteSpace(text.codePointAt(stop))) {
                    stop += Character.charCount(text.codePointAt(stop));
                }
            }
            if (start > emitted) out.add(new Segment(text.substring(emitted, start), -1, emitted));
            out.add(new Segment(text.substring(start, stop), token.id(), start));
            emitted = stop;
            i = stop;
        }
        if (emitted < text.length()) out.add(new Segment(text.substring(emitted), -1, emitted));
        return out;
    }

    private Pattern longestAt(String text, int i) {
        List<Pattern> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (Pattern p : candidates) if (text.startsWith(p.text(), i)) return p;
        return null;
    }

    // the character just before (before=true) or at index is a letter or digit
    private static boolean isWordChar(String text, int index, boolean before) {
        if (before) return index >= 0 && Character.isLetterOrDigit(text.codePointBefore(index + 1));
        return index < text.length() && Character.isLetterOrDigit(text.codePointAt(index));
    }

    /** The Unicode White_Space property (what Rust's char::is_whitespace tests; Java's isWhitespace differs). */
    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
                || cp == 0x3000;
    }
}
