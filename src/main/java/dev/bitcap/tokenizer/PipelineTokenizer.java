package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The Hugging Face tokenization pipeline over a BPE model: added tokens are cut out of the raw text, the rest is
 * normalized, cut out again for normalized added tokens, pre-tokenized and encoded piece by piece; the
 * post-processor template adds special tokens around a single sequence. Used for tokenizer.json, GGUF "gpt2"
 * vocabularies and GPT-2's vocab.json/merges.txt.
 */
final class PipelineTokenizer implements Tokenizer {
    /** Everything a pipeline is made of; nullable parts are absent from the source file. */
    record Parts(BpeModel model, List<AddedToken> addedTokens, Normalizer normalizer, PreTokenizer preTokenizer,
                 int[] templatePrefix, int[] templateSuffix, TokenDecoder decoder, int bosId, int eosId) {}

    private final BpeModel model;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final TokenDecoder decoder;
    private final int[] prefix, suffix;
    private final AddedTokenMatcher rawMatcher, normalizedMatcher;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Map<String, Integer> addedByContent = new HashMap<>();
    private final int vocabSize;
    private final int bosId, eosId;
    private final Set<Integer> stopIds;

    PipelineTokenizer(Parts parts) {
        this.model = parts.model();
        this.normalizer = parts.normalizer();
        this.preTokenizer = parts.preTokenizer();
        this.decoder = parts.decoder() == null ? new TokenDecoder.JoinWithSpaces() : parts.decoder();
        this.prefix = parts.templatePrefix().clone();
        this.suffix = parts.templateSuffix().clone();
        List<AddedToken> raw = new ArrayList<>(), normalized = new ArrayList<>();
        List<String> rawPatterns = new ArrayList<>(), normalizedPatterns = new ArrayList<>();
        int maxId = model.size() - 1;
        for (AddedToken token : parts.addedTokens()) {
            addedById.put(token.id(), token);
            addedByContent.putIfAbsent(token.content(), token.id());
            maxId = Math.max(maxId, token.id());
            // as in Hugging Face: non-normalized tokens are found in the raw text first, normalized ones after
            if (token.normalized()) {
                normalized.add(token);
                normalizedPatterns.add(normalizer == null ? token.content() : normalizer.normalize(token.content()));
            } else {
                raw.add(token);
                rawPatterns.add(token.content());
            }
        }
        this.rawMatcher = new AddedTokenMatcher(raw, rawPatterns);
        this.normalizedMatcher = new AddedTokenMatcher(normalized, normalizedPatterns);
        this.vocabSize = maxId + 1;
        this.bosId = parts.bosId();
        this.eosId = parts.eosId();
        this.stopIds = StopTokens.find(eosId, addedById.values().stream()
                .filter(AddedToken::special).map(t -> Map.entry(t.content(), t.id())).toList());
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        IntList out = new IntList(text.length() / 3 + 8);
        if (addSpecial) out.addAll(prefix);
        for (AddedTokenMatcher.Segment segment : rawMatcher.split(text)) {
            if (segment.isToken()) {
                out.add(segment.tokenId());
                continue;
            }
            String normalizedText = normalizer == null ? segment.text() : normalizer.normalize(segment.text());
            for (AddedTokenMatcher.Segment part : normalizedMatcher.split(normalizedText)) {
                if (part.isToken()) {
                    out.add(part.tokenId());
                    continue;
                }
                PreTokenizer.Piece piece = new PreTokenizer.Piece(part.text(), segment.start() == 0 && part.start() == 0);
                if (preTokenizer == null) {
                    model.tokenize(piece.text(), out);
                } else {
                    List<PreTokenizer.Piece> pieces = new ArrayList<>();
                    preTokenizer.split(piece, pieces);
                    for (PreTokenizer.Piece p : pieces) model.tokenize(p.text(), out);
                }
            }
        }
        if (addSpecial) out.addAll(suffix);
        return out.toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            AddedToken added = addedById.get(id);
            if (added != null) {
                if (!(skipSpecial && added.special())) tokens.add(added.content());
                continue;
            }
            String token = model.token(id);
            if (token != null) tokens.add(token); // unknown ids are dropped, as Hugging Face does
        }
        return decoder.decode(tokens);
    }

    @Override
    public String tokenText(int id) {
        AddedToken added = addedById.get(id);
        if (added != null) return added.content();
        String token = model.token(id);
        if (token == null) {
            throw new BitcapException("token id " + id + " is outside the vocabulary (size " + vocabSize + ")");
        }
        return token;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public Set<Integer> stopIds() {
        return stopIds;
    }

    @Override
    public OptionalInt idOf(String piece) {
        Integer added = addedByContent.get(piece);
        if (added != null) return OptionalInt.of(added);
        int id = model.id(piece);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }
}
