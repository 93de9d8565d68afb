package dev.bitcap.model.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level BPE tokenizer.json for a synthetic model of any vocabulary size: the 256 byte symbols,
 * BOS and EOS, merges for lowercase letter pairs and space-prefixed letters (so English text does not
 * tokenise to bytes only), and the rest of the vocabulary as unused placeholder pieces.
 */
public final class SyntheticTokenizer {
    public static final String BOS = "<|begin_of_text|>";
    public static final String EOS = "<|end_of_text|>";

    private SyntheticTokenizer() {}

    /** The pieces in id order and the merges that build them. */
    public record Vocabulary(List<String> pieces, List<String> merges) {}

    public static Vocabulary vocabulary(int vocabSize) {
        if (vocabSize < 258) throw new IllegalArgumentException("a synthetic vocabulary needs at least 258 tokens");
        String[] byteChar = byteToUnicode();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(byteChar[b], b);
        vocab.put(BOS, 256);
        vocab.put(EOS, 257);
        List<String> merges = new ArrayList<>();
        String space = byteChar[' '];
        outer:
        for (char a = 'a'; a <= 'z'; a++) {
            for (String left : new String[] {space, String.valueOf(a)}) {
                for (char b = 'a'; b <= 'z'; b++) {
                    if (vocab.size() >= vocabSize) break outer;
                    if (left.equals(space) && b != a) continue; // one "Ġx" per letter x
                    if (vocab.putIfAbsent(left + b, vocab.size()) == null) merges.add(left + " " + b);
                }
            }
        }
        for (int id = vocab.size(); id < vocabSize; id++) vocab.put("<unused_" + id + ">", id);
        return new Vocabulary(List.copyOf(vocab.keySet()), merges);
    }

    /** tokenizer.json text; BOS gets id 256 and EOS 257. */
    public static String json(int vocabSize) {
        Vocabulary vocabulary = vocabulary(vocabSize);
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        root.put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        for (String s : new String[] {BOS, EOS}) {
            ObjectNode t = added.addObject();
            t.put("id", vocabulary.pieces().indexOf(s)).put("content", s).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode specials = post.putObject("special_tokens");
        ObjectNode bos = specials.putObject(BOS);
        bos.put("id", BOS);
        bos.putArray("ids").add(256);
        bos.putArray("tokens").add(BOS);
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix").put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        for (int id = 0; id < vocabulary.pieces().size(); id++) v.put(vocabulary.pieces().get(id), id);
        ArrayNode merges = model.putArray("merges");
        vocabulary.merges().forEach(merges::add);
        return root.toPrettyString();
    }

    /** GPT-2's reversible map from bytes to printable characters. */
    static String[] byteToUnicode() {
        String[] map = new String[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? String.valueOf((char) b) : String.valueOf((char) (256 + extra++));
        }
        return map;
    }
}
