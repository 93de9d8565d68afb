package dev.bitcap.cap;

import dev.bitcap.engine.PassRecord;
import java.util.List;
import java.util.Map;

/**
 * The serving figures of a workload, from its pass records. Requests of a batch arrive together and are prefilled in
 * one pass, so a request's time to first token is its batch's prefill pass; time per output token is the mean decode
 * pass; throughputs are tokens over the time of their phase's passes; requests/s and e2e are over the whole wall time.
 */
public record ServingMetrics(double ttftSeconds, double tpotSeconds, double prefillTokensPerSecond, double decodeTokensPerSecond,
                             double requestsPerSecond, double e2eSeconds, double outputTokensPerSecond) {
    public static ServingMetrics of(List<PassRecord> records, int requests, double wallSeconds) {
        double prefillTime = 0, decodeTime = 0, ttft = 0;
        long prefillTokens = 0, decodeTokens = 0, output = 0;
        int prefills = 0, decodes = 0;
        for (PassRecord r : records) {
            double s = r.nanos() / 1e9;
            if (r.mode() == PassRecord.Mode.PREFILL) {
                prefills++;
                prefillTime += s;
                prefillTokens += r.tokens();
                ttft += s * r.batchSize(); // every request of the pass waits for all of it
                output += r.batchSize();
            } else {
                decodes++;
                decodeTime += s;
                decodeTokens += r.tokens();
                output += r.tokens();
            }
        }
        long prefillRequests = records.stream().filter(r -> r.mode() == PassRecord.Mode.PREFILL).mapToLong(PassRecord::batchSize).sum();
        return new ServingMetrics(prefills == 0 ? Double.NaN : ttft / prefillRequests, decodes == 0 ? Double.NaN : decodeTime / decodes,
                prefillTokens / prefillTime, decodeTokens / decodeTime, requests / wallSeconds, wallSeconds / requests, output / wallSeconds);
    }

    void putInto(Map<String, Object> m) {
        m.put("ttft_s", ttftSeconds);
        m.put("tpot_s", tpotSeconds);
        m.put("prefill_tokens_per_s", prefillTokensPerSecond);
        m.put("decode_tokens_per_s", decodeTokensPerSecond);
        m.put("requests_per_s", requestsPerSecond);
        m.put("e2e_s", e2eSeconds);
        m.put("output_tokens_per_s", outputTokensPerSecond);
    }
}
