package dev.bitcap.hw;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The data cache sizes the OS reports for CPU 0 (Linux sysfs); empty where there is no such file. */
public final class CacheLevels {
    public record Level(String name, long bytes) {}

    private CacheLevels() {}

    /** L1d, L2, L3 ... in order, as the kernel reports them for one core (L3 is the whole shared cache). */
    public static List<Level> read() {
        List<Level> levels = new ArrayList<>();
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; Files.isDirectory(dir.resolve("index" + i)); i++) {
            try {
                Path idx = dir.resolve("index" + i);
                String type = Files.readString(idx.resolve("type")).strip();
                if (type.equals("Instruction")) continue;
                int level = Integer.parseInt(Files.readString(idx.resolve("level")).strip());
                levels.add(new Level((level == 1 ? "L1d" : "L" + level), parseSize(Files.readString(idx.resolve("size")).strip())));
            } catch (IOException | NumberFormatException e) {
                return List.of(); // an unreadable or unfamiliar sysfs: report no levels rather than wrong ones
            }
        }
        return levels;
    }

    static long parseSize(String s) {
        long unit = 1;
        char last = Character.toUpperCase(s.charAt(s.length() - 1));
        if (last == 'K') unit = 1L << 10;
        else if (last == 'M') unit = 1L << 20;
        else if (last == 'G') unit = 1L << 30;
        return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    }
}
