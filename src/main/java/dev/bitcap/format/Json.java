package dev.bitcap.format;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.util.ByteBufferBackedInputStream;
import dev.bitcap.BitcapException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** The package's one JSON mapper (strict: no trailing tokens, no duplicate keys) and parse helpers. */
final class Json {
    static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private Json() {}

    /** Parses a JSON file that must hold an object; errors name {@code file}. */
    static JsonNode readObject(Path file) {
        if (Files.isDirectory(file)) {
            throw new BitcapException(file + ": is a directory, expected a JSON file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return requireObject(parse(in, file.toString()), file.toString());
        } catch (NoSuchFileException e) {
            throw new BitcapException(file + ": no such file", e);
        } catch (IOException e) {
            throw new BitcapException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** Parses JSON held in mapped memory (no copy to the heap); {@code what} starts error messages. */
    static JsonNode readObject(MemorySegment bytes, String what) {
        try (InputStream in = new ByteBufferBackedInputStream(bytes.asByteBuffer())) {
            return requireObject(parse(in, what), what);
        } catch (IOException e) {
            throw new BitcapException(what + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static JsonNode parse(InputStream in, String what) throws IOException {
        try {
            JsonNode node = MAPPER.readTree(in);
            if (node == null || node.isMissingNode()) {
                throw new BitcapException(what + ": invalid JSON (empty)");
            }
            return node;
        } catch (JacksonException e) {
            throw new BitcapException(what + ": invalid JSON (" + ErrorText.clean(e.getOriginalMessage()) + ")", e);
        }
    }

    private static JsonNode requireObject(JsonNode node, String what) {
        if (!node.isObject()) {
            throw new BitcapException(what + ": invalid JSON (expected an object, found " + node.getNodeType() + ")");
        }
        return node;
    }
}
