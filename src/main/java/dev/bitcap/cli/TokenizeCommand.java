package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Turn text into token ids with a model's tokenizer or a tokenizer file.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "model whose tokenizer to use")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer.json, or llama2.c tokenizer.bin (with --vocab-size)")
    Path tokenizer;

    @Option(names = "--vocab-size", paramLabel = "N", description = "vocabulary size of a llama2.c tokenizer.bin (default: every entry in the file)")
    Integer vocabSize;

    @Option(names = "--text", required = true, description = "text to tokenise")
    String text;

    @Option(names = "--no-special", description = "do not add special tokens such as BOS")
    boolean noSpecial;

    @Option(names = "--json", description = "print {\"ids\": [...]}")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if ((model == null) == (tokenizer == null)) throw new BitcapException("give exactly one of --model and --tokenizer");
        PrintWriter out = spec.commandLine().getOut();
        LoadedModel loaded = null;
        try {
            Tokenizer tok;
            if (model != null) {
                loaded = ModelLoader.load(model, null);
                tok = ModelOptions.requireTokenizer(loaded);
            } else {
                tok = ModelLoader.openTokenizerFile(tokenizer, vocabSize != null ? vocabSize : 0);
            }
            int[] ids = tok.encode(text, !noSpecial);
            if (json) {
                out.println(new ObjectMapper().writeValueAsString(Map.of("ids", ids)));
            } else {
                for (int id : ids) out.printf("%d\t%s%n", id, tok.tokenText(id).replace("\n", "\\n"));
            }
        } finally {
            if (loaded != null) loaded.close();
        }
        return 0;
    }
}
