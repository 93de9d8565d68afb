package dev.bitcap.model;

/** What a weight tensor is for, independent of how a file format names it. */
public enum WeightRole {
    EMBED, ATTN_NORM, Q, K, V, O, Q_BIAS, K_BIAS, V_BIAS, Q_NORM, K_NORM, MLP_NORM,
    GATE, UP, DOWN, ROUTER, EXPERT_GATE, EXPERT_UP, EXPERT_DOWN,
    SHARED_GATE, SHARED_UP, SHARED_DOWN, SHARED_EXPERT_GATE, FINAL_NORM, LM_HEAD
}
