package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of a Hugging Face tokenizer.json (also built from GGUF "gpt2" vocabularies and GPT-2's
 * vocab.json/merges.txt): splits one pre-token into characters, then applies merges by rank. Results are cached
 * per pre-token, since text repeats its words.
 */
final class BpeModel {
    /** Options of the model section of tokenizer.json; null strings mean "none". */
    record Options(boolean byteFallback, String unkToken, boolean fuseUnk, boolean ignoreMerges,
                   String continuingSubwordPrefix, String endOfWordSuffix) {
        static final Options PLAIN = new Options(false, null, false, false, null, null);
    }

    private static final int CACHE_LIMIT = 200_000;
    private static final int CACHED_WORD_MAX_CHARS = 256;

    private final Map<String, Integer> vocab;
    private final String[] tokens;
    private final LongLongMap merges;
    private final Options options;
    private final int unkId;
    private final int[] byteIds = new int[256];
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** merges: pairs in rank order (first = merged first). */
    BpeModel(Map<String, Integer> vocab, List<String[]> mergePairs, Options options, String source) {
        this.vocab = Map.copyOf(vocab);
        this.options = options;
        int maxId = -1;
        for (int id : vocab.values()) {
            if (id < 0) throw new BitcapException(source + ": vocabulary has a negative id " + id);
            maxId = Math.max(maxId, id);
        }
        tokens = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) tokens[e.getValue()] = e.getKey();
        if (options.unkToken() != null) {
            Integer unk = vocab.get(options.unkToken());
            if (unk == null) throw new BitcapException(source + ": unk_token '" + options.unkToken() + "' is not in the vocabulary");
            unkId = unk;
        } else {
            unkId = -1;
        }
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteIds[b] = id == null ? -1 : id;
        }
        merges = new LongLongMap(mergePairs.size());
        String prefix = options.continuingSubwordPrefix();
        for (int rank = 0; rank < mergePairs.size(); rank++) {
            String[] pair = mergePairs.get(rank);
            Integer left = vocab.get(pair[0]), right = vocab.get(pair[1]);
            String right2 = prefix != null && pair[1].startsWith(prefix) ? pair[1].substring(prefix.length()) : pair[1];
            Integer merged = vocab.get(pair[0] + right2);
            if (left == null || right == null || merged == null) {
                throw new BitcapException(source + ": merge #" + rank + " '" + pair[0] + " " + pair[1]
                        + "' uses a token that is not in the vocabulary");
            }
            merges.put(pairKey(left, right), PairMerger.result(rank, merged));
        }
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    /** Number of ids the model defines (largest id + 1). */
    int size() {
        return tokens.length;
    }

    /** The token text of an id, or null when the model has none. */
    String token(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** The id of a token text, or -1. */
    int id(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    /** Appends the ids of one pre-token. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        int[] cached = cache.get(word);
        if (cached != null) {
            out.addAll(cached);
            return;
        }
        if (options.ignoreMerges()) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        IntList symbols = new IntList(word.length());
        boolean previousUnk = false;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int end = i + Character.charCount(cp);
            String piece = word.substring(i, end);
            if (options.continuingSubwordPrefix() != null && i > 0) piece = options.continuingSubwordPrefix() + piece;
            if (options.endOfWordSuffix() != null && end == word.length()) piece = piece + options.endOfWordSuffix();
            Integer id = vocab.get(piece);
            if (id != null) {
                symbols.add(id);
                previousUnk = false;
            } else if (options.byteFallback() && addBytes(word.substring(i, end), symbols)) {
                previousUnk = false;
            } else {
                if (unkId < 0) {
                    throw new BitcapException(String.format(
                            "tokenizer has no token for character U+%04X and no unk_token", cp));
                }
                if (!(options.fuseUnk() && previousUnk)) symbols.add(unkId);
                previousUnk = true;
            }
            i = end;
        }
        int[] ids = symbols.toArray();
        int count = PairMerger.merge(ids, ids.length, (l, r) -> merges.get(pairKey(l, r)));
        int[] result = java.util.Arrays.copyOf(ids, count);
        if (word.length() <= CACHED_WORD_MAX_CHARS && cache.size() < CACHE_LIMIT) cache.put(word, result);
        out.addAll(result);
    }

    // byte_fallback: a character outside the vocabulary becomes its UTF-8 bytes as <0xNN> tokens, if all exist
    private boolean addBytes(String character, IntList symbols) {
        byte[] bytes = character.getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) if (byteIds[b & 0xFF] < 0) return false;
        for (byte b : bytes) symbols.add(byteIds[b & 0xFF]);
        return true;
    }
}
