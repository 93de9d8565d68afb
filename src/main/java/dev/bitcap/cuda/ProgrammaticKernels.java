package dev.bitcap.cuda;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The kernels a source file declares safe for programmatic dependent launch, on lines
 * {@code // programmatic launch: name name ...}. A kernel belongs there only if every one of its blocks executes
 * {@code PDL_WAIT()} (griddepcontrol.wait) before it reads what earlier kernels wrote or writes what they read; what it
 * does before (loading weights, which no kernel writes) overlaps the previous kernel's tail. Keeping the list in the
 * source keeps it next to the waits it promises.
 */
final class ProgrammaticKernels {
    static final String MARK = "// programmatic launch:";

    private ProgrammaticKernels() {}

    static Set<String> declaredIn(String source) {
        Set<String> names = new LinkedHashSet<>();
        for (String line : source.split("\n")) {
            String t = line.strip();
            if (!t.startsWith(MARK)) continue;
            for (String n : t.substring(MARK.length()).trim().split("\\s+")) if (!n.isEmpty()) names.add(n);
        }
        return Set.copyOf(names);
    }
}
