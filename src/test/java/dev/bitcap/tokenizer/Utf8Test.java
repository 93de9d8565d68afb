package dev.bitcap.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Lossy UTF-8 with one U+FFFD per maximal ill-formed subpart (expectations from Python's bytes.decode("utf-8", "replace")). */
class Utf8Test {
    private static String decode(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) bytes[i];
        return Utf8.decodeLossy(b);
    }

    @Test
    void illFormedParts() {
        assertEquals("\uFFFD", decode(0xE6));
        assertEquals("\uFFFD", decode(0xE6, 0x97));
        assertEquals("\uFFFDA", decode(0xE6, 0x97, 0x41));
        assertEquals("\uFFFD", decode(0xF0, 0x9F, 0x98));
        assertEquals("\uFFFD\uFFFD", decode(0xC0, 0x80));
        assertEquals("\uFFFD\uFFFD\uFFFD", decode(0xED, 0xA0, 0x80)); // a UTF-16 surrogate written as UTF-8
        assertEquals("\uFFFD\uFFFD", decode(0xFF, 0xFE));
        assertEquals("\uFFFD\uFFFD\uFFFD", decode(0xE0, 0x80, 0x80));
        assertEquals("\uFFFD".repeat(4), decode(0xF4, 0x90, 0x80, 0x80)); // above U+10FFFF
    }

    @Test
    void wellFormedText() {
        String text = "a é 東京 🚀 \uFFFD";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        assertEquals(text, Utf8.decodeLossy(bytes));
        assertTrue(Utf8.isValid(bytes, 0, bytes.length));
        assertTrue(Utf8.isValid(bytes, 0, 5)); // "a é "
        assertFalse(Utf8.isValid(bytes, 0, 6)); // cuts "東" after its first byte
    }
}
