package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A YAML config reads into the same settings as its JSON twin, with the same strict key and type errors. */
class CapSettingsYamlTest {
    @TempDir Path dir;

    private Path write(String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    @Test
    void yamlAndJsonGiveTheSameSettings() throws IOException {
        CapSettings y = CapSettings.read(write("cap.yaml", """
                # a comment, which JSON could not hold
                metrics_mode: moecap-compat
                workload:
                  input_length: 16
                  output_length: 4
                  batch_sizes: [1, 4]
                matrix:
                  weights:
                    - {format: f32}
                    - format: int4-asym
                      method: gptq
                      group: 64
                  kv: [f32]
                  devices: [cpu, cuda]
                hardware: {device: h200, compute_dtype: bf16, probe: false}
                cost: {lifetime_years: 4.5}
                """));
        CapSettings j = CapSettings.read(write("cap.json", """
                {"metrics_mode": "moecap-compat",
                 "workload": {"input_length": 16, "output_length": 4, "batch_sizes": [1, 4]},
                 "matrix": {"weights": [{"format": "f32"}, {"format": "int4-asym", "method": "gptq", "group": 64}], "kv": ["f32"],
                            "devices": ["cpu", "cuda"]},
                 "hardware": {"device": "h200", "compute_dtype": "bf16", "probe": false},
                 "cost": {"lifetime_years": 4.5}}
                """));
        for (CapSettings s : List.of(y, j)) {
            assertEquals(CountingMode.MOECAP_COMPAT, s.mode);
            assertEquals(16, s.inputLength);
            assertEquals(List.of(1, 4), s.batchSizes);
            assertEquals(List.of(new CapSettings.Weights("f32", "", 0, null), new CapSettings.Weights("int4-asym", "gptq", 64, null)), s.weights);
            assertEquals("h200", s.hardware);
            assertEquals("bf16", s.computeDtype);
            assertEquals(false, s.probe);
            assertEquals(4.5, s.lifetimeYears);
        }
        assertEquals(j.configurations(), y.configurations());
        assertTrue(CapSettings.isYaml(Path.of("x.YML")) && !CapSettings.isYaml(Path.of("x.json")));
    }

    @Test
    void unknownKeyInYamlIsNamed() throws IOException {
        Path f = write("bad.yaml", "workload:\n  batch_size: [1]\n");
        BitcapException e = assertThrows(BitcapException.class, () -> CapSettings.read(f));
        assertTrue(e.getMessage().contains("unknown key 'workload.batch_size'"), e.getMessage());
    }

    @Test
    void wrongTypesInYamlAreNamed() throws IOException {
        assertError("workload:\n  input_length: long\n", "'workload.input_length' must be an integer");
        assertError("workload:\n  batch_sizes: [1, x]\n", "'workload.batch_sizes[1]' must be an integer");
        assertError("matrix:\n  weights:\n    - format: 4\n", "'matrix.weights[0].format' must be a string");
        // a quoted number is a string in YAML, not an integer
        assertError("workload:\n  input_length: \"16\"\n", "'workload.input_length' must be an integer");
        assertError("hardware:\n  probe: maybe\n", "'hardware.probe' must be true or false");
        assertError("- just\n- a list\n", "the top level' must be an object");
    }

    @Test
    void brokenYamlIsOneLineWithItsLine() throws IOException {
        Path f = write("broken.yml", "workload:\n  input_length: 8\n bad indent: [\n");
        BitcapException e = assertThrows(BitcapException.class, () -> CapSettings.read(f));
        assertTrue(e.getMessage().startsWith("config " + f + ": not valid YAML (") && e.getMessage().contains("at line"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    private void assertError(String yaml, String expected) throws IOException {
        Path f = write("t.yaml", yaml);
        BitcapException e = assertThrows(BitcapException.class, () -> CapSettings.read(f));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
