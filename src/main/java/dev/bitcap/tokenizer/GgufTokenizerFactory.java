package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Builds tokenizers from a GGUF file's vocabulary: "llama" as SentencePiece, "gpt2" as byte-level BPE. */
final class GgufTokenizerFactory {
    private static final String SOURCE = "GGUF tokenizer";

    private GgufTokenizerFactory() {}

    static Tokenizer create(GgufVocabulary v) {
        if (v == null || v.tokens() == null || v.tokens().isEmpty()) {
            throw new BitcapException(SOURCE + ": tokenizer.ggml.tokens is missing or empty");
        }
        int n = v.tokens().size();
        if (v.scores() != null && v.scores().length != n) {
            throw new BitcapException(SOURCE + ": " + n + " tokens but " + v.scores().length + " scores");
        }
        if (v.tokenTypes() != null && v.tokenTypes().length != n) {
            throw new BitcapException(SOURCE + ": " + n + " tokens but " + v.tokenTypes().length + " token types");
        }
        String model = v.model() == null ? "" : v.model();
        return switch (model) {
            case "llama" -> sentencePiece(v);
            case "gpt2" -> byteLevel(v);
            default -> throw new BitcapException(SOURCE + ": tokenizer.ggml.model '" + model
                    + "' is not supported (only llama and gpt2)");
        };
    }

    private static int type(GgufVocabulary v, int id) {
        return v.tokenTypes() == null ? GgufVocabulary.TYPE_NORMAL : v.tokenTypes()[id];
    }

    private static Tokenizer sentencePiece(GgufVocabulary v) {
        int n = v.tokens().size();
        SentencePieceTokenizer.Kind[] kinds = new SentencePieceTokenizer.Kind[n];
        for (int id = 0; id < n; id++) {
            kinds[id] = switch (type(v, id)) {
                case GgufVocabulary.TYPE_UNKNOWN, GgufVocabulary.TYPE_CONTROL -> SentencePieceTokenizer.Kind.CONTROL;
                case GgufVocabulary.TYPE_USER_DEFINED -> SentencePieceTokenizer.Kind.USER_DEFINED;
                case GgufVocabulary.TYPE_BYTE -> SentencePieceTokenizer.Kind.BYTE;
                default -> SentencePieceTokenizer.Kind.NORMAL;
            };
        }
        float[] scores = v.scores() == null ? new float[n] : v.scores();
        return new SentencePieceTokenizer(new SentencePieceTokenizer.Vocabulary(v.tokens(), scores, kinds, '\u2581',
                v.bosId(), v.eosId(), v.unkId(), v.addBos(), v.addSpacePrefix(), SOURCE));
    }

    private static Tokenizer byteLevel(GgufVocabulary v) {
        if (v.merges() == null) throw new BitcapException(SOURCE + ": a gpt2 vocabulary needs tokenizer.ggml.merges");
        int n = v.tokens().size();
        Map<String, Integer> vocab = new HashMap<>(n * 2);
        List<AddedToken> added = new ArrayList<>();
        for (int id = 0; id < n; id++) {
            String token = v.tokens().get(id);
            vocab.putIfAbsent(token, id);
            int type = type(v, id);
            if (type == GgufVocabulary.TYPE_CONTROL || type == GgufVocabulary.TYPE_USER_DEFINED) {
                added.add(new AddedToken(id, token, type == GgufVocabulary.TYPE_CONTROL, false, false, false, false));
            }
        }
        List<String[]> merges = new ArrayList<>(v.merges().size());
        for (String m : v.merges()) {
            int space = m.indexOf(' ', 1);
            if (space < 0) throw new BitcapException(SOURCE + ": merge '" + m + "' is not two tokens separated by a space");
            merges.add(new String[] {m.substring(0, space), m.substring(space + 1)});
        }
        String regex = regexFor(v.pre());
        PreTokenizer pre = regex == null
                ? new PreTokenizer.ByteLevel(false, true)
                : new PreTokenizer.Sequence(List.of(
                        new PreTokenizer.Split(SplitPatterns.compile(regex, SOURCE), PreTokenizer.Behavior.ISOLATED, false),
                        new PreTokenizer.ByteLevel(false, false)));
        boolean ignoreMerges = "llama-bpe".equals(v.pre()) || "llama3".equals(v.pre());
        BpeModel model = new BpeModel(vocab, merges,
                new BpeModel.Options(false, null, false, ignoreMerges, null, null), SOURCE);
        int bos = v.bosId() >= 0 && v.bosId() < n ? v.bosId() : -1;
        int eos = v.eosId() >= 0 && v.eosId() < n ? v.eosId() : -1;
        int[] prefix = v.addBos() && bos >= 0 ? new int[] {bos} : new int[0];
        return new PipelineTokenizer(new PipelineTokenizer.Parts(model, added, null, pre, prefix, new int[0],
                new TokenDecoder.ByteLevel(), bos, eos));
    }

    /** The split regex for tokenizer.ggml.pre; null means plain GPT-2 byte-level splitting. */
    static String regexFor(String pre) {
        if (pre == null) return null;
        return switch (pre) {
            case "default", "gpt2", "gpt-2" -> null;
            case "llama-bpe", "llama3", "dbrx", "smaug-bpe" -> SplitPatterns.LLAMA3;
            case "qwen2", "deepseek-r1-qwen", "stablelm2" -> SplitPatterns.QWEN2;
            default -> throw new BitcapException(SOURCE + ": pre-tokenizer '" + pre
                    + "' (tokenizer.ggml.pre) is not supported; known: default, gpt2, llama-bpe, qwen2");
        };
    }
}
