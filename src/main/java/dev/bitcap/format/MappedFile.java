package dev.bitcap.format;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

/** A whole file mapped read-only into a shared arena; closing (once, from any thread) unmaps it. */
final class MappedFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MappedFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    static MappedFile open(Path path) {
        if (Files.isDirectory(path)) {
            throw new BitcapException(path + ": is a directory, expected a file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            return new MappedFile(path, arena, segment);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new BitcapException(path + ": no such file", e);
        } catch (AccessDeniedException e) {
            arena.close();
            throw new BitcapException(path + ": permission denied", e);
        } catch (IOException e) {
            arena.close();
            throw new BitcapException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    Path path() {
        return path;
    }

    MemorySegment segment() {
        return segment;
    }

    long size() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
