//! The extra Hugging Face families against their published parameter counts.

use serde_json::json;
use shared::model::hf::{spec_from_config, spec_params};
use shared::model::{HeadKind, MlpKind, TransformerSpec};

fn spec(cfg: serde_json::Value) -> TransformerSpec {
    spec_from_config(&cfg).expect("valid config")
}

fn near(got: f64, want: f64, tol: f64) {
    let err = (got - want) / want;
    assert!(
        err.abs() < tol,
        "{got:.4e} vs {want:.4e} ({:+.2}%)",
        err * 100.0
    );
}

#[test]
fn mixtral_8x7b_total_and_active() {
    let s = spec(json!({
        "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "vocab_size": 32000, "max_position_embeddings": 32768, "num_local_experts": 8,
        "num_experts_per_tok": 2, "tie_word_embeddings": false, "sliding_window": null,
        "rms_norm_eps": 1e-5, "rope_theta": 1e6, "torch_dtype": "bfloat16"
    }));
    assert_eq!(s.kv_heads, 8);
    assert_eq!(s.moe.map(|m| (m.experts, m.active)), Some((8, 2)));
    let (total, active) = spec_params(&s);
    near(total, 46.7e9, 0.005);
    near(active, 12.9e9, 0.005);
    assert!(s.notes.iter().any(|n| n.contains("grouped-query")));
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("fields ignored") && n.contains("rope_theta")));
}

#[test]
fn phi3_mini() {
    let s = spec(json!({
        "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
        "vocab_size": 32064, "max_position_embeddings": 4096, "sliding_window": 2047,
        "tie_word_embeddings": false
    }));
    assert!(s.fused_qkv && s.fused_gate_up);
    assert_eq!(s.sliding_window, Some(2047));
    assert_eq!(s.mlp, MlpKind::GatedSwiglu);
    near(spec_params(&s).0, 3.821e9, 0.005);
}

#[test]
fn gemma_7b_and_gemma2_9b() {
    let s = spec(json!({
        "model_type": "gemma", "hidden_size": 3072, "intermediate_size": 24576,
        "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
        "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192
    }));
    assert_eq!(s.head_dim, 256);
    assert!(s.tied_embeddings);
    near(spec_params(&s).0, 8.54e9, 0.005);
    let s = spec(json!({
        "model_type": "gemma2", "hidden_size": 3584, "intermediate_size": 14336,
        "num_hidden_layers": 42, "num_attention_heads": 16, "num_key_value_heads": 8,
        "head_dim": 256, "vocab_size": 256000, "sliding_window": 4096,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0
    }));
    assert_eq!(s.sliding_window, Some(4096));
    assert_eq!(s.kv_heads, 8);
    near(spec_params(&s).0, 9.24e9, 0.005);
}

#[test]
fn falcon_7b_and_40b() {
    let s = spec(json!({
        "model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71,
        "num_hidden_layers": 32, "vocab_size": 65024, "multi_query": true,
        "parallel_attn": true, "bias": false, "new_decoder_architecture": false, "alibi": false
    }));
    assert_eq!(s.kv_heads, 1);
    assert!(s.parallel_residual && s.fused_qkv && s.tied_embeddings);
    let (total, _) = spec_params(&s);
    // model.parameters() counts the tied head once: 6.92B; "7.2B" counts it twice.
    near(total, 6.92e9, 0.005);
    near(total + 65024.0 * 4544.0, 7.2e9, 0.005);
    let s = spec(json!({
        "model_type": "falcon", "hidden_size": 8192, "num_attention_heads": 128,
        "num_kv_heads": 8, "num_hidden_layers": 60, "vocab_size": 65024,
        "new_decoder_architecture": true, "parallel_attn": true, "bias": false,
        "tie_word_embeddings": false
    }));
    assert_eq!(s.kv_heads, 8);
    // 41.8B with its own output head (41.3B if it were tied).
    near(spec_params(&s).0, 41.8e9, 0.005);
}

#[test]
fn gpt_neox_20b() {
    let s = spec(json!({
        "model_type": "gpt_neox", "hidden_size": 6144, "intermediate_size": 24576,
        "num_hidden_layers": 44, "num_attention_heads": 64, "vocab_size": 50432,
        "max_position_embeddings": 2048, "rotary_pct": 0.25, "use_parallel_residual": true,
        "tie_word_embeddings": false
    }));
    assert!(s.parallel_residual && s.fused_qkv && !s.tied_embeddings);
    near(spec_params(&s).0, 20.55e9, 0.005);
}

#[test]
fn vit_b_16() {
    let labels: serde_json::Map<String, serde_json::Value> = (0..1000)
        .map(|i| (i.to_string(), json!(format!("c{i}"))))
        .collect();
    let s = spec(json!({
        "model_type": "vit", "hidden_size": 768, "intermediate_size": 3072,
        "num_hidden_layers": 12, "num_attention_heads": 12, "image_size": 224,
        "patch_size": 16, "num_channels": 3, "qkv_bias": true,
        "architectures": ["ViTForImageClassification"], "id2label": labels
    }));
    assert_eq!(s.head, HeadKind::Classifier(1000));
    assert_eq!(s.max_positions, 197);
    near(spec_params(&s).0, 86.57e6, 0.002);
}

#[test]
fn t5_base() {
    let s = spec(json!({
        "model_type": "t5", "d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12,
        "num_heads": 12, "vocab_size": 32128, "feed_forward_proj": "relu",
        "relative_attention_num_buckets": 32, "dropout_rate": 0.1
    }));
    assert_eq!((s.layers, s.decoder_layers), (12, 12));
    assert!(s.tied_embeddings);
    assert_eq!(s.dropout, 0.1);
    near(spec_params(&s).0, 222.9e6, 0.002);
}

#[test]
fn bad_configs_are_input_errors_not_panics() {
    let e = spec_from_config(&json!({"model_type": "nope"})).expect_err("unknown family");
    assert_eq!(e.field, "model.hf_config.model_type");
    let e = spec_from_config(&json!({"model_type": "mixtral"})).expect_err("missing fields");
    assert!(e.field.starts_with("model.hf_config."));
    let e = spec_from_config(
        &json!({"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                "num_attention_heads": 8, "num_key_value_heads": 3, "vocab_size": 10,
                "num_local_experts": 4, "num_experts_per_tok": 2}),
    );
    assert!(e.is_err());
    let e = spec_from_config(&json!({"model_type": "vit", "hidden_size": "big"}));
    assert!(e.is_err());
    let e = spec_from_config(
        &json!({"model_type": "vit", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
                "num_attention_heads": 2, "patch_size": 0}),
    );
    assert!(e.is_err());
}

/// A size no model has is refused before anything is built from it: 1e308
/// layers (an integer to JSON) once made the planner run for ever; 2^24 is
/// the largest any field may hold, 2^24 + 1 is refused, naming the field.
#[test]
fn absurd_sizes_are_refused_naming_the_field() {
    let llama = |layers: serde_json::Value| {
        json!({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
               "num_hidden_layers": layers, "num_attention_heads": 8, "vocab_size": 100})
    };
    let e = spec_from_config(&llama(json!(1e308))).expect_err("refused");
    assert_eq!(e.field, "model.hf_config.num_hidden_layers", "{e:?}");
    for bad in [json!((1u64 << 24) + 1), json!(u64::MAX)] {
        let e = spec_from_config(&llama(bad.clone())).expect_err("refused");
        assert_eq!(e.field, "model.hf_config.num_hidden_layers", "{bad}: {e:?}");
        assert!(e.message.contains("16777216"), "{e:?}");
    }
    // the families that read integers written as floats (DeepSeek's configs)
    let ds = json!({"model_type": "deepseek_v3", "hidden_size": 512, "intermediate_size": 1024,
        "moe_intermediate_size": 256, "num_hidden_layers": 1e308, "num_attention_heads": 8,
        "num_key_value_heads": 8, "vocab_size": 32000, "n_routed_experts": 16, "n_shared_experts": 1,
        "num_experts_per_tok": 4, "first_k_dense_replace": 1, "q_lora_rank": 128, "kv_lora_rank": 64,
        "qk_rope_head_dim": 16, "qk_nope_head_dim": 32, "v_head_dim": 32});
    let e = spec_from_config(&ds).expect_err("refused");
    assert_eq!(e.field, "model.hf_config.num_hidden_layers", "{e:?}");
    assert!(e.message.contains("16777216"), "{e:?}");
    assert_eq!(spec(llama(json!(1u64 << 24))).layers, 1 << 24);
}
