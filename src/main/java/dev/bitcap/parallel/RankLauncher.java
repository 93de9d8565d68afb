package dev.bitcap.parallel;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.model.LoadedModel;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts ranks 1..N-1 as processes of this same program (same java, same JVM options, same class path), waits for
 * them at the rendezvous and returns rank 0's backend. The workers stop when the backend is closed, or on their own
 * when this process dies (their link to it closes).
 */
public final class RankLauncher {
    /** Rank 0 waits this long for the workers to load the model and join. */
    static final long ACCEPT_TIMEOUT_MILLIS = 300_000;

    private RankLauncher() {}

    /**
     * @param modelPath the path the workers load (the same file or folder rank 0 loaded {@code model} from)
     * @param tokenizer the tokenizer file given on the command line, or null
     */
    public static ParallelBackend launch(LoadedModel model, Path modelPath, Path tokenizer, ParallelPlan plan, PassRecorder recorder) {
        return launch(model, modelPath, tokenizer, plan, recorder, Where.LOCAL, note -> {});
    }

    /**
     * Where rank 0 listens and which ranks it starts itself.
     *
     * @param listen     the rendezvous address (port 0: any free port)
     * @param localRanks ranks 0..localRanks-1 run on this host (started here); the others join from elsewhere
     * @param job        the number every rank must present (null: a random one)
     */
    public record Where(java.net.InetSocketAddress listen, int localRanks, Long job) {
        public static final Where LOCAL = new Where(new java.net.InetSocketAddress("127.0.0.1", 0), Integer.MAX_VALUE, null);
    }

    /** As above; {@code notes} hears the command each rank started elsewhere must run. */
    public static ParallelBackend launch(LoadedModel model, Path modelPath, Path tokenizer, ParallelPlan plan, PassRecorder recorder,
                                         Where where, java.util.function.Consumer<String> notes) {
        return launch(model, modelPath, tokenizer, plan, recorder, where, notes, null);
    }

    /**
     * As above, with the ranks on GPUs when {@code ranksPerGpu} is not null: rank r on GPU r / ranksPerGpu, summing
     * with NCCL (one rank per GPU) or through the host (several, for testing on one GPU).
     */
    public static ParallelBackend launch(LoadedModel model, Path modelPath, Path tokenizer, ParallelPlan plan, PassRecorder recorder,
                                         Where where, java.util.function.Consumer<String> notes, Integer ranksPerGpu) {
        if (where.localRanks() < 1) throw new BitcapException("--local-ranks must be >= 1, got " + where.localRanks());
        if (ranksPerGpu != null) requireGpus(plan.ranks(), ranksPerGpu, where);
        ModelShard shard = ModelShard.of(model, plan, 0); // refuses a model the plan cannot split before anything starts
        long job = where.job() != null ? where.job() : new SecureRandom().nextLong();
        List<Process> workers = new ArrayList<>();
        try (Rendezvous rendezvous = Rendezvous.listen(where.listen().getHostString(), where.listen().getPort())) {
            String connect = where.listen().getHostString() + ":" + rendezvous.address().getPort();
            int local = Math.min(where.localRanks(), plan.ranks());
            for (int r = 1; r < local; r++) {
                List<String> cmd = workerCommand(connect, r, plan, job, modelPath, tokenizer);
                if (ranksPerGpu != null) cmd.addAll(List.of("--ranks-per-gpu", String.valueOf(ranksPerGpu)));
                workers.add(start(cmd));
            }
            for (int r = local; r < plan.ranks(); r++) {
                notes.accept("waiting for rank " + r + ": on its host run  bitcap rank --connect " + connect + " --rank " + r + " --ranks "
                        + plan.ranks() + " --tp " + plan.tp() + " --ep " + plan.ep() + " --ep-placement " + plan.placement().flag()
                        + " --job " + job + " --model " + modelPath.toAbsolutePath() + (tokenizer == null ? "" : " --tokenizer " + tokenizer.toAbsolutePath()));
            }
            RankLinks links = rendezvous.accept(plan.ranks(), job, ACCEPT_TIMEOUT_MILLIS, () -> exited(workers));
            if (ranksPerGpu != null) {
                CudaRankPass pass;
                try {
                    pass = CudaRankPass.open(shard, links, ranksPerGpu);
                } catch (RuntimeException e) {
                    links.close(); // the workers see rank 0 go and exit
                    throw e;
                }
                int gpus = (plan.ranks() + ranksPerGpu - 1) / ranksPerGpu; // CAP divides by the GPUs' peak, not the ranks'
                return new ParallelBackend(shard, links, pass.collective(), pass, "cuda", gpus, recorder, () -> awaitExit(workers));
            }
            Collective collective = new TcpCollective(links);
            return new ParallelBackend(shard, links, collective, recorder, () -> awaitExit(workers));
        } catch (RuntimeException e) {
            for (Process p : workers) p.destroyForcibly();
            shard.close();
            throw e;
        }
    }

    /** Refuses, before any rank starts, a GPU split this host cannot hold or one that spans hosts. */
    static void requireGpus(int ranks, int ranksPerGpu, Where where) {
        if (ranksPerGpu < 1 || ranksPerGpu > ranks) {
            throw new BitcapException("--ranks-per-gpu must be 1.." + ranks + " for " + ranks + " ranks, got " + ranksPerGpu);
        }
        if (where.localRanks() < ranks) throw new BitcapException("--gpus runs every rank on this host so far; drop --local-ranks");
        int need = (ranks + ranksPerGpu - 1) / ranksPerGpu;
        int have = dev.bitcap.cuda.CudaDriver.get().deviceCount();
        if (have < need) {
            throw new BitcapException("--gpus " + ranks + " needs " + need + " GPUs but the driver sees " + have
                    + (ranksPerGpu == 1 ? " (--ranks-per-gpu " + ranks + " puts every rank on GPU 0, for testing)" : ""));
        }
    }

    static List<String> workerCommand(String connect, int rank, ParallelPlan plan, long job, Path modelPath, Path tokenizer) {
        List<String> cmd = javaCommand(RankWorkerMain.class);
        cmd.addAll(List.of("--connect", connect, "--rank", String.valueOf(rank), "--ranks", String.valueOf(plan.ranks()),
                "--tp", String.valueOf(plan.tp()), "--ep", String.valueOf(plan.ep()), "--ep-placement", plan.placement().flag(),
                "--job", String.valueOf(job), "--model", modelPath.toAbsolutePath().toString()));
        if (tokenizer != null) cmd.addAll(List.of("--tokenizer", tokenizer.toAbsolutePath().toString()));
        return cmd;
    }

    /** This JVM's java, options and class path, running {@code main}: the start of every worker's command line. */
    static List<String> javaCommand(Class<?> main) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // a debugger agent would clash on its port; everything else (modules, native access, heap) is kept
            if (!arg.startsWith("-agentlib:jdwp") && !arg.startsWith("-javaagent")) cmd.add(arg);
        }
        String threads = System.getProperty("bitcap.threads");
        if (threads != null) cmd.add("-Dbitcap.threads=" + threads);
        String cudaLibs = System.getProperty(dev.bitcap.cuda.CudaLibraries.DIR_PROPERTY); // --cuda-lib-dir reaches GPU workers
        if (cudaLibs != null) cmd.add("-D" + dev.bitcap.cuda.CudaLibraries.DIR_PROPERTY + "=" + cudaLibs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        return cmd;
    }

    static Process start(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("NCCL_NVLS_ENABLE", "0"); // NVLink multicast stays off on the GPU hosts
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.directory(new File(System.getProperty("user.dir")));
        try {
            return pb.start();
        } catch (java.io.IOException e) {
            throw new BitcapException("cannot start a rank worker (" + cmd.get(0) + "): " + e.getMessage());
        }
    }

    /** Why the rendezvous should stop waiting: a worker that already exited; null while all run. */
    static String exited(List<Process> workers) {
        for (int i = 0; i < workers.size(); i++) {
            Process p = workers.get(i);
            if (!p.isAlive()) return "rank " + (i + 1) + " exited with status " + p.exitValue() + " before joining (see its message above)";
        }
        return null;
    }

    static void awaitExit(List<Process> workers) throws InterruptedException {
        for (Process p : workers) {
            if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly();
        }
    }
}
