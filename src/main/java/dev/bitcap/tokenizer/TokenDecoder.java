package dev.bitcap.tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json decoder: turns the list of token strings back into text. Each step maps a list of strings to a
 * list of strings (Hugging Face's decode_chain); the text is the concatenation of the last list.
 */
sealed interface TokenDecoder {
    List<String> decodeChain(List<String> tokens);

    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    /** ByteLevel: alphabet characters back to bytes, then UTF-8 with U+FFFD for ill-formed parts. */
    record ByteLevel() implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String token : tokens) ByteLevelAlphabet.appendBytes(token, bytes);
            return List.of(Utf8.decodeLossy(bytes.toByteArray()));
        }
    }

    /**
     * Metaspace: the replacement becomes a space, except in the first token where (unless the prepend scheme is
     * "never") every replacement is dropped, as Hugging Face does.
     */
    record Metaspace(char replacement, boolean dropInFirstToken) implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                String token = tokens.get(i);
                out.add(i == 0 && dropInFirstToken
                        ? token.replace(String.valueOf(replacement), "")
                        : token.replace(replacement, ' '));
            }
            return out;
        }
    }

    /** Replace: a literal or regex pattern in each token becomes content. */
    record Replace(Pattern pattern, String content) implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            String replacement = Matcher.quoteReplacement(content);
            for (String token : tokens) out.add(pattern.matcher(token).replaceAll(replacement));
            return out;
        }
    }

    /**
     * ByteFallback: runs of {@code <0xNN>} tokens become the text their bytes spell; a run that is not valid UTF-8
     * becomes one U+FFFD per byte, as Hugging Face does.
     */
    record ByteFallback() implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String token : tokens) {
                int b = byteOf(token);
                if (b >= 0) {
                    run.write(b);
                    continue;
                }
                flush(run, out);
                out.add(token);
            }
            flush(run, out);
            return out;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) return;
            byte[] bytes = run.toByteArray();
            if (Utf8.isValid(bytes, 0, bytes.length)) out.add(Utf8.decodeLossy(bytes));
            else for (int i = 0; i < bytes.length; i++) out.add(String.valueOf(Utf8.REPLACEMENT));
            run.reset();
        }

        /** The byte of a {@code <0xNN>} token, or -1. */
        static int byteOf(String token) {
            if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') return -1;
            int hi = Character.digit(token.charAt(3), 16), lo = Character.digit(token.charAt(4), 16);
            return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
        }
    }

    /** Fuse: all tokens into one string. */
    record Fuse() implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** Strip: removes up to start leading and up to stop trailing occurrences of a character from each token. */
    record Strip(int content, int start, int stop) implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String token : tokens) {
                int from = 0, to = token.length();
                for (int n = 0; n < start && from < to && token.codePointAt(from) == content; n++) {
                    from += Character.charCount(content);
                }
                for (int n = 0; n < stop && to > from && token.codePointBefore(to) == content; n++) {
                    to -= Character.charCount(content);
                }
                out.add(token.substring(from, to));
            }
            return out;
        }
    }

    /** Sequence: each decoder in turn. */
    record Sequence(List<TokenDecoder> steps) implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            for (TokenDecoder step : steps) tokens = step.decodeChain(tokens);
            return tokens;
        }
    }

    /** No decoder in tokenizer.json: Hugging Face joins the tokens with spaces. */
    record JoinWithSpaces() implements TokenDecoder {
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join(" ", tokens));
        }
    }
}
