package dev.bitcap.format;

/** Makes text taken from a file safe to put in a one-line error message. */
final class ErrorText {
    private static final int MAX_LENGTH = 120;

    private ErrorText() {}

    /** {@code text} with control characters escaped and long text cut, so a message stays one short line. */
    static String clean(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_LENGTH) + 8);
        for (int i = 0; i < text.length(); i++) {
            if (out.length() >= MAX_LENGTH) {
                return out.append("...").toString();
            }
            char c = text.charAt(i);
            if (Character.isISOControl(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
