package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Backends;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.synth.BuiltinModel;
import dev.bitcap.tokenizer.Tokenizer;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options every command that runs a model shares: which model, which tokenizer, which device. */
public final class ModelOptions {
    @Option(names = "--model", paramLabel = "PATH",
            description = "Hugging Face folder, .gguf file or llama2.c .bin (default: the built-in tiny MoE)")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer.json or llama2.c tokenizer.bin, where the model has none inside")
    Path tokenizer;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEVICE", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores)")
    Integer threads;

    @Mixin AttentionOptions attention = new AttentionOptions();

    LoadedModel load() {
        if (threads != null) {
            if (threads < 1) throw new BitcapException("--threads must be >= 1, got " + threads);
            System.setProperty("bitcap.threads", String.valueOf(threads));
        }
        if (!device.equals("cpu") && !device.equals("cuda") && !device.equals("auto")) {
            throw new BitcapException("unknown --device '" + device + "' (valid: cpu, cuda, auto)");
        }
        return ModelLoader.load(model != null ? model : BuiltinModel.path(), tokenizer);
    }

    /** The backend of {@code --device}, computing attention as {@code --attention} says. */
    Backend backend(LoadedModel model, PassRecorder recorder) {
        Backend backend = Backends.create(device, model, recorder);
        try {
            attention.apply(backend, model);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    String describe() {
        return model != null ? model.toString() : "built-in " + BuiltinModel.NAME;
    }

    static Tokenizer requireTokenizer(LoadedModel m) {
        if (m.tokenizer() == null) {
            throw new BitcapException("model " + m.name() + " has no tokenizer; pass --tokenizer FILE (or use --ids where the command has it)");
        }
        return m.tokenizer();
    }
}
