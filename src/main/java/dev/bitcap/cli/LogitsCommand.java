package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.LoadedModel;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "logits", mixinStandardHelpOptions = true, description = "Print the logits of every position for given token ids (or text).")
final class LogitsCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ParallelOptions parallelOptions;

    @Option(names = "--ids", split = ",", paramLabel = "ID", description = "token ids, comma-separated")
    int[] ids;

    @Option(names = "--text", description = "text to tokenise instead of --ids")
    String text;

    @Option(names = "--json", description = "print {\"logits\": [[...], ...]}, one row per position")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if ((ids == null) == (text == null)) throw new BitcapException("give exactly one of --ids and --text");
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel model = modelOptions.load(); Backend backend = modelOptions.backend(model, new PassRecorder(), parallelOptions)) {
            int[] tokens = ids != null ? ids : ModelOptions.requireTokenizer(model).encode(text, true);
            if (tokens.length == 0) throw new BitcapException("no tokens to run");
            int ctx = model.config().maxContext();
            if (tokens.length > ctx) throw new BitcapException(tokens.length + " tokens do not fit the context of " + ctx + " tokens");
            Sequence seq = backend.newSequence(tokens.length);
            float[] logits = backend.forward(List.of(seq), List.of(tokens), true);
            int vocab = model.config().vocabSize();
            if (json) {
                ObjectMapper om = new ObjectMapper();
                ObjectNode root = om.createObjectNode();
                ArrayNode rows = root.putArray("logits");
                for (int t = 0; t < tokens.length; t++) {
                    ArrayNode row = rows.addArray();
                    for (int v = 0; v < vocab; v++) row.add(logits[t * vocab + v]);
                }
                out.println(om.writeValueAsString(root));
            } else {
                for (int t = 0; t < tokens.length; t++) {
                    float[] row = Arrays.copyOfRange(logits, t * vocab, (t + 1) * vocab);
                    out.printf("position %d (token %d): top %s%n", t, tokens[t], top(row, 5, model));
                }
            }
        }
        return 0;
    }

    private static String top(float[] row, int k, LoadedModel model) {
        Integer[] order = new Integer[row.length];
        for (int i = 0; i < row.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(k, row.length); i++) {
            int id = order[i];
            String piece = model.tokenizer() != null ? " " + quote(model.tokenizer().tokenText(id)) : "";
            sb.append(String.format("%s%d%s=%.4f", i == 0 ? "" : ", ", id, piece, row[id]));
        }
        return sb.toString();
    }

    private static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }
}
