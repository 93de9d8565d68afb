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
    /** Hears every binding made (for tests that check the signatures against the C headers). */
    interface BindListener {
        void bound(String symbol, FunctionDescriptor descriptor);
    }

    private final String name;
    private final SymbolLookup lookup;
    private final BindListener listener;

    NativeLibrary(String name, SymbolLookup lookup) {
        this(name, lookup, (s, d) -> {});
    }

    NativeLibrary(String name, SymbolLookup lookup, BindListener listener) {
        this.name = name;
        this.lookup = lookup;
        this.listener = listener;
    }

    /** The first of {@code symbols} the library exports, bound to {@code descriptor}. */
    MethodHandle bind(FunctionDescriptor descriptor, String... symbols) {
        for (String s : symbols) {
            var found = lookup.find(s);
            if (found.isPresent()) {
                listener.bound(s, descriptor);
                return LINKER.downcallHandle(found.get(), descriptor);
            }
        }
        throw new BitcapException(name + " lacks " + String.join(" / ", symbols) + ": the library is too old for bitcap");
    }

    boolean has(String symbol) {
        return lookup.find(symbol).isPresent();
    }

    /** A downcall returning a status code; invokeExact declares Throwable. */
    @FunctionalInterface
    interface Call {
        int call() throws Throwable;
    }

    /** Runs a downcall, passing runtime exceptions and errors through and wrapping anything else. */
    static int invoke(Call c) {
        try {
            return c.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A C string returned by the library, or "?" for NULL. */
    static String cString(MemorySegment p) {
        if (p.equals(MemorySegment.NULL)) return "?";
        return p.reinterpret(4096).getString(0);
    }
}
