package dev.bitcap.format;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/** Reads a Hugging Face {@code config.json}; interpreting its fields is the model package's job. */
public final class HfConfig {
    private HfConfig() {}

    /** The file's top-level JSON object; a {@link dev.bitcap.BitcapException} naming the file if missing or invalid. */
    public static JsonNode read(Path configJson) {
        return Json.readObject(configJson);
    }
}
