package dev.bitcap.tokenizer;

/**
 * Streams text by decoding a short window: the ids emitted last (as context, so rules that apply only to the
 * first token of a sequence, like dropping its leading space, do not fire again) plus the ids not yet emitted.
 * Text that ends in U+FFFD is held back until the bytes of the character are complete.
 */
final class WindowStreamDecoder implements Tokenizer.StreamDecoder {
    private final Tokenizer tokenizer;
    private final IntList context = new IntList();
    private final IntList pending = new IntList();
    private String contextText = "";

    WindowStreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    @Override
    public String next(int id) {
        pending.add(id);
        String full = decodeWindow();
        if (full.length() <= contextText.length() || full.charAt(full.length() - 1) == Utf8.REPLACEMENT) return "";
        return emit(full);
    }

    @Override
    public String flush() {
        if (pending.isEmpty()) return "";
        return emit(decodeWindow());
    }

    private String decodeWindow() {
        IntList window = new IntList(context.size() + pending.size());
        window.addAll(context.toArray());
        window.addAll(pending.toArray());
        return tokenizer.decode(window.toArray(), false);
    }

    private String emit(String full) {
        int common = 0;
        int limit = Math.min(full.length(), contextText.length());
        while (common < limit && full.charAt(common) == contextText.charAt(common)) common++;
        // the window's text normally extends the context's; if not (ill-formed bytes regrouped), emit what differs
        String text = full.substring(common == contextText.length() ? contextText.length() : common);
        context.clear();
        context.addAll(pending.toArray());
        pending.clear();
        contextText = tokenizer.decode(context.toArray(), false);
        return text;
    }
}
