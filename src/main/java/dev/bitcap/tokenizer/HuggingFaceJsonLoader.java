package dev.bitcap.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads a Hugging Face tokenizer.json (model type BPE) and, optionally, its tokenizer_config.json into the parts
 * of a {@link PipelineTokenizer}. Anything the file uses that this reader does not implement is an error naming
 * it, never a silent approximation.
 */
final class HuggingFaceJsonLoader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> BOS_NAMES = List.of("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>");
    private static final List<String> EOS_NAMES =
            List.of("</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>", "<|im_end|>");

    private final String source;

    private HuggingFaceJsonLoader(String source) {
        this.source = source;
    }

    static PipelineTokenizer load(Path tokenizerJson, Path tokenizerConfigJsonOrNull) {
        JsonNode root = readJson(tokenizerJson);
        JsonNode config = tokenizerConfigJsonOrNull == null ? null : readJson(tokenizerConfigJsonOrNull);
        return new HuggingFaceJsonLoader(tokenizerJson.toString()).build(root, config,
                tokenizerConfigJsonOrNull == null ? null : tokenizerConfigJsonOrNull.toString());
    }

    static JsonNode readJson(Path path) {
        try {
            JsonNode node = JSON.readTree(Files.readAllBytes(path));
            if (node == null || !node.isObject()) throw new BitcapException(path + ": not a JSON object");
            return node;
        } catch (IOException e) {
            throw new BitcapException("cannot read " + path + ": " + firstLine(e.getMessage()), e);
        }
    }

    static String firstLine(String message) {
        if (message == null) return "unknown error";
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    private PipelineTokenizer build(JsonNode root, JsonNode config, String configSource) {
        BpeModel model = parseModel(root.path("model"));
        List<AddedToken> added = parseAddedTokens(root.path("added_tokens"));
        Normalizer normalizer = parseNormalizer(root.get("normalizer"));
        PreTokenizer preTokenizer = parsePreTokenizer(root.get("pre_tokenizer"));
        int[][] template = parsePostProcessor(root.get("post_processor"));
        TokenDecoder decoder = parseDecoder(root.get("decoder"));
        int[] prefix = template[0], suffix = template[1];

        Map<String, Integer> addedIds = new LinkedHashMap<>();
        for (AddedToken t : added) addedIds.putIfAbsent(t.content(), t.id());
        int bos = prefix.length > 0 ? prefix[0] : firstPresent(BOS_NAMES, addedIds);
        int eos = suffix.length > 0 ? suffix[suffix.length - 1] : firstPresent(EOS_NAMES, addedIds);
        if (config != null) {
            if (config.has("bos_token")) bos = configTokenId(config.get("bos_token"), "bos_token", addedIds, model, configSource);
            if (config.has("eos_token")) eos = configTokenId(config.get("eos_token"), "eos_token", addedIds, model, configSource);
            JsonNode addBos = config.get("add_bos_token");
            if (addBos != null && addBos.isBoolean()) prefix = withEdge(prefix, bos, addBos.booleanValue(), true);
            JsonNode addEos = config.get("add_eos_token");
            if (addEos != null && addEos.isBoolean()) suffix = withEdge(suffix, eos, addEos.booleanValue(), false);
        }
        return new PipelineTokenizer(new PipelineTokenizer.Parts(model, added, normalizer, preTokenizer, prefix, suffix,
                decoder, bos, eos));
    }

    private static int firstPresent(List<String> names, Map<String, Integer> ids) {
        for (String name : names) {
            Integer id = ids.get(name);
            if (id != null) return id;
        }
        return -1;
    }

    // bos_token / eos_token: a string, an AddedToken object with "content", or null for none
    private static int configTokenId(JsonNode node, String key, Map<String, Integer> added, BpeModel model, String configSource) {
        if (node == null || node.isNull()) return -1;
        String content = node.isTextual() ? node.textValue() : node.path("content").asText(null);
        if (content == null) throw new BitcapException(configSource + ": " + key + " is neither a string nor a token object");
        Integer id = added.get(content);
        if (id == null && model.id(content) >= 0) id = model.id(content);
        if (id == null) throw new BitcapException(configSource + ": " + key + " '" + content + "' is not in the vocabulary");
        return id;
    }

    // add_bos_token / add_eos_token: make the template start (or end) with the token, or not
    private static int[] withEdge(int[] ids, int token, boolean wanted, boolean atStart) {
        boolean present = ids.length > 0 && token >= 0 && (atStart ? ids[0] : ids[ids.length - 1]) == token;
        if (wanted && !present && token >= 0) {
            int[] out = new int[ids.length + 1];
            System.arraycopy(ids, 0, out, atStart ? 1 : 0, ids.length);
            out[atStart ? 0 : ids.length] = token;
            return out;
        }
        if (!wanted && present) return atStart ? Arrays.copyOfRange(ids, 1, ids.length) : Arrays.copyOf(ids, ids.length - 1);
        return ids;
    }

    private BpeModel parseModel(JsonNode model) {
        if (model.isMissingNode() || !model.isObject()) throw new BitcapException(source + ": has no \"model\" section");
        String type = model.path("type").asText(model.has("merges") ? "BPE" : "");
        if (!type.equals("BPE")) {
            throw new BitcapException(source + ": tokenizer model type '" + type + "' is not supported (only BPE)");
        }
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0.0) {
            throw new BitcapException(source + ": BPE dropout " + dropout.asDouble() + " is not supported");
        }
        JsonNode vocabNode = model.path("vocab");
        if (!vocabNode.isObject()) throw new BitcapException(source + ": model.vocab is not an object");
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt()) throw new BitcapException(source + ": vocab id of '" + e.getKey() + "' is not an integer");
            vocab.put(e.getKey(), e.getValue().intValue());
        }
        List<String[]> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isTextual()) {
                String s = m.textValue();
                int space = s.indexOf(' ');
                if (space <= 0 || space != s.lastIndexOf(' ')) {
                    throw new BitcapException(source + ": merge '" + s + "' is not two tokens separated by a space");
                }
                merges.add(new String[] {s.substring(0, space), s.substring(space + 1)});
            } else if (m.isArray() && m.size() == 2) {
                merges.add(new String[] {m.get(0).asText(), m.get(1).asText()});
            } else {
                throw new BitcapException(source + ": merge " + m + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
        BpeModel.Options options = new BpeModel.Options(model.path("byte_fallback").asBoolean(false),
                textOrNull(model.get("unk_token")), model.path("fuse_unk").asBoolean(false),
                model.path("ignore_merges").asBoolean(false), textOrNull(model.get("continuing_subword_prefix")),
                textOrNull(model.get("end_of_word_suffix")));
        return new BpeModel(vocab, merges, options, source);
    }

    private static String textOrNull(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    private List<AddedToken> parseAddedTokens(JsonNode array) {
        List<AddedToken> tokens = new ArrayList<>();
        for (JsonNode t : array) {
            if (!t.path("id").canConvertToInt() || !t.path("content").isTextual()) {
                throw new BitcapException(source + ": added token " + t + " has no integer id and text content");
            }
            boolean special = t.path("special").asBoolean(false);
            tokens.add(new AddedToken(t.get("id").intValue(), t.get("content").textValue(), special,
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("single_word").asBoolean(false), t.path("normalized").asBoolean(!special)));
        }
        return tokens;
    }

    private String type(JsonNode node, String section) {
        String type = node.path("type").asText(null);
        if (type == null) throw new BitcapException(source + ": a " + section + " has no type");
        return type;
    }

    private BitcapException unsupported(String section, String type) {
        return new BitcapException(source + ": " + section + " type '" + type + "' is not supported");
    }

    private Pattern parsePattern(JsonNode pattern, String section) {
        if (pattern.has("String")) return Pattern.compile(Pattern.quote(pattern.get("String").asText()));
        if (pattern.has("Regex")) return SplitPatterns.compile(pattern.get("Regex").asText(), source + " " + section);
        throw new BitcapException(source + ": " + section + " pattern " + pattern + " is neither String nor Regex");
    }

    private Normalizer parseNormalizer(JsonNode node) {
        if (node == null || node.isNull()) return null;
        String type = type(node, "normalizer");
        return switch (type) {
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                for (JsonNode n : node.path("normalizers")) steps.add(parseNormalizer(n));
                yield new Normalizer.Sequence(steps);
            }
            case "Prepend" -> new Normalizer.Prepend(node.path("prepend").asText());
            case "Replace" -> new Normalizer.Replace(parsePattern(node.path("pattern"), "normalizer"), node.path("content").asText());
            case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Strip" -> new Normalizer.Strip(node.path("strip_left").asBoolean(true), node.path("strip_right").asBoolean(true));
            default -> throw unsupported("normalizer", type);
        };
    }

    private PreTokenizer parsePreTokenizer(JsonNode node) {
        if (node == null || node.isNull()) return null;
        String type = type(node, "pre_tokenizer");
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode n : node.path("pretokenizers")) steps.add(parsePreTokenizer(n));
                yield new PreTokenizer.Sequence(steps);
            }
            case "ByteLevel" -> new PreTokenizer.ByteLevel(node.path("add_prefix_space").asBoolean(true),
                    node.path("use_regex").asBoolean(true));
            case "Split" -> new PreTokenizer.Split(parsePattern(node.path("pattern"), "Split pre_tokenizer"),
                    PreTokenizer.Behavior.parse(node.path("behavior").asText("Isolated")), node.path("invert").asBoolean(false));
            case "Metaspace" -> new PreTokenizer.Metaspace(replacementChar(node), prependScheme(node),
                    node.path("split").asBoolean(true));
            case "Digits" -> new PreTokenizer.Digits(node.path("individual_digits").asBoolean(false));
            case "Punctuation" -> new PreTokenizer.Punctuation(PreTokenizer.Behavior.parse(node.path("behavior").asText("Isolated")));
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            // Whitespace keeps the matches of \w+|[^\w\s]+ and drops the rest
            case "Whitespace" -> new PreTokenizer.Split(SplitPatterns.compile("\\w+|[^\\w\\s]+", source),
                    PreTokenizer.Behavior.REMOVED, true);
            default -> throw unsupported("pre_tokenizer", type);
        };
    }

    private char replacementChar(JsonNode node) {
        String replacement = node.path("replacement").asText("\u2581");
        if (replacement.length() != 1) throw new BitcapException(source + ": Metaspace replacement '" + replacement + "' is not one character");
        return replacement.charAt(0);
    }

    // prepend_scheme (newer files) or add_prefix_space (older ones)
    private PreTokenizer.PrependScheme prependScheme(JsonNode node) {
        if (node.has("prepend_scheme")) {
            return switch (node.get("prepend_scheme").asText()) {
                case "always" -> PreTokenizer.PrependScheme.ALWAYS;
                case "first" -> PreTokenizer.PrependScheme.FIRST;
                case "never" -> PreTokenizer.PrependScheme.NEVER;
                default -> throw new BitcapException(source + ": unknown Metaspace prepend_scheme '" + node.get("prepend_scheme").asText() + "'");
            };
        }
        return node.path("add_prefix_space").asBoolean(true) ? PreTokenizer.PrependScheme.ALWAYS : PreTokenizer.PrependScheme.NEVER;
    }

    /** The special ids a post-processor puts before [0] and after [1] a single sequence. */
    private int[][] parsePostProcessor(JsonNode node) {
        if (node == null || node.isNull()) return new int[][] {new int[0], new int[0]};
        String type = type(node, "post_processor");
        return switch (type) {
            case "ByteLevel" -> new int[][] {new int[0], new int[0]};
            case "TemplateProcessing" -> parseTemplate(node);
            case "RobertaProcessing", "BertProcessing" -> new int[][] {
                    {node.path("cls").path(1).asInt()}, {node.path("sep").path(1).asInt()}};
            case "Sequence" -> {
                int[] prefix = new int[0], suffix = new int[0];
                for (JsonNode n : node.path("processors")) {
                    int[][] inner = parsePostProcessor(n);
                    // a later processor wraps the result of the earlier ones
                    prefix = concat(inner[0], prefix);
                    suffix = concat(suffix, inner[1]);
                }
                yield new int[][] {prefix, suffix};
            }
            default -> throw unsupported("post_processor", type);
        };
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private int[][] parseTemplate(JsonNode node) {
        IntList prefix = new IntList(), suffix = new IntList();
        boolean seenSequence = false;
        for (JsonNode item : node.path("single")) {
            if (item.has("Sequence")) {
                seenSequence = true;
            } else if (item.has("SpecialToken")) {
                String name = item.get("SpecialToken").path("id").asText();
                JsonNode special = node.path("special_tokens").path(name);
                if (!special.path("ids").isArray()) {
                    throw new BitcapException(source + ": template special token '" + name + "' has no ids");
                }
                for (JsonNode id : special.get("ids")) (seenSequence ? suffix : prefix).add(id.asInt());
            } else {
                throw new BitcapException(source + ": template item " + item + " is not understood");
            }
        }
        return new int[][] {prefix.toArray(), suffix.toArray()};
    }

    private TokenDecoder parseDecoder(JsonNode node) {
        if (node == null || node.isNull()) return null;
        String type = type(node, "decoder");
        return switch (type) {
            case "Sequence" -> {
                List<TokenDecoder> steps = new ArrayList<>();
                for (JsonNode n : node.path("decoders")) steps.add(parseDecoder(n));
                yield new TokenDecoder.Sequence(steps);
            }
            case "ByteLevel" -> new TokenDecoder.ByteLevel();
            case "Metaspace" -> new TokenDecoder.Metaspace(replacementChar(node),
                    prependScheme(node) != PreTokenizer.PrependScheme.NEVER);
            case "Replace" -> new TokenDecoder.Replace(parsePattern(node.path("pattern"), "decoder"), node.path("content").asText());
            case "ByteFallback" -> new TokenDecoder.ByteFallback();
            case "Fuse" -> new TokenDecoder.Fuse();
            case "Strip" -> {
                String content = node.path("content").asText(" ");
                if (content.codePointCount(0, content.length()) != 1) {
                    throw new BitcapException(source + ": Strip decoder content '" + content + "' is not one character");
                }
                yield new TokenDecoder.Strip(content.codePointAt(0), node.path("start").asInt(0), node.path("stop").asInt(0));
            }
            default -> throw unsupported("decoder", type);
        };
    }
}
