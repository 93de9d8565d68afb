package dev.bitcap.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Collects the record of every forward pass. Thread-safe; {@link #NONE} discards. */
public class PassRecorder {
    public static final PassRecorder NONE = new PassRecorder() {
        @Override
        public void record(PassRecord r) {}
    };

    private final List<PassRecord> records = Collections.synchronizedList(new ArrayList<>());

    public void record(PassRecord r) {
        records.add(r);
    }

    public List<PassRecord> records() {
        synchronized (records) {
            return List.copyOf(records);
        }
    }

    public void clear() {
        records.clear();
    }
}
