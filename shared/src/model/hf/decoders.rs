//! The decoder families of the last five years' open models, described by
//! their features (`TransformerSpec`'s position scheme, norms, attention
//! variant, experts). Each reader follows the Hugging Face `transformers`
//! module of its `model_type` (what `model.parameters()` holds), and notes what
//! it applied and what it approximated.

use super::families::{heads_check, llama_like, mha_dims, sliding};
use super::Cfg;
use crate::model::{
    Mla, MlpKind, Moe, NormAffine, NormKind, NormPlacement, PositionKind, QkNormScope,
    TransformerSpec,
};
use crate::InputError;
use serde_json::Value;

/// The `model_type`s read here.
pub(super) const DECODERS: &[&str] = &[
    "opt",
    "bloom",
    "gpt_bigcode",
    "starcoder2",
    "mpt",
    "olmo",
    "olmo2",
    "smollm3",
    "qwen3",
    "qwen2_moe",
    "qwen3_moe",
    "deepseek_v2",
    "deepseek_v3",
    "gptj",
    "gpt_neo",
    "phi",
    "cohere",
    "stablelm",
];

/// The fields a config of the Llama shape has; an unknown `model_type` with all
/// of them is read as a Llama-shaped decoder.
pub(super) const LLAMA_SHAPE: &[&str] = &[
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
];

/// Fields that say a config is a mixture of experts (not to be read as dense).
const EXPERT_FIELDS: &[&str] = &[
    "num_experts",
    "num_local_experts",
    "n_routed_experts",
    "moe_intermediate_size",
    "num_experts_per_tok",
];

pub(super) fn decoder(c: &mut Cfg<'_>, model_type: &str) -> Result<TransformerSpec, InputError> {
    let mut s = match model_type {
        "opt" => opt(c)?,
        "bloom" => bloom(c)?,
        "gpt_bigcode" => gpt_bigcode(c)?,
        "starcoder2" => starcoder2(c)?,
        "mpt" => mpt(c)?,
        "olmo" => olmo(c)?,
        "olmo2" => olmo2(c)?,
        "smollm3" => smollm3(c)?,
        "qwen3" => qwen3(c)?,
        "qwen2_moe" | "qwen3_moe" => qwen_moe(c, model_type)?,
        "deepseek_v2" | "deepseek_v3" => deepseek(c, model_type)?,
        "gptj" => gptj(c)?,
        "gpt_neo" => gpt_neo(c)?,
        "phi" => phi(c)?,
        "cohere" => cohere(c)?,
        "stablelm" => stablelm(c)?,
        _ => {
            return Err(InputError::new(
                "model.hf_config.model_type",
                format!("unknown family {model_type}"),
            ))
        }
    };
    s.family = model_type.to_string();
    s.dropout = c.dropout(&[
        "dropout",
        "attention_dropout",
        "hidden_dropout",
        "resid_pdrop",
        "embd_pdrop",
        "attn_pdrop",
        "residual_dropout",
        "embedding_dropout",
        "emb_pdrop",
    ]);
    Ok(s)
}

/// An unknown `model_type` whose config has the Llama-shape fields: read as a
/// Llama-shaped decoder, with a note that becomes a warning of the estimate.
pub(super) fn llama_shaped(
    c: &mut Cfg<'_>,
    model_type: &str,
) -> Result<Option<TransformerSpec>, InputError> {
    if !LLAMA_SHAPE
        .iter()
        .all(|k| c.v.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Ok(None);
    }
    if let Some(k) = EXPERT_FIELDS
        .iter()
        .find(|k| c.v.get(**k).is_some_and(|v| !v.is_null()))
    {
        return Err(InputError::new(
            "model.hf_config.model_type",
            format!(
                "`{model_type}` is not supported and its config describes a mixture of experts \
                 (`{k}`), which a dense Llama shape would misjudge; supported: {}",
                super::supported().join(", ")
            ),
        ));
    }
    let mut s = llama_like(c, model_type, false)?;
    s.family = model_type.to_string();
    c.note(format!(
        "unsupported model_type `{model_type}`: approximated as a Llama-shaped decoder \
         (RMSNorm, rotary positions, SwiGLU MLP) from hidden_size, num_hidden_layers, \
         num_attention_heads, num_key_value_heads, intermediate_size and vocab_size"
    ));
    s.dropout = c.dropout(&["attention_dropout", "hidden_dropout", "dropout"]);
    Ok(Some(s))
}

fn tie_note(c: &mut Cfg<'_>, s: &TransformerSpec) {
    if s.tied_embeddings {
        c.note("tied embeddings: the output head reuses the token embedding");
    } else {
        c.note("untied output head");
    }
}

/// A boolean inside a nested object (MPT's `attn_config`).
fn sub_bool(obj: Option<&serde_json::Map<String, Value>>, key: &str, default: bool) -> bool {
    obj.and_then(|o| o.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// OPT (`OPTForCausalLM`): learned positions with an offset of 2 rows, pre-norm
/// LayerNorm, biases everywhere, ReLU MLP of `ffn_dim`, tied output head.
fn opt(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("opt");
    mha_dims(c, &mut s)?;
    s.intermediate = c.req(&["ffn_dim"])?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 2048)?;
    s.position = PositionKind::Learned;
    // OPTLearnedPositionalEmbedding holds max_position_embeddings + 2 rows
    s.position_offset = 2;
    s.norm = NormKind::LayerNorm;
    if !c.bool("layer_norm_elementwise_affine", true) {
        s.norm_affine = NormAffine::None;
    }
    let bias = c.bool("enable_bias", true);
    s.qkv_bias = bias;
    s.out_bias = bias;
    s.mlp_bias = bias;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    let act = c.str_or("activation_function", "relu");
    c.note(format!(
        "OPT: learned positions (2 extra rows), LayerNorm, biases, {act} MLP of ffn_dim"
    ));
    if !c.bool("do_layer_norm_before", true) {
        s.norm_placement = NormPlacement::Post;
        c.note("post-norm layers (do_layer_norm_before = false), no final norm");
    }
    c.raw("_remove_final_layer_norm");
    if let Some(p) = c.opt_u64("word_embed_proj_dim")? {
        if p != s.hidden {
            c.note(format!(
                "unsupported: word_embed_proj_dim {p} differs from hidden_size {}: the embedding \
                 is counted at hidden_size, without project_in/project_out",
                s.hidden
            ));
        }
    }
    tie_note(c, &s);
    Ok(s)
}

/// BLOOM (`BloomForCausalLM`): ALiBi, a LayerNorm after the embedding, fused
/// qkv with biases, 4x GELU MLP, tied output head.
fn bloom(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("bloom");
    s.hidden = c.req(&["hidden_size", "n_embed"])?;
    s.layers = c.req(&["n_layer", "num_hidden_layers"])?;
    s.heads = c.req(&["n_head", "num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "n_head")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = 4 * s.hidden;
    s.vocab = c.or(&["vocab_size"], 250880)?;
    s.max_positions = c.or(&["seq_length"], 2048)?;
    s.position = PositionKind::Alibi;
    s.norm = NormKind::LayerNorm;
    s.embed_norm = true;
    s.qkv_bias = true;
    s.out_bias = true;
    s.mlp_bias = true;
    s.fused_qkv = true;
    s.gelu_tanh_eager = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    c.raw("apply_residual_connection_post_layernorm");
    c.raw("slow_but_exact");
    c.raw("pretraining_tp");
    c.note("BLOOM: ALiBi position bias, LayerNorm after the embedding, fused qkv with biases, 4x GELU MLP (bloom_gelu, element-wise ops)");
    tie_note(c, &s);
    Ok(s)
}

/// GPT-BigCode / StarCoder (`GPTBigCodeForCausalLM`): the GPT-2 block with
/// multi-query attention (one key/value head) and learned positions.
fn gpt_bigcode(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("gpt_bigcode");
    s.hidden = c.req(&["n_embd", "hidden_size"])?;
    s.layers = c.req(&["n_layer", "num_hidden_layers"])?;
    s.heads = c.req(&["n_head", "num_attention_heads"])?;
    let mq = c.bool("multi_query", true);
    s.kv_heads = if mq { 1 } else { s.heads };
    heads_check(s.hidden, s.heads, s.kv_heads, "n_head")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.or(&["n_inner"], 4 * s.hidden)?;
    s.vocab = c.or(&["vocab_size"], 50257)?;
    s.max_positions = c.or(&["n_positions"], 1024)?;
    s.position = PositionKind::Learned;
    s.norm = NormKind::LayerNorm;
    s.qkv_bias = true;
    s.out_bias = true;
    s.mlp_bias = true;
    s.fused_qkv = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    let act = c.str_or("activation_function", "gelu_pytorch_tanh");
    c.note(format!(
        "GPT-BigCode: fused c_attn, learned positions, LayerNorm, {act} MLP"
    ));
    if mq {
        c.note("multi-query attention: one key/value head for all query heads");
    }
    tie_note(c, &s);
    Ok(s)
}

/// StarCoder2 (`Starcoder2ForCausalLM`): grouped-query attention, rotary,
/// LayerNorm with biases, a GELU MLP, sliding-window attention.
fn starcoder2(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "starcoder2", true)?;
    s.mlp = MlpKind::Dense;
    s.norm = NormKind::LayerNorm;
    let bias = c.bool("use_bias", true);
    s.qkv_bias = bias;
    s.out_bias = bias;
    s.mlp_bias = bias;
    c.raw("norm_type");
    c.raw("hidden_act");
    c.note("StarCoder2: rotary, LayerNorm, biases, GELU (tanh) MLP c_fc/c_proj");
    sliding(c, &mut s, "sliding_window")?;
    Ok(s)
}

/// MPT (`MptForCausalLM`): ALiBi, no biases (Hugging Face drops the LayerNorm
/// biases too), fused Wqkv, a GELU MLP of `expansion_ratio x d_model`, tied head.
fn mpt(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("mpt");
    s.hidden = c.req(&["d_model", "hidden_size"])?;
    s.layers = c.req(&["n_layers", "num_hidden_layers"])?;
    s.heads = c.req(&["n_heads", "num_attention_heads"])?;
    let ac = c.raw("attn_config").and_then(Value::as_object);
    let alibi = sub_bool(ac, "alibi", true);
    let attn_type = ac
        .and_then(|o| o.get("attn_type"))
        .and_then(Value::as_str)
        .unwrap_or("multihead_attention");
    s.kv_heads = match attn_type {
        "multiquery_attention" => 1,
        "grouped_query_attention" => ac
            .and_then(|o| o.get("kv_n_heads"))
            .and_then(Value::as_u64)
            .unwrap_or(s.heads),
        _ => s.heads,
    };
    heads_check(s.hidden, s.heads, s.kv_heads, "attn_config.kv_n_heads")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.or(&["expansion_ratio"], 4)? * s.hidden;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_seq_len"], 2048)?;
    s.norm = NormKind::LayerNorm;
    s.norm_affine = NormAffine::WeightOnly;
    s.fused_qkv = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    c.raw("no_bias");
    c.raw("learned_pos_emb");
    c.raw("norm_type");
    if alibi {
        s.position = PositionKind::Alibi;
        c.note(
            "MPT: ALiBi position bias, no biases (LayerNorm weights only), fused Wqkv, GELU MLP",
        );
    } else {
        s.position = PositionKind::Learned;
        c.note("MPT without ALiBi: learned positions (approximated; Hugging Face's MptModel always uses ALiBi)");
    }
    if s.kv_heads < s.heads {
        c.note(format!(
            "{attn_type}: {} key/value heads for {} query heads",
            s.kv_heads, s.heads
        ));
    }
    if sub_bool(ac, "qk_ln", false) {
        c.note("attn_config.qk_ln is not in Hugging Face's MptAttention: not counted");
    }
    tie_note(c, &s);
    Ok(s)
}

/// OLMo (`OlmoForCausalLM`): the Llama shape with a non-parametric LayerNorm.
fn olmo(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "olmo", false)?;
    s.norm = NormKind::LayerNorm;
    s.norm_affine = NormAffine::None;
    c.note("OLMo: rotary, SwiGLU MLP, LayerNorm without weights or biases");
    if let Some(v) = c.raw("clip_qkv").and_then(Value::as_f64) {
        c.note(format!(
            "clip_qkv {v}: q, k and v are clamped (three small element-wise kernels per layer, not counted)"
        ));
    }
    Ok(s)
}

/// OLMo 2 (`Olmo2ForCausalLM`): RMSNorm on the attention and MLP outputs
/// (before their residual add) and over all query and key channels (QK-norm).
fn olmo2(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "olmo2", false)?;
    s.norm_placement = NormPlacement::PostBranch;
    s.qk_norm = Some(NormKind::RmsNorm);
    s.qk_norm_scope = QkNormScope::AllHeads;
    c.note("OLMo 2: RMSNorm after attention and after the MLP (no input norms), QK-norm over all query and key channels, rotary, SwiGLU MLP");
    Ok(s)
}

/// SmolLM3 (`SmolLM3ForCausalLM`): the Llama shape, without rotary in every
/// `no_rope_layer_interval`-th layer.
fn smollm3(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "smollm3", true)?;
    let interval = c.or(&["no_rope_layer_interval"], 4)?;
    c.raw("no_rope_layers");
    c.raw("layer_types");
    c.note(format!(
        "SmolLM3: Llama shape; no rotary (NoPE) in every {interval}th layer, whose few rotary element-wise kernels are counted in every layer"
    ));
    if c.bool("use_sliding_window", false) {
        sliding(c, &mut s, "sliding_window")?;
    } else {
        c.raw("sliding_window");
    }
    Ok(s)
}

/// Qwen3 (`Qwen3ForCausalLM`): the Llama shape with an RMSNorm over each
/// head's queries and keys (one `head_dim` weight each).
fn qwen3(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "qwen3", false)?;
    s.qk_norm = Some(NormKind::RmsNorm);
    s.qk_norm_scope = QkNormScope::Head;
    c.note("Qwen3: rotary, SwiGLU MLP, QK-norm (RMSNorm over each head's queries and keys)");
    qwen_window(c, &mut s)?;
    Ok(s)
}

fn qwen_window(c: &mut Cfg<'_>, s: &mut TransformerSpec) -> Result<(), InputError> {
    c.raw("max_window_layers");
    if c.bool("use_sliding_window", false) {
        sliding(c, s, "sliding_window")
    } else {
        c.raw("sliding_window");
        Ok(())
    }
}

/// Layers that Qwen's MoE models run with a dense MLP: those in `mlp_only_layers`
/// and those off the `decoder_sparse_step` (Hugging Face's `Qwen2MoeDecoderLayer`).
fn qwen_dense_layers(c: &mut Cfg<'_>, layers: u64) -> Result<u64, InputError> {
    let step = c.or(&["decoder_sparse_step"], 1)?.max(1);
    let only: Vec<u64> = c
        .raw("mlp_only_layers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    Ok((0..layers)
        .filter(|l| only.contains(l) || (l + 1) % step != 0)
        .count() as u64)
}

/// Qwen2-MoE and Qwen3-MoE: routed experts of `moe_intermediate_size`; Qwen2-MoE
/// adds one gated shared expert, Qwen3-MoE a QK-norm.
fn qwen_moe(c: &mut Cfg<'_>, family: &str) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, family, false)?;
    let experts = c.req(&["num_experts"])?;
    let active = c.req(&["num_experts_per_tok"])?;
    if active > experts {
        return Err(InputError::new(
            "model.hf_config.num_experts_per_tok",
            format!("{active} active experts exceed the {experts} experts"),
        ));
    }
    let expert_intermediate = c.req(&["moe_intermediate_size"])?;
    let dense_layers = qwen_dense_layers(c, s.layers)?;
    let shared_intermediate = c.or(&["shared_expert_intermediate_size"], 0)?;
    let shared = u64::from(family == "qwen2_moe" && shared_intermediate > 0);
    s.moe = Some(Moe {
        experts,
        active,
        shared,
        expert_intermediate,
        shared_intermediate,
        shared_gate: shared > 0,
        dense_layers,
        expert_shards: 0,
    });
    c.raw("norm_topk_prob");
    c.raw("router_aux_loss_coef");
    c.raw("output_router_logits");
    if family == "qwen2_moe" {
        // Qwen2MoeAttention: q, k, v with bias, o_proj without
        s.qkv_bias = true;
        s.out_bias = false;
        c.note("Qwen2-MoE: q/k/v projections with bias, rotary, SwiGLU experts");
    } else {
        s.qk_norm = Some(NormKind::RmsNorm);
        s.qk_norm_scope = QkNormScope::Head;
        c.note("Qwen3-MoE: QK-norm, rotary, SwiGLU experts");
    }
    c.note(format!(
        "mixture of experts: each token runs {active} of {experts} experts of {expert_intermediate}{} (a router per layer)",
        if shared > 0 {
            format!(", plus a gated shared expert of {shared_intermediate}")
        } else {
            String::new()
        }
    ));
    if dense_layers > 0 {
        c.note(format!(
            "{dense_layers} layers with a dense MLP of intermediate_size (mlp_only_layers / decoder_sparse_step)"
        ));
    }
    qwen_window(c, &mut s)?;
    Ok(s)
}

/// DeepSeek-V2 and -V3: multi-head latent attention, a mixture of fine-grained
/// experts with shared experts, the first layers dense.
fn deepseek(c: &mut Cfg<'_>, family: &str) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base(family);
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    c.raw("num_key_value_heads");
    if s.hidden == 0 {
        return Err(InputError::new(
            "model.hf_config.hidden_size",
            "must be at least 1",
        ));
    }
    let m = Mla {
        q_lora_rank: c.u64_any(&["q_lora_rank"])?.filter(|&r| r > 0),
        kv_lora_rank: c.req(&["kv_lora_rank"])?,
        qk_rope_head_dim: c.req(&["qk_rope_head_dim"])?,
        qk_nope_head_dim: c.req(&["qk_nope_head_dim"])?,
        v_head_dim: c.req(&["v_head_dim"])?,
    };
    s.mla = Some(m);
    s.kv_heads = s.heads;
    // the output projection reads heads x v_head_dim
    s.head_dim = m.v_head_dim;
    s.intermediate = c.req(&["intermediate_size"])?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 0)?;
    s.mlp = MlpKind::GatedSwiglu;
    s.norm = NormKind::RmsNorm;
    s.position = PositionKind::Rotary;
    s.tied_embeddings = c.bool("tie_word_embeddings", false);
    let bias = c.bool("attention_bias", false);
    s.qkv_bias = bias;
    s.out_bias = bias;
    c.note(format!(
        "{family}: multi-head latent attention (query rank {}, key/value rank {}, rotary part {} and non-rotary part {} per head, values {}), RMSNorm, SwiGLU",
        m.q_lora_rank.map_or("full".to_string(), |r| r.to_string()),
        m.kv_lora_rank,
        m.qk_rope_head_dim,
        m.qk_nope_head_dim,
        m.v_head_dim
    ));
    if let Some(experts) = c.u64_any(&["n_routed_experts"])?.filter(|&e| e > 0) {
        let active = c.req(&["num_experts_per_tok"])?;
        if active > experts {
            return Err(InputError::new(
                "model.hf_config.num_experts_per_tok",
                format!("{active} active experts exceed the {experts} routed experts"),
            ));
        }
        let expert_intermediate = c.req(&["moe_intermediate_size"])?;
        let shared = c.or(&["n_shared_experts"], 0)?;
        let first_dense = c.or(&["first_k_dense_replace"], 0)?;
        let freq = c.or(&["moe_layer_freq"], 1)?.max(1);
        // DeepseekV3DecoderLayer: experts where layer >= first_k_dense_replace and layer % moe_layer_freq == 0
        let dense_layers = (0..s.layers)
            .filter(|l| *l < first_dense || l % freq != 0)
            .count() as u64;
        s.moe = Some(Moe {
            experts,
            active,
            shared,
            expert_intermediate,
            shared_intermediate: 0,
            shared_gate: false,
            dense_layers,
            expert_shards: 0,
        });
        c.note(format!(
            "mixture of experts: each token runs {active} of {experts} routed experts and {shared} shared experts of {expert_intermediate}; {dense_layers} dense layers of {}",
            s.intermediate
        ));
        for k in [
            "n_group",
            "topk_group",
            "topk_method",
            "scoring_func",
            "routed_scaling_factor",
            "norm_topk_prob",
            "aux_loss_alpha",
            "seq_aux",
            "ep_size",
        ] {
            c.raw(k);
        }
    }
    if let Some(n) = c.opt_u64("num_nextn_predict_layers")?.filter(|&n| n > 0) {
        c.note(format!(
            "{n} multi-token-prediction module(s) in the checkpoint are not part of the Hugging Face model: not counted"
        ));
    }
    c.note("KV cache: Hugging Face's code caches the expanded keys and values; serving engines cache the latent (kv_lora_rank + qk_rope_head_dim per token and layer)");
    tie_note(c, &s);
    Ok(s)
}

/// GPT-J (`GPTJForCausalLM`): attention and MLP in parallel from one LayerNorm,
/// rotary on part of each head, no attention biases, an output head with a bias.
fn gptj(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("gptj");
    s.hidden = c.req(&["n_embd", "hidden_size"])?;
    s.layers = c.req(&["n_layer", "num_hidden_layers"])?;
    s.heads = c.req(&["n_head", "num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "n_head")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.or(&["n_inner"], 4 * s.hidden)?;
    s.vocab = c.or(&["vocab_size"], 50400)?;
    s.max_positions = c.or(&["n_positions"], 2048)?;
    s.norm = NormKind::LayerNorm;
    s.position = PositionKind::Rotary;
    s.mlp_bias = true;
    s.parallel_residual = true;
    s.parallel_shared_norm = true;
    s.head_bias = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", false);
    let act = c.str_or("activation_function", "gelu_new");
    s.gelu_tanh_eager = act == "gelu_new";
    let rot = c.or(&["rotary_dim"], s.head_dim)?;
    if rot > s.head_dim {
        return Err(InputError::new(
            "model.hf_config.rotary_dim",
            format!(
                "is the rotary channels of one head and must be at most the head size n_embd / n_head = {}, got {rot}: check the config (GPT-J 6B has 64 of 256)",
                s.head_dim
            ),
        ));
    }
    s.rotary_fraction = rot as f64 / s.head_dim.max(1) as f64;
    c.note(format!(
        "GPT-J: attention and MLP in parallel from one LayerNorm, rotary on {rot} of {} channels per head, no attention biases, {act} MLP, output head with a bias",
        s.head_dim
    ));
    tie_note(c, &s);
    Ok(s)
}

/// GPT-Neo (`GPTNeoForCausalLM`): the GPT-2 block with learned positions, no
/// q/k/v biases, and local attention on alternate layers.
fn gpt_neo(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("gpt_neo");
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_layers", "num_hidden_layers"])?;
    s.heads = c.req(&["num_heads", "num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_heads")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.or(&["intermediate_size"], 4 * s.hidden)?;
    s.vocab = c.or(&["vocab_size"], 50257)?;
    s.max_positions = c.or(&["max_position_embeddings"], 2048)?;
    s.position = PositionKind::Learned;
    s.norm = NormKind::LayerNorm;
    s.out_bias = true;
    s.mlp_bias = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    let act = c.str_or("activation_function", "gelu_new");
    s.gelu_tanh_eager = act == "gelu_new";
    c.raw("attention_types");
    c.raw("attention_layers");
    let w = c.or(&["window_size"], 256)?;
    c.note(format!(
        "GPT-Neo: learned positions, LayerNorm, no q/k/v biases, {act} MLP; local attention (window {w}) on alternate layers runs as a masked full attention in Hugging Face's code, counted as full"
    ));
    tie_note(c, &s);
    Ok(s)
}

/// Phi-1/1.5/2 (`PhiForCausalLM`): parallel attention and MLP from one
/// LayerNorm, partial rotary, biases everywhere, an output head with a bias.
fn phi(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("phi");
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    s.kv_heads = c.or(&["num_key_value_heads"], s.heads)?;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_key_value_heads")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.req(&["intermediate_size"])?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 2048)?;
    s.norm = NormKind::LayerNorm;
    s.position = PositionKind::Rotary;
    s.qkv_bias = true;
    s.out_bias = true;
    s.mlp_bias = true;
    s.parallel_residual = true;
    s.parallel_shared_norm = true;
    s.head_bias = true;
    s.tied_embeddings = c.bool("tie_word_embeddings", false);
    let act = c.str_or("hidden_act", "gelu_new");
    s.gelu_tanh_eager = act == "gelu_new";
    if c.bool("qk_layernorm", false) {
        s.qk_norm = Some(NormKind::LayerNorm);
        s.qk_norm_scope = QkNormScope::Head;
        c.note("qk_layernorm: a LayerNorm over each head's queries and keys (its biases, 2 x head_dim, not counted)");
    }
    let pct = c.fraction_or("partial_rotary_factor", 0.5)?;
    s.rotary_fraction = pct;
    c.note(format!(
        "Phi: attention and MLP in parallel from one LayerNorm, rotary on {:.0}% of each head, biases, {act} MLP, output head with a bias",
        pct * 100.0
    ));
    tie_note(c, &s);
    Ok(s)
}

/// Cohere Command-R (`CohereForCausalLM`): parallel attention and SwiGLU MLP
/// from one LayerNorm without bias, optional per-head QK LayerNorm, tied head.
fn cohere(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "cohere", true)?;
    s.norm = NormKind::LayerNorm;
    s.norm_affine = NormAffine::WeightOnly;
    s.parallel_residual = true;
    s.parallel_shared_norm = true;
    if c.bool("use_qk_norm", false) {
        s.qk_norm = Some(NormKind::LayerNorm);
        s.qk_norm_scope = QkNormScope::AllHeads;
        c.note("QK-norm: a LayerNorm over each head's queries and keys, with weights per head");
    }
    c.raw("logit_scale");
    c.note("Cohere: attention and SwiGLU MLP in parallel from one LayerNorm (weights only), rotary; logits scaled (logit_scale)");
    Ok(s)
}

/// StableLM (`StableLmForCausalLM`): LayerNorm with biases, partial rotary,
/// optional q/k/v biases, parallel residual and per-head QK LayerNorm.
fn stablelm(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = llama_like(c, "stablelm", false)?;
    s.norm = NormKind::LayerNorm;
    s.qkv_bias = c.bool("use_qkv_bias", false);
    s.out_bias = false;
    if c.bool("use_parallel_residual", false) {
        s.parallel_residual = true;
        s.parallel_shared_norm = true;
        c.note("parallel residual: attention and MLP read one LayerNorm");
    }
    if c.bool("qk_layernorm", false) {
        s.qk_norm = Some(NormKind::LayerNorm);
        s.qk_norm_scope = QkNormScope::AllHeads;
        c.note("QK-norm: a LayerNorm (no bias) per head over its queries and keys");
    }
    let pct = c.fraction_or("partial_rotary_factor", 0.25)?;
    s.rotary_fraction = pct;
    c.note(format!(
        "StableLM: LayerNorm, rotary on {:.0}% of each head, SwiGLU MLP{}",
        pct * 100.0,
        if s.qkv_bias {
            ", q/k/v projections with bias"
        } else {
            ""
        }
    ));
    Ok(s)
}
