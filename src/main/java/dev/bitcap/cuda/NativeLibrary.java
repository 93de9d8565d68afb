package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/** A loaded shared library whose functions are bound as FFM downcall handles by name. */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private final String name;
    private final SymbolLookup lookup;

    NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    /** The first of {@code symbols} the library exports, bound to {@code descriptor}. */
    MethodHandle bind(FunctionDescriptor descriptor, String... symbols) {
        for (String s : symbols) {
            var found = lookup.find(s);
            if (found.isPresent()) return LINKER.downcallHandle(found.get(), descriptor);
        }
        throw new BitcapException(name + " lacks " + String.join(" / ", symbols) + ": the library is too old for bitcap");
    }

    boolean has(String symbol) {
        return lookup.find(symbol).isPresent();
    }

    /** A C string returned by the library, or "?" for NULL. */
    static String cString(MemorySegment p) {
        if (p.equals(MemorySegment.NULL)) return "?";
        return p.reinterpret(4096).getString(0);
    }
}
