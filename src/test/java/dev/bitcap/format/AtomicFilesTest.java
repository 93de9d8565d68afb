package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReplacesAFile() throws IOException {
        Path target = dir.resolve("sub/out.txt");
        AtomicFiles.write(target, temp -> Files.writeString(temp, "first"));
        AtomicFiles.write(target, temp -> Files.writeString(temp, "second"));
        assertEquals("second", Files.readString(target));
        assertEquals(List.of(target), listing(target.getParent()));
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(target);
        assertTrue(perms.contains(PosixFilePermission.OWNER_READ) && perms.contains(PosixFilePermission.OWNER_WRITE));
    }

    @Test
    void failingWriterLeavesTheOldFileAndNoTemp() throws IOException {
        Path target = dir.resolve("out.txt");
        Files.writeString(target, "old");
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, temp -> {
            Files.writeString(temp, "half");
            throw boom;
        })));
        BitcapException io = assertThrows(BitcapException.class, () -> AtomicFiles.write(target, temp -> {
            throw new IOException("disk full");
        }));
        assertTrue(io.getMessage().startsWith(target + ": cannot write ("), io.getMessage());
        assertTrue(io.getMessage().contains("disk full"), io.getMessage());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of(target), listing(dir));
    }

    @Test
    void failingWriterLeavesNoNewFile() throws IOException {
        Path target = dir.resolve("never.txt");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, temp -> {
            throw new IllegalStateException();
        }));
        assertEquals(List.of(), listing(dir));
    }

    @Test
    void buildsADirectoryAndRefusesToReplaceUnlessAsked() throws IOException {
        Path target = dir.resolve("model");
        AtomicFiles.writeDirectory(target, false, temp -> Files.writeString(temp.resolve("a.txt"), "1"));
        assertEquals("1", Files.readString(target.resolve("a.txt")));

        BitcapException exists = assertThrows(BitcapException.class,
                () -> AtomicFiles.writeDirectory(target, false, temp -> Files.writeString(temp.resolve("b.txt"), "2")));
        assertEquals(target + ": already exists", exists.getMessage());

        AtomicFiles.writeDirectory(target, true, temp -> Files.writeString(temp.resolve("b.txt"), "2"));
        assertEquals(List.of(target.resolve("b.txt")), listing(target));
        assertEquals(List.of(target), listing(dir));
    }

    @Test
    void failingDirectoryWriterLeavesTheOldDirectoryAndNoTemp() throws IOException {
        Path target = dir.resolve("model");
        AtomicFiles.writeDirectory(target, false, temp -> Files.writeString(temp.resolve("a.txt"), "1"));
        assertThrows(IllegalStateException.class, () -> AtomicFiles.writeDirectory(target, true, temp -> {
            Files.createDirectories(temp.resolve("nested"));
            Files.writeString(temp.resolve("nested/x.txt"), "half");
            throw new IllegalStateException("failed");
        }));
        assertEquals(List.of(target), listing(dir));
        assertEquals("1", Files.readString(target.resolve("a.txt")));
        assertFalse(Files.exists(target.resolve("nested")));
    }

    @Test
    void aSignalDuringTheWriteLeavesNoHiddenTemp() throws Exception {
        Path target = dir.resolve("model-int4");
        String javaBinary = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(javaBinary, "-cp", System.getProperty("java.class.path"), InterruptedWriter.class.getName(),
                target.toString()).redirectErrorStream(true).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            assertEquals("writing", out.readLine(), "the writer process did not start writing");
            p.destroy(); // SIGTERM: shutdown hooks run, as on Ctrl-C
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "the writer did not stop");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(List.of(), listing(dir), "the stopped write left files behind");
    }

    private static List<Path> listing(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }
}
