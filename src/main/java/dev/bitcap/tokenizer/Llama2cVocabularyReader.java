package dev.bitcap.tokenizer;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads llama2.c's tokenizer.bin: int32 max_token_length, then for each token float32 score, int32 length and
 * that many bytes. Pieces write a space as ' '; ids 0, 1 and 2 are unk, BOS and EOS by llama2.c's convention.
 */
final class Llama2cVocabularyReader {
    private Llama2cVocabularyReader() {}

    /** @param vocabSize entries to read; 0 reads every entry up to the end of the file (the format stores no count) */
    static SentencePieceTokenizer.Vocabulary read(Path file, int vocabSize) {
        if (vocabSize == 0) vocabSize = countEntries(file);
        if (vocabSize < 3) throw new BitcapException(file + ": vocabulary size " + vocabSize + " is too small (need unk, BOS, EOS)");
        ByteBuffer in = readAll(file);
        if (in.remaining() < 4) throw new BitcapException(file + ": too short for a llama2.c tokenizer");
        in.getInt(); // max_token_length: only a buffer size hint for C
        List<String> pieces = new ArrayList<>(vocabSize);
        float[] scores = new float[vocabSize];
        SentencePieceTokenizer.Kind[] kinds = new SentencePieceTokenizer.Kind[vocabSize];
        for (int id = 0; id < vocabSize; id++) {
            if (in.remaining() < 8) {
                throw new BitcapException(file + ": ends after " + id + " tokens, expected " + vocabSize);
            }
            scores[id] = in.getFloat();
            int length = in.getInt();
            if (length < 0 || length > in.remaining()) {
                throw new BitcapException(file + ": token " + id + " has length " + length + ", beyond the end of the file");
            }
            byte[] bytes = new byte[length];
            in.get(bytes);
            String piece = new String(bytes, StandardCharsets.UTF_8);
            pieces.add(piece);
            kinds[id] = id <= 2 ? SentencePieceTokenizer.Kind.CONTROL
                    : TokenDecoder.ByteFallback.byteOf(piece) >= 0 ? SentencePieceTokenizer.Kind.BYTE
                    : SentencePieceTokenizer.Kind.NORMAL;
        }
        return new SentencePieceTokenizer.Vocabulary(pieces, scores, kinds, ' ', 1, 2, 0, true, true, file.toString());
    }

    private static int countEntries(Path file) {
        ByteBuffer in = readAll(file);
        if (in.remaining() < 4) throw new BitcapException(file + ": too short for a llama2.c tokenizer");
        in.getInt();
        int n = 0;
        while (in.remaining() >= 8) {
            in.getFloat();
            int length = in.getInt();
            if (length < 0 || length > in.remaining()) break;
            in.position(in.position() + length);
            n++;
        }
        return n;
    }

    private static ByteBuffer readAll(Path file) {
        try {
            return ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new BitcapException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
