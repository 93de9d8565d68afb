package dev.bitcap.tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Test helper: the key/value section of a GGUF v2/v3 file (enough to build a GgufVocabulary from a real file
 * without depending on the format package). Arrays become lists; numbers keep their Java type.
 */
final class GgufKeyReader {
    private GgufKeyReader() {}

    static Map<String, Object> read(Path file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        if (in.getInt() != 0x46554747) throw new IOException(file + " is not GGUF");
        int version = in.getInt();
        if (version < 2) throw new IOException("GGUF version " + version);
        in.getLong(); // tensor count
        long kvCount = in.getLong();
        Map<String, Object> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = string(in);
            kv.put(key, value(in, in.getInt()));
        }
        return kv;
    }

    private static String string(ByteBuffer in) {
        byte[] bytes = new byte[(int) in.getLong()];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer in, int type) {
        return switch (type) {
            case 0 -> in.get() & 0xFF;
            case 1 -> (int) in.get();
            case 2 -> in.getShort() & 0xFFFF;
            case 3 -> (int) in.getShort();
            case 4 -> in.getInt() & 0xFFFFFFFFL;
            case 5 -> in.getInt();
            case 6 -> in.getFloat();
            case 7 -> in.get() != 0;
            case 8 -> string(in);
            case 9 -> {
                int itemType = in.getInt();
                long n = in.getLong();
                List<Object> items = new ArrayList<>((int) n);
                for (long k = 0; k < n; k++) items.add(value(in, itemType));
                yield items;
            }
            case 10 -> in.getLong();
            case 11 -> in.getLong();
            case 12 -> in.getDouble();
            default -> throw new IllegalStateException("GGUF value type " + type);
        };
    }

    /** The tokenizer.ggml.* keys as the record the tokenizer package takes. */
    @SuppressWarnings("unchecked")
    static GgufVocabulary vocabulary(Map<String, Object> kv) {
        List<String> tokens = (List<String>) (List<?>) kv.get("tokenizer.ggml.tokens");
        List<Object> scoreList = (List<Object>) kv.get("tokenizer.ggml.scores");
        List<Object> typeList = (List<Object>) kv.get("tokenizer.ggml.token_type");
        float[] scores = null;
        if (scoreList != null) {
            scores = new float[scoreList.size()];
            for (int i = 0; i < scores.length; i++) scores[i] = (Float) scoreList.get(i);
        }
        int[] types = null;
        if (typeList != null) {
            types = new int[typeList.size()];
            for (int i = 0; i < types.length; i++) types[i] = ((Number) typeList.get(i)).intValue();
        }
        return new GgufVocabulary((String) kv.get("tokenizer.ggml.model"), (String) kv.get("tokenizer.ggml.pre"),
                tokens, scores, types, (List<String>) (List<?>) kv.get("tokenizer.ggml.merges"),
                id(kv, "tokenizer.ggml.bos_token_id"), id(kv, "tokenizer.ggml.eos_token_id"),
                id(kv, "tokenizer.ggml.unknown_token_id"),
                (Boolean) kv.getOrDefault("tokenizer.ggml.add_bos_token", true),
                (Boolean) kv.getOrDefault("tokenizer.ggml.add_space_prefix", true));
    }

    private static int id(Map<String, Object> kv, String key) {
        Object v = kv.get(key);
        if (v == null) return -1;
        long id = ((Number) v).longValue();
        return id > Integer.MAX_VALUE ? -1 : (int) id;
    }
}
