package dev.bitcap;

/**
 * An error the user can cause (bad file, bad flag, too long a prompt, no GPU). Its message is one line
 * naming the thing and the problem; the CLI prints it and exits with code 2.
 */
public class BitcapException extends RuntimeException {
    public BitcapException(String message) {
        super(message);
    }

    public BitcapException(String message, Throwable cause) {
        super(message, cause);
    }
}
