package dev.bitcap.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import org.junit.jupiter.api.Test;

class HfConfigParserTest {
    private static JsonNode json(String s) throws Exception {
        return new ObjectMapper().readTree(s.replace('\'', '"'));
    }

    private static final String BASE = "'hidden_size':64,'intermediate_size':128,'num_hidden_layers':2,'num_attention_heads':4,"
            + "'num_key_value_heads':2,'vocab_size':512";

    @Test
    void transformers4And5RopeThetaFieldsBothWork() throws Exception {
        ModelConfig v4 = HfConfigParser.parse(json("{'model_type':'llama'," + BASE + ",'rope_theta':500000.0}"), "t");
        ModelConfig v5 = HfConfigParser.parse(json("{'model_type':'llama'," + BASE + ",'rope_parameters':{'rope_theta':500000.0,'rope_type':'default'}}"), "t");
        assertEquals(500000.0, v4.ropeTheta());
        assertEquals(500000.0, v5.ropeTheta());
        assertEquals(16, v4.headDim());
    }

    @Test
    void expertCountUnderEitherName() throws Exception {
        String moe = "," + "'num_experts_per_tok':2,'moe_intermediate_size':32";
        ModelConfig a = HfConfigParser.parse(json("{'model_type':'qwen3_moe'," + BASE + moe + ",'num_experts':8}"), "t");
        ModelConfig b = HfConfigParser.parse(json("{'model_type':'qwen3_moe'," + BASE + moe + ",'num_local_experts':8}"), "t");
        assertEquals(8, a.experts());
        assertEquals(8, b.experts());
    }

    @Test
    void llama31RopeScalingFollowsThePiecewiseRule() throws Exception {
        String scaling = "{'rope_type':'llama3','factor':8.0,'low_freq_factor':1.0,'high_freq_factor':4.0,'original_max_position_embeddings':8192}";
        ModelConfig v4 = HfConfigParser.parse(json("{'model_type':'llama'," + BASE.replace("'hidden_size':64", "'hidden_size':512")
                .replace("'num_attention_heads':4", "'num_attention_heads':4,'head_dim':128") + ",'rope_theta':500000.0,'rope_scaling':" + scaling + "}"), "t");
        ModelConfig v5 = HfConfigParser.parse(json("{'model_type':'llama'," + BASE.replace("'hidden_size':64", "'hidden_size':512")
                .replace("'num_attention_heads':4", "'num_attention_heads':4,'head_dim':128")
                + ",'rope_parameters':" + scaling.replace("'rope_type'", "'rope_theta':500000.0,'rope_type'") + "}"), "t");
        float[] inv = v4.ropeScaling().inverseFrequencies(128, v4.ropeTheta());
        assertEquals(RopeScaling.Type.LLAMA3, v5.ropeScaling().type());
        float[] plain = RopeScaling.NONE.inverseFrequencies(128, 500000.0);
        // short wavelengths (< 8192/4 = 2048 positions) are untouched, long ones (> 8192) divided by 8
        assertEquals(plain[0], inv[0]);
        for (int j = 0; j < 64; j++) {
            double wavelen = 2 * Math.PI / plain[j];
            if (wavelen > 8192) assertEquals(plain[j] / 8, inv[j], plain[j] * 1e-6);
            if (wavelen < 2048) assertEquals(plain[j], inv[j]);
            if (wavelen >= 2048 && wavelen <= 8192) assertTrue(inv[j] < plain[j] && inv[j] > plain[j] / 8);
        }
        assertEquals(inv[40], v5.ropeScaling().inverseFrequencies(128, v5.ropeTheta())[40]);
    }

    @Test
    void unsupportedArchitectureNamesTheSupportedOnes() throws Exception {
        var e = assertThrows(BitcapException.class, () -> HfConfigParser.parse(json("{'model_type':'gpt2'," + BASE + "}"), "config.json"));
        assertTrue(e.getMessage().contains("unsupported architecture 'gpt2'") && e.getMessage().contains("qwen3_moe"), e.getMessage());
    }

    @Test
    void missingFieldIsNamed() throws Exception {
        var e = assertThrows(BitcapException.class, () -> HfConfigParser.parse(json("{'model_type':'llama','hidden_size':64}"), "config.json"));
        assertTrue(e.getMessage().contains("num_attention_heads"), e.getMessage());
    }
}
