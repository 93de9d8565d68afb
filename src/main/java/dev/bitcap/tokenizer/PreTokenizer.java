package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json pre-tokenizer: cuts normalized text into pieces that the BPE model encodes one by one. */
sealed interface PreTokenizer {

    /** A piece of text; atTextStart: it begins at offset 0 of the whole input (Metaspace "first" needs it). */
    record Piece(String text, boolean atTextStart) {}

    void split(Piece piece, List<Piece> out);

    default List<Piece> splitAll(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size() * 2);
        for (Piece p : pieces) split(p, out);
        return out;
    }

    /** What happens to the matched parts (Hugging Face's SplitDelimiterBehavior). */
    enum Behavior {
        REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS;

        static Behavior parse(String name) {
            return switch (name) {
                case "Removed" -> REMOVED;
                case "Isolated" -> ISOLATED;
                case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
                case "MergedWithNext" -> MERGED_WITH_NEXT;
                case "Contiguous" -> CONTIGUOUS;
                default -> throw new BitcapException("tokenizer.json: unknown split behavior '" + name + "'");
            };
        }
    }

    /** Split: cuts at regex (or literal) matches. */
    record Split(Pattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            List<int[]> matches = new ArrayList<>();
            Matcher m = pattern.matcher(piece.text());
            while (m.find()) if (m.end() > m.start()) matches.add(new int[] {m.start(), m.end()});
            cut(piece, matches, invert, behavior, out);
        }
    }

    /** ByteLevel: optional leading space, optional GPT-2 regex split, then bytes as alphabet characters. */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            String text = piece.text();
            if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
            List<Piece> parts = new ArrayList<>();
            if (useRegex) {
                new Split(SplitPatterns.gpt2(), Behavior.ISOLATED, false).split(new Piece(text, piece.atTextStart()), parts);
            } else if (!text.isEmpty()) {
                parts.add(new Piece(text, piece.atTextStart()));
            }
            for (Piece p : parts) out.add(new Piece(ByteLevelAlphabet.encode(p.text()), p.atTextStart()));
        }
    }

    /** When Metaspace puts the replacement character in front of a piece. */
    enum PrependScheme { ALWAYS, FIRST, NEVER }

    /** Metaspace: spaces become the replacement ('▁'), which may be prepended and may start each piece. */
    record Metaspace(char replacement, PrependScheme scheme, boolean splitOnReplacement) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            String text = piece.text().replace(' ', replacement);
            boolean prepend = switch (scheme) {
                case ALWAYS -> true;
                case FIRST -> piece.atTextStart();
                case NEVER -> false;
            };
            // like Hugging Face's NormalizedString.prepend, nothing is put in front of empty text
            if (prepend && !text.isEmpty() && text.charAt(0) != replacement) text = replacement + text;
            Piece replaced = new Piece(text, piece.atTextStart());
            if (!splitOnReplacement) {
                if (!text.isEmpty()) out.add(replaced);
                return;
            }
            List<int[]> matches = new ArrayList<>();
            for (int i = 0; i < text.length(); i++) if (text.charAt(i) == replacement) matches.add(new int[] {i, i + 1});
            cut(replaced, matches, false, Behavior.MERGED_WITH_NEXT, out);
        }
    }

    /** Digits: digits apart from other text, each alone or in runs. */
    record Digits(boolean individual) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            cut(piece, charMatches(piece.text(), Digits::isNumeric), false,
                    individual ? Behavior.ISOLATED : Behavior.CONTIGUOUS, out);
        }

        // Rust's char::is_numeric: general categories Nd, Nl, No
        static boolean isNumeric(int cp) {
            int type = Character.getType(cp);
            return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                    || type == Character.OTHER_NUMBER;
        }
    }

    /** Punctuation: punctuation characters apart from other text. */
    record Punctuation(Behavior behavior) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            cut(piece, charMatches(piece.text(), Punctuation::isPunctuation), false, behavior, out);
        }

        static boolean isPunctuation(int cp) {
            if (cp < 128) return cp > 32 && cp < 127 && !Character.isLetterOrDigit(cp);
            int t = Character.getType(cp);
            return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION
                    || t == Character.START_PUNCTUATION || t == Character.END_PUNCTUATION
                    || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                    || t == Character.OTHER_PUNCTUATION;
        }
    }

    /** WhitespaceSplit: pieces between whitespace. */
    record WhitespaceSplit() implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            cut(piece, charMatches(piece.text(), AddedTokenMatcher::isWhiteSpace), false, Behavior.REMOVED, out);
        }
    }

    /** Sequence: each pre-tokenizer in turn over all pieces. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        public void split(Piece piece, List<Piece> out) {
            List<Piece> pieces = List.of(piece);
            for (PreTokenizer step : steps) pieces = step.splitAll(pieces);
            out.addAll(pieces);
        }
    }

    private static List<int[]> charMatches(String text, java.util.function.IntPredicate test) {
        List<int[]> matches = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int end = i + Character.charCount(cp);
            if (test.test(cp)) matches.add(new int[] {i, end});
            i = end;
        }
        return matches;
    }

    /** Cuts a piece at non-empty, ordered, non-overlapping matches as the behavior says; empty parts are dropped. */
    static void cut(Piece piece, List<int[]> matches, boolean invert, Behavior behavior, List<Piece> out) {
        String text = piece.text();
        // the whole text as alternating [start, end, isMatch] parts
        List<int[]> parts = new ArrayList<>(matches.size() * 2 + 1);
        int previous = 0;
        for (int[] m : matches) {
            if (m[0] > previous) parts.add(new int[] {previous, m[0], invert ? 1 : 0});
            parts.add(new int[] {m[0], m[1], invert ? 0 : 1});
            previous = m[1];
        }
        if (previous < text.length()) parts.add(new int[] {previous, text.length(), invert ? 1 : 0});

        List<int[]> kept = new ArrayList<>(parts.size());
        switch (behavior) {
            case REMOVED -> {
                for (int[] p : parts) if (p[2] == 0) kept.add(p);
            }
            case ISOLATED -> kept.addAll(parts);
            case CONTIGUOUS -> {
                boolean previousMatch = false;
                for (int[] p : parts) {
                    boolean match = p[2] == 1;
                    if (match && previousMatch) kept.getLast()[1] = p[1];
                    else kept.add(p.clone());
                    previousMatch = match;
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int[] p : parts) {
                    boolean match = p[2] == 1;
                    if (match && !previousMatch && !kept.isEmpty()) kept.getLast()[1] = p[1];
                    else kept.add(p.clone());
                    previousMatch = match;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean nextMatch = false;
                List<int[]> reversed = new ArrayList<>(parts.size());
                for (int i = parts.size() - 1; i >= 0; i--) {
                    int[] p = parts.get(i);
                    boolean match = p[2] == 1;
                    if (match && !nextMatch && !reversed.isEmpty()) reversed.getLast()[0] = p[0];
                    else reversed.add(p.clone());
                    nextMatch = match;
                }
                for (int i = reversed.size() - 1; i >= 0; i--) kept.add(reversed.get(i));
            }
        }
        for (int[] p : kept) {
            if (p[1] > p[0]) out.add(new Piece(text.substring(p[0], p[1]), piece.atTextStart() && p[0] == 0));
        }
    }
}
