package dev.bitcap.parallel;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** What rank 0 tells the other ranks to do next: make or drop sequences, run a pass, or stop. */
sealed interface ControlMessage {
    record NewSequence(int id, int capacity) implements ControlMessage {}

    record DropSequences(int[] ids) implements ControlMessage {}

    record Forward(int[] sequenceIds, List<int[]> tokens, boolean allLogits) implements ControlMessage {}

    record Stop() implements ControlMessage {}

    static byte[] encode(ControlMessage m) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream o = new DataOutputStream(bytes)) {
            switch (m) {
                case NewSequence s -> {
                    o.writeByte(1);
                    o.writeInt(s.id());
                    o.writeInt(s.capacity());
                }
                case DropSequences s -> {
                    o.writeByte(2);
                    writeInts(o, s.ids());
                }
                case Forward f -> {
                    o.writeByte(3);
                    writeInts(o, f.sequenceIds());
                    for (int[] t : f.tokens()) writeInts(o, t);
                    o.writeBoolean(f.allLogits());
                }
                case Stop s -> o.writeByte(4);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static ControlMessage decode(byte[] message) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
            int kind = in.readByte();
            return switch (kind) {
                case 1 -> new NewSequence(in.readInt(), in.readInt());
                case 2 -> new DropSequences(readInts(in));
                case 3 -> {
                    int[] ids = readInts(in);
                    List<int[]> tokens = new ArrayList<>();
                    for (int i = 0; i < ids.length; i++) tokens.add(readInts(in));
                    yield new Forward(ids, tokens, in.readBoolean());
                }
                case 4 -> new Stop();
                default -> throw new IllegalStateException("unknown control message " + kind);
            };
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeInts(DataOutputStream o, int[] v) throws IOException {
        o.writeInt(v.length);
        for (int x : v) o.writeInt(x);
    }

    private static int[] readInts(DataInputStream in) throws IOException {
        int[] v = new int[in.readInt()];
        for (int i = 0; i < v.length; i++) v[i] = in.readInt();
        return v;
    }
}
