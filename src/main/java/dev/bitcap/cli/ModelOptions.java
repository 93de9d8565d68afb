package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.cuda.CudaLibraries;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Backends;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.synth.BuiltinModel;
import dev.bitcap.parallel.ParallelPlan;
import dev.bitcap.parallel.RankLauncher;
import dev.bitcap.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The options every command that runs a model shares: which model, which tokenizer, which device, which KV cache. */
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

    @Option(names = "--kv", defaultValue = "f32", paramLabel = "FORMAT",
            description = "KV cache format: f32, fp16, int4 or int2 (int formats keep the newest g positions in fp32; default: ${DEFAULT-VALUE})")
    String kv;

    @Option(names = "--kv-group", defaultValue = "32", paramLabel = "G",
            description = "int4/int2 KV group size g: 32, 64 or 128 (channel groups are capped at the head dim; default: ${DEFAULT-VALUE})")
    int kvGroup;

    @Option(names = "--kv-key", defaultValue = "channel", paramLabel = "GROUPING",
            description = "int4/int2 keys grouped per channel (over g tokens) or per token (over g channels) (default: ${DEFAULT-VALUE})")
    String kvKey;

    @Option(names = "--kv-pool-mb", paramLabel = "MIB", description = "most memory the paged KV cache may take (default: half the machine's memory)")
    Long kvPoolMb;

    @Option(names = "--cuda-lib-dir", paramLabel = "DIR",
            description = "folder holding libcuda.so.1, libnvrtc.so.13 and libcublas.so.13 (default: $BITCAP_CUDA_LIB_DIR, then the usual places)")
    Path cudaLibDir;

    @Spec(Spec.Target.MIXEE) CommandSpec spec;
    @Mixin AttentionOptions attention = new AttentionOptions();

    LoadedModel load() {
        if (threads != null) {
            if (threads < 1) throw new BitcapException("--threads must be >= 1, got " + threads);
            System.setProperty("bitcap.threads", String.valueOf(threads));
        }
        if (!device.equals("cpu") && !device.equals("cuda") && !device.equals("auto")) {
            throw new BitcapException("unknown --device '" + device + "' (valid: cpu, cuda, auto)");
        }
        if (cudaLibDir != null) System.setProperty(CudaLibraries.DIR_PROPERTY, cudaLibDir.toString());
        return ModelLoader.load(model != null ? model : BuiltinModel.path(), tokenizer);
    }

    /** The KV cache the flags ask for (parsing them is what checks them). */
    KvSpec kvSpec() {
        return new KvSpec(KvFormat.parse(kv), kvGroup, KeyGrouping.parse(kvKey));
    }

    /**
     * The backend of {@code --device} (with auto, a note on stderr says when it falls back to the CPU), with the KV
     * cache of {@code --kv}.
     */
    Backend backend(LoadedModel model, PassRecorder recorder) {
        return backend(model, recorder, null);
    }

    /** As {@link #backend(LoadedModel, PassRecorder)}, split over processes when {@code parallel} asks for it. */
    Backend backend(LoadedModel model, PassRecorder recorder, ParallelOptions parallel) {
        KvSpec kvSpec = kvSpec();
        if (kvPoolMb != null && kvPoolMb < 1) throw new BitcapException("--kv-pool-mb must be >= 1, got " + kvPoolMb);
        ParallelPlan plan = parallel == null ? null : parallel.plan(device);
        if (plan != null) {
            if (kvSpec.format() != KvFormat.F32) throw new BitcapException("--ranks keeps an f32 KV cache so far; drop --kv " + kvSpec.format().flagName());
            if (attention.build(model) != null) throw new BitcapException("--ranks runs dense attention only so far; drop --attention");
            PrintWriter notes = spec.commandLine().getErr();
            return RankLauncher.launch(model, this.model != null ? this.model : BuiltinModel.path(), tokenizer, plan, recorder, parallel.where(), note -> {
                notes.println("bitcap: " + note);
                notes.flush();
            }, parallel.cudaRanksPerGpu());
        }
        PrintWriter err = spec.commandLine().getErr();
        Backend backend = Backends.create(device, model, recorder, note -> {
            err.println("bitcap: " + note);
            err.flush();
        });
        try {
            if (backend instanceof CpuBackend cpu) {
                cpu.useKv(kvSpec, kvPoolMb != null ? kvPoolMb << 20 : CpuBackend.defaultKvPoolBytes());
            } else if (backend instanceof dev.bitcap.cuda.CudaBackend cuda) {
                cuda.useKv(kvSpec, kvPoolMb != null ? kvPoolMb << 20 : 0);
            } else if (kvSpec.format() != KvFormat.F32) {
                throw new BitcapException("--kv " + kvSpec.format().flagName() + " runs on the cpu backend only so far; the "
                        + backend.name() + " backend keeps an f32 cache");
            }
            attention.apply(backend, model);
            return backend;
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
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
