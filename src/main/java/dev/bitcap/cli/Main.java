package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code bitcap} command line: the only place that prints for people and turns errors into exit codes. */
@Command(name = "bitcap", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Compress, run and CAP-benchmark large language models on CPUs and NVIDIA GPUs.",
        subcommands = {GenerateCommand.class, LogitsCommand.class, TokenizeCommand.class, PerplexityCommand.class,
                InspectCommand.class, BenchCommand.class, SynthCommand.class, QuantizeCommand.class, CapCommand.class, HwCommand.class, CheckCommand.class, TrainGateCommand.class, RankCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for errors the user can fix (bad input, bad flags). */
    public static final int USER_ERROR = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command line with the given streams and returns the exit code (used by tests too). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, a) -> {
            err.println("bitcap: " + ex.getMessage());
            err.println("Try 'bitcap " + (ex.getCommandLine().getCommandName().equals("bitcap") ? "" : ex.getCommandLine().getCommandName() + " ") + "--help'.");
            return USER_ERROR;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            BitcapException user = userError(ex);
            if (user != null) {
                err.println("bitcap: " + user.getMessage());
                return USER_ERROR;
            }
            throw ex;
        });
        int code;
        try {
            code = cli.execute(args);
        } catch (OutOfMemoryError e) { // picocli passes Errors through; a stack trace would hide the one useful fact
            err.println("bitcap: out of Java heap (" + (Runtime.getRuntime().maxMemory() >> 20)
                    + " MiB); raise it with BITCAP_JAVA_OPTS=-Xmx<size>");
            code = USER_ERROR;
        }
        out.flush();
        err.flush();
        return code;
    }

    private static BitcapException userError(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BitcapException b) return b;
            if (c instanceof OutOfMemoryError) return new BitcapException("out of memory: " + c.getMessage() + " (raise the heap with BITCAP_JAVA_OPTS=-Xmx...)");
        }
        return null;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"bitcap " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
