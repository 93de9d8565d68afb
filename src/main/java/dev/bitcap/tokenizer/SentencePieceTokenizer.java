package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * SentencePiece-style BPE by piece scores, as llama2.c's encoder and llama.cpp's "llama" vocabularies do it: a
 * space is put in front of the text (and after each special token), each character becomes its piece or its
 * UTF-8 bytes as {@code <0xNN>} pieces, then the adjacent pair whose concatenation is a piece with the highest
 * score merges, leftmost first, until none can. Decoding maps byte pieces back to bytes and drops the leading
 * space of the first piece of a sequence and of the piece after BOS.
 */
final class SentencePieceTokenizer implements Tokenizer {
    /** What kind of entry a piece is (GGUF's token types, reduced to what encoding and decoding need). */
    enum Kind { NORMAL, BYTE, CONTROL, USER_DEFINED }

    /** The vocabulary: pieces with their scores and kinds; space: the character pieces use for a space. */
    record Vocabulary(List<String> pieces, float[] scores, Kind[] kinds, char space, int bosId, int eosId, int unkId,
                      boolean addBos, boolean addSpacePrefix, String source) {}

    private final String[] pieces;
    private final Kind[] kinds;
    private final int[] priority; // merge priority of each piece: lower = higher score
    private final Map<String, Integer> idByPiece = new HashMap<>();
    private final Map<String, Integer> idBySpecialText = new HashMap<>();
    private final String[] specialText;
    private final int[] byteIds = new int[256];
    private final char space;
    private final int bosId, eosId, unkId;
    private final boolean addBos, addSpacePrefix;
    private final AddedTokenMatcher specials;
    private final Set<Integer> stopIds;

    SentencePieceTokenizer(Vocabulary v) {
        int n = v.pieces().size();
        if (n == 0) throw new BitcapException(v.source() + ": the vocabulary is empty");
        if (v.scores().length != n || v.kinds().length != n) {
            throw new BitcapException(v.source() + ": " + n + " pieces but " + v.scores().length + " scores and "
                    + v.kinds().length + " token types");
        }
        pieces = v.pieces().toArray(new String[0]);
        kinds = v.kinds().clone();
        space = v.space();
        bosId = checkId(v.bosId(), n, "bos", v.source());
        eosId = checkId(v.eosId(), n, "eos", v.source());
        unkId = checkId(v.unkId(), n, "unk", v.source());
        addBos = v.addBos() && bosId >= 0;
        addSpacePrefix = v.addSpacePrefix();
        for (int id = n - 1; id >= 0; id--) idByPiece.put(pieces[id], id); // the lowest id wins a duplicate
        priority = ranksByScore(v.scores());
        Arrays.fill(byteIds, -1);
        specialText = new String[n];
        List<AddedToken> matched = new ArrayList<>();
        List<String> patterns = new ArrayList<>();
        List<Map.Entry<String, Integer>> controls = new ArrayList<>();
        for (int id = 0; id < n; id++) {
            int b = kinds[id] == Kind.BYTE ? TokenDecoder.ByteFallback.byteOf(pieces[id]) : -1;
            if (b >= 0 && byteIds[b] < 0) byteIds[b] = id;
            boolean control = kinds[id] == Kind.CONTROL || id == unkId;
            if (control || kinds[id] == Kind.USER_DEFINED) {
                // llama2.c writes specials as "\n<s>\n": the text shown and matched is the trimmed piece
                String text = control ? pieces[id].strip() : pieces[id];
                specialText[id] = text;
                idBySpecialText.putIfAbsent(text, id);
                if (id != unkId && !text.isEmpty()) {
                    matched.add(new AddedToken(id, text, control, false, false, false, false));
                    patterns.add(text);
                }
                if (control) controls.add(Map.entry(text, id));
            }
        }
        specials = new AddedTokenMatcher(matched, patterns);
        stopIds = StopTokens.find(eosId, controls);
    }

    private static int checkId(int id, int n, String what, String source) {
        if (id >= n) throw new BitcapException(source + ": " + what + " id " + id + " is outside the vocabulary of " + n);
        return id < 0 ? -1 : id;
    }

    // equal scores get equal priority, so ties go to the leftmost pair
    private static int[] ranksByScore(float[] scores) {
        float[] distinct = scores.clone();
        Arrays.sort(distinct);
        int count = 0;
        for (int i = 0; i < distinct.length; i++) {
            if (i == 0 || Float.compare(distinct[i], distinct[count - 1]) != 0) distinct[count++] = distinct[i];
        }
        int[] rank = new int[scores.length];
        for (int id = 0; id < scores.length; id++) {
            int index = Arrays.binarySearch(distinct, 0, count, scores[id]);
            rank[id] = count - 1 - index; // highest score = priority 0
        }
        return rank;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int[] encode(String text, boolean addSpecial) {
        IntList out = new IntList(text.length() / 3 + 8);
        if (addSpecial && addBos) out.add(bosId);
        boolean afterSpecial = true; // the start of the text counts as "after a special token"
        for (AddedTokenMatcher.Segment segment : specials.split(text)) {
            if (segment.isToken()) {
                out.add(segment.tokenId());
                afterSpecial = true;
                continue;
            }
            String s = addSpacePrefix && afterSpecial ? " " + segment.text() : segment.text();
            encodeText(s.replace(' ', space), out);
            afterSpecial = false;
        }
        return out.toArray();
    }

    private void encodeText(String text, IntList out) {
        IntList symbols = new IntList(text.length());
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int end = i + Character.charCount(cp);
            Integer id = idByPiece.get(text.substring(i, end));
            if (id != null && kinds[id] != Kind.CONTROL) {
                symbols.add(id);
            } else {
                for (byte b : text.substring(i, end).getBytes(StandardCharsets.UTF_8)) symbols.add(byteSymbol(b & 0xFF));
            }
            i = end;
        }
        int[] ids = symbols.toArray();
        int count = PairMerger.merge(ids, ids.length, this::mergeOf);
        out.addAll(ids, count);
    }

    private int byteSymbol(int b) {
        if (byteIds[b] >= 0) return byteIds[b];
        if (unkId >= 0) return unkId;
        throw new BitcapException(String.format("vocabulary has no piece <0x%02X> and no unk piece", b));
    }

    private long mergeOf(int left, int right) {
        if (kinds[left] != Kind.NORMAL || kinds[right] != Kind.NORMAL) return -1;
        Integer merged = idByPiece.get(pieces[left] + pieces[right]);
        if (merged == null || kinds[merged] != Kind.NORMAL) return -1;
        return PairMerger.result(priority[merged], merged);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean atStart = true;
        for (int id : ids) {
            if (id < 0 || id >= pieces.length) continue; // ids outside the vocabulary are dropped
            if (specialText[id] != null && kinds[id] != Kind.USER_DEFINED) {
                if (!skipSpecial) bytes.writeBytes(specialText[id].getBytes(StandardCharsets.UTF_8));
                if (id == bosId) atStart = true;
                continue;
            }
            if (kinds[id] == Kind.BYTE) {
                int b = TokenDecoder.ByteFallback.byteOf(pieces[id]);
                if (b >= 0) bytes.write(b);
                else bytes.writeBytes(pieces[id].getBytes(StandardCharsets.UTF_8));
            } else {
                String piece = kinds[id] == Kind.NORMAL ? pieces[id].replace(space, ' ') : pieces[id];
                if (atStart && piece.startsWith(" ")) piece = piece.substring(1);
                bytes.writeBytes(piece.getBytes(StandardCharsets.UTF_8));
            }
            atStart = false;
        }
        return Utf8.decodeLossy(bytes.toByteArray());
    }

    @Override
    public String tokenText(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new BitcapException("token id " + id + " is outside the vocabulary (size " + pieces.length + ")");
        }
        return pieces[id];
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
        Integer id = idByPiece.get(piece);
        if (id == null) id = idBySpecialText.get(piece);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }
}
