//! The families: how each `model_type`'s config fields map onto a
//! [`TransformerSpec`]. Every family notes what it applied (grouped-query
//! attention, tied embeddings, sliding window, mixture of experts, parallel
//! residual, fused projections).

use super::Cfg;
use crate::model::{
    HeadKind, InputKind, MlpKind, Moe, NormKind, NormPlacement, PositionKind, TransformerSpec,
};
use crate::InputError;
use serde_json::Value;

pub(super) fn gpt2(f: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let hidden = f.uint("n_embd")?;
    let heads = f.uint("n_head")?;
    let layers = f.uint("n_layer")?;
    let inner = f.uint_or("n_inner", Some(4 * hidden))?;
    let tied = f.bool_or("tie_word_embeddings", true)?;
    let act = f.str_or("activation_function", "gelu_new");
    let spec = TransformerSpec {
        layers,
        decoder_layers: 0,
        hidden,
        heads,
        kv_heads: heads,
        head_dim: hidden / heads,
        intermediate: inner,
        vocab: f.uint_or("vocab_size", Some(50257))?,
        max_positions: f.uint_or("n_positions", Some(1024))?,
        mlp: MlpKind::Dense,
        norm: NormKind::LayerNorm,
        position: PositionKind::Learned,
        head: HeadKind::CausalLm,
        input: InputKind::Tokens,
        tied_embeddings: tied,
        type_vocab: 0,
        qkv_bias: true,
        out_bias: true,
        mlp_bias: true,
        fused_qkv: true,
        fused_gate_up: false,
        parallel_residual: false,
        moe: None,
        sliding_window: None,
        causal: true,
        dropout: f.float_or("resid_pdrop", 0.1)?,
        // Hugging Face writes `gelu_new` out as eight tensor ops; `gelu`,
        // `gelu_pytorch_tanh` and `relu` are one kernel each.
        gelu_tanh_eager: act == "gelu_new",
        ..TransformerSpec::base("gpt2")
    };
    let notes = vec![
        format!("GPT-2 block: fused qkv (c_attn), {act} MLP, learned positions"),
        if tied {
            "tied input/output embeddings".into()
        } else {
            "untied output head".into()
        },
    ];
    f.notes.extend(notes);
    Ok(spec)
}

pub(super) fn bert(f: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let hidden = f.uint("hidden_size")?;
    let heads = f.uint("num_attention_heads")?;
    let spec = TransformerSpec {
        layers: f.uint("num_hidden_layers")?,
        decoder_layers: 0,
        hidden,
        heads,
        kv_heads: heads,
        head_dim: hidden / heads,
        intermediate: f.uint_or("intermediate_size", Some(4 * hidden))?,
        vocab: f.uint_or("vocab_size", Some(30522))?,
        max_positions: f.uint_or("max_position_embeddings", Some(512))?,
        mlp: MlpKind::Dense,
        norm: NormKind::LayerNorm,
        position: PositionKind::Learned,
        head: HeadKind::Pooler,
        input: InputKind::Tokens,
        tied_embeddings: true,
        type_vocab: f.uint_or("type_vocab_size", Some(2))?,
        qkv_bias: true,
        out_bias: true,
        mlp_bias: true,
        fused_qkv: false,
        fused_gate_up: false,
        parallel_residual: false,
        moe: None,
        sliding_window: None,
        causal: false,
        dropout: f.float_or("hidden_dropout_prob", 0.1)?,
        norm_placement: NormPlacement::Post,
        embed_norm: true,
        ..TransformerSpec::base("bert")
    };
    let notes = vec![
        "BERT encoder (BertModel) with its pooler, post-norm, learned positions and token types"
            .into(),
    ];
    f.notes.extend(notes);
    Ok(spec)
}

/// Llama, Mistral, Qwen2: RMSNorm, rotary positions, SwiGLU MLP.
pub(super) fn llama_mistral_qwen2(
    f: &mut Cfg<'_>,
    family: &str,
) -> Result<TransformerSpec, InputError> {
    let hidden = f.uint("hidden_size")?;
    let heads = f.uint("num_attention_heads")?;
    let kv_heads = f.uint_or("num_key_value_heads", Some(heads))?;
    if heads % kv_heads != 0 {
        return Err(InputError::new(
            "model.hf_config.num_key_value_heads",
            format!("must divide num_attention_heads ({heads})"),
        ));
    }
    let head_dim = f.uint_or("head_dim", Some(hidden / heads))?;
    // Qwen2 always has q/k/v biases; Llama and Mistral only with attention_bias.
    let qkv_bias = family == "qwen2" || f.bool_or("attention_bias", false)?;
    let mlp_bias = f.bool_or("mlp_bias", false)?;
    let tied = f.bool_or("tie_word_embeddings", false)?;
    let sliding = match family {
        "mistral" => f.opt_uint("sliding_window")?,
        "qwen2" => {
            if f.bool_or("use_sliding_window", false)? {
                f.opt_uint("sliding_window")?
            } else {
                None
            }
        }
        _ => None,
    };
    let mut notes = vec![format!("{family}: RMSNorm, rotary positions, SwiGLU MLP")];
    if kv_heads != heads {
        notes.push(format!(
            "grouped-query attention: {heads} query heads share {kv_heads} key/value heads"
        ));
    }
    notes.push(if tied {
        "tied input/output embeddings".into()
    } else {
        "untied output head".into()
    });
    if let Some(w) = sliding {
        notes.push(format!("sliding-window attention over {w} tokens"));
    }
    if qkv_bias {
        notes.push("q/k/v projections with bias".into());
    }
    let spec = TransformerSpec {
        layers: f.uint("num_hidden_layers")?,
        decoder_layers: 0,
        hidden,
        heads,
        kv_heads,
        head_dim,
        intermediate: f.uint("intermediate_size")?,
        vocab: f.uint("vocab_size")?,
        max_positions: f.uint_or("max_position_embeddings", Some(4096))?,
        mlp: MlpKind::GatedSwiglu,
        norm: NormKind::RmsNorm,
        position: PositionKind::Rotary,
        head: HeadKind::CausalLm,
        input: InputKind::Tokens,
        tied_embeddings: tied,
        type_vocab: 0,
        qkv_bias,
        out_bias: false,
        mlp_bias,
        fused_qkv: false,
        fused_gate_up: false,
        parallel_residual: false,
        moe: None,
        sliding_window: sliding,
        causal: true,
        dropout: f.float_or("attention_dropout", 0.0)?,
        ..TransformerSpec::base(family)
    };
    f.notes.extend(notes);
    Ok(spec)
}

/// Hidden size, layers and heads from the usual keys, every head with its own
/// key/value head (multi-head attention).
pub(super) fn mha_dims(c: &mut Cfg<'_>, s: &mut TransformerSpec) -> Result<(), InputError> {
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_attention_heads")?;
    s.head_dim = s.hidden / s.heads;
    Ok(())
}

pub(super) fn heads_check(hidden: u64, heads: u64, kv: u64, key: &str) -> Result<(), InputError> {
    if kv == 0 || !heads.is_multiple_of(kv) {
        return Err(InputError::new(
            format!("model.hf_config.{key}"),
            format!("{kv} key/value heads do not divide {heads} attention heads"),
        ));
    }
    if hidden == 0 {
        return Err(InputError::new(
            "model.hf_config.hidden_size",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// A decoder-only model of the Llama shape (RMSNorm, rotary, gated MLP), with
/// grouped-query attention read from `num_key_value_heads`.
pub(super) fn llama_like(
    c: &mut Cfg<'_>,
    family: &str,
    tie_default: bool,
) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base(family);
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    s.kv_heads = c.or(&["num_key_value_heads"], s.heads)?;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_key_value_heads")?;
    s.head_dim = c.or(&["head_dim"], s.hidden / s.heads)?;
    s.intermediate = c.req(&["intermediate_size"])?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 0)?;
    s.mlp = MlpKind::GatedSwiglu;
    s.norm = NormKind::RmsNorm;
    s.position = PositionKind::Rotary;
    s.tied_embeddings = c.bool("tie_word_embeddings", tie_default);
    s.qkv_bias = c.bool("attention_bias", false);
    s.out_bias = s.qkv_bias;
    s.mlp_bias = c.bool("mlp_bias", false);
    if s.kv_heads < s.heads {
        c.note(format!(
            "grouped-query attention: {} key/value heads for {} query heads",
            s.kv_heads, s.heads
        ));
    }
    if s.tied_embeddings {
        c.note("tied embeddings: the output head reuses the token embedding");
    }
    Ok(s)
}

pub(super) fn sliding(
    c: &mut Cfg<'_>,
    s: &mut TransformerSpec,
    key: &'static str,
) -> Result<(), InputError> {
    let w = c.opt_u64(key)?;
    if let Some(w) = w.filter(|&w| w > 0) {
        s.sliding_window = Some(w);
        c.note(format!(
            "sliding-window attention over {w} positions (applies to sequences longer than the window)"
        ));
    }
    Ok(())
}

pub(super) fn t5(c: &mut Cfg<'_>, family: &str) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base(family);
    s.hidden = c.req(&["d_model"])?;
    s.layers = c.req(&["num_layers"])?;
    s.decoder_layers = c.or(&["num_decoder_layers"], s.layers)?;
    s.heads = c.req(&["num_heads"])?;
    s.kv_heads = s.heads;
    s.head_dim = c.req(&["d_kv"])?;
    s.intermediate = c.req(&["d_ff"])?;
    s.vocab = c.req(&["vocab_size"])?;
    c.opt_u64("relative_attention_num_buckets")?;
    s.max_positions = c.or(&["n_positions"], 512)?;
    let ff = c.str("feed_forward_proj").unwrap_or("relu");
    s.mlp = if ff.starts_with("gated") {
        c.note(format!("gated feed-forward ({ff}): wi_0, wi_1 and wo"));
        MlpKind::GatedSwiglu
    } else {
        MlpKind::Dense
    };
    s.norm = NormKind::RmsNorm;
    s.position = PositionKind::Relative;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    s.causal = false;
    c.note(format!(
        "encoder-decoder: {} encoder layers (self-attention, bidirectional) and {} decoder layers (causal self-attention and cross-attention)",
        s.layers, s.decoder_layers
    ));
    c.note("relative position bias (one table per stack, in its first layer); no biases in projections");
    if s.tied_embeddings {
        c.note("tied embeddings: encoder, decoder and output head share one table");
    }
    Ok(s)
}

pub(super) fn falcon(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("falcon");
    s.hidden = c.req(&["hidden_size", "d_model"])?;
    s.layers = c.req(&["num_hidden_layers", "n_layer"])?;
    s.heads = c.req(&["num_attention_heads", "n_head"])?;
    let new_arch = c.bool("new_decoder_architecture", false);
    let multi_query = c.bool("multi_query", true);
    s.kv_heads = if new_arch {
        c.or(&["num_kv_heads", "n_head_kv"], s.heads)?
    } else if multi_query {
        1
    } else {
        s.heads
    };
    heads_check(s.hidden, s.heads, s.kv_heads, "num_kv_heads")?;
    s.head_dim = s.hidden / s.heads;
    s.intermediate = c.or(&["ffn_hidden_size"], 4 * s.hidden)?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 2048)?;
    s.norm = NormKind::LayerNorm;
    let alibi = c.bool("alibi", false);
    s.position = if alibi {
        PositionKind::Alibi
    } else {
        PositionKind::Rotary
    };
    let bias = c.bool("bias", false);
    s.qkv_bias = bias;
    s.out_bias = bias;
    s.mlp_bias = bias;
    s.fused_qkv = true;
    s.parallel_residual = new_arch || c.bool("parallel_attn", true);
    // the old architecture's parallel block has one input norm (ln_attn and ln_mlp came with the new one)
    s.parallel_shared_norm = s.parallel_residual && !new_arch;
    s.tied_embeddings = c.bool("tie_word_embeddings", true);
    if new_arch {
        c.note(format!(
            "new decoder architecture: grouped-query attention with {} key/value heads, separate layer norms for attention and MLP",
            s.kv_heads
        ));
    } else if multi_query {
        c.note("multi-query attention: one key/value head; one layer norm per layer");
    }
    if s.parallel_residual {
        c.note("parallel residual: attention and MLP read the same normalised input");
    }
    c.note("fused query-key-value projection");
    if alibi {
        c.note("ALiBi position bias");
    }
    if s.tied_embeddings {
        c.note("tied embeddings: the output head reuses the token embedding");
    }
    Ok(s)
}

pub(super) fn gpt_neox(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("gpt_neox");
    mha_dims(c, &mut s)?;
    s.intermediate = c.or(&["intermediate_size"], 4 * s.hidden)?;
    s.vocab = c.req(&["vocab_size"])?;
    s.max_positions = c.or(&["max_position_embeddings"], 2048)?;
    s.norm = NormKind::LayerNorm;
    s.position = PositionKind::Rotary;
    let bias = c.bool("attention_bias", true);
    s.qkv_bias = bias;
    s.out_bias = bias;
    s.mlp_bias = true;
    s.fused_qkv = true;
    s.parallel_residual = c.bool("use_parallel_residual", true);
    s.tied_embeddings = c.bool("tie_word_embeddings", false);
    // GPTNeoXConfig's default rotary_pct is 0.25
    let pct = c.fraction_or("rotary_pct", 0.25)?;
    s.rotary_fraction = pct;
    c.note(format!(
        "rotary embeddings on {:.0}% of each head",
        pct * 100.0
    ));
    c.note("fused query-key-value projection");
    if s.parallel_residual {
        c.note("parallel residual: attention and MLP read the layer's input, each through its own layer norm");
    }
    if s.tied_embeddings {
        c.note("tied embeddings: the output head reuses the token embedding");
    }
    Ok(s)
}

pub(super) fn vit(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = TransformerSpec::base("vit");
    mha_dims(c, &mut s)?;
    s.intermediate = c.req(&["intermediate_size"])?;
    let image = c.or(&["image_size"], 224)?;
    let patch = c.or(&["patch_size"], 16)?;
    let channels = c.or(&["num_channels"], 3)?;
    if patch == 0 || image < patch {
        return Err(InputError::new(
            "model.hf_config.patch_size",
            "must be between 1 and image_size",
        ));
    }
    s.input = InputKind::Patches {
        image,
        patch,
        channels,
    };
    s.max_positions = (image / patch) * (image / patch) + 1;
    s.vocab = 0;
    s.norm = NormKind::LayerNorm;
    s.position = PositionKind::Learned;
    s.qkv_bias = c.bool("qkv_bias", true);
    s.out_bias = true;
    s.mlp_bias = true;
    s.causal = false;
    let classes = c
        .raw("id2label")
        .and_then(Value::as_object)
        .map(|o| o.len() as u64)
        .filter(|&n| n > 0);
    let arch_is_classifier = c
        .raw("architectures")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|x| {
                x.as_str()
                    .is_some_and(|x| x.contains("ForImageClassification"))
            })
        });
    s.head = match (classes, arch_is_classifier) {
        (Some(n), true) => HeadKind::Classifier(n),
        (Some(n), false) if n != 2 => HeadKind::Classifier(n),
        _ => HeadKind::Pooler,
    };
    c.note(format!(
        "image input: {image}x{image}x{channels} in {patch}x{patch} patches, {} positions with the class token",
        s.max_positions
    ));
    match s.head {
        HeadKind::Classifier(n) => c.note(format!(
            "classification head over the class token: {n} classes (id2label)"
        )),
        _ => c.note("no classification head in the config: ViTModel with its pooler"),
    }
    Ok(s)
}

/// The families beyond gpt2, bert, llama, mistral and qwen2.
pub(super) fn extra(c: &mut Cfg<'_>, model_type: &str) -> Result<TransformerSpec, InputError> {
    let mut s = match model_type {
        "t5" | "mt5" => t5(c, model_type)?,
        "mixtral" => {
            let mut s = llama_like(c, "mixtral", false)?;
            let experts = c.req(&["num_local_experts"])?;
            let active = c.req(&["num_experts_per_tok"])?;
            if active > experts {
                return Err(InputError::new(
                    "model.hf_config.num_experts_per_tok",
                    format!("{active} active experts exceed the {experts} experts"),
                ));
            }
            s.moe = Some(Moe {
                experts,
                active,
                shared: 0,
                expert_intermediate: 0,
                shared_intermediate: 0,
                shared_gate: false,
                dense_layers: 0,
                expert_shards: 0,
            });
            c.note(format!(
                "mixture of experts: each token runs {active} of {experts} expert MLPs (a router per layer)"
            ));
            sliding(c, &mut s, "sliding_window")?;
            s
        }
        "phi3" => {
            let mut s = llama_like(c, "phi3", false)?;
            s.fused_qkv = true;
            s.fused_gate_up = true;
            c.note("fused qkv_proj and gate_up_proj");
            if c.raw("rope_scaling").is_some() {
                c.note("rope_scaling (long-context rotary) does not change the counts");
            }
            sliding(c, &mut s, "sliding_window")?;
            s
        }
        "gemma" | "gemma2" => {
            let mut s = llama_like(c, model_type, true)?;
            c.raw("hidden_act");
            c.raw("hidden_activation");
            c.note("GeGLU MLP (gated, tanh-approximated GELU); embeddings scaled by sqrt(hidden)");
            if model_type == "gemma2" {
                sliding(c, &mut s, "sliding_window")?;
                if s.sliding_window.is_some() {
                    c.note("gemma2 alternates local (sliding-window) and global attention layers");
                }
                c.note("four RMS norms per layer (before and after attention and MLP); logit soft-capping");
                c.raw("attn_logit_softcapping");
                c.raw("final_logit_softcapping");
                c.raw("query_pre_attn_scalar");
            }
            s
        }
        "falcon" => falcon(c)?,
        "gpt_neox" => gpt_neox(c)?,
        "vit" => vit(c)?,
        _ => {
            return Err(InputError::new(
                "model.hf_config.model_type",
                format!("unknown family {model_type}"),
            ))
        }
    };
    s.family = model_type.to_string();
    s.dropout = c.dropout(&[
        "dropout_rate",
        "attention_dropout",
        "hidden_dropout",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "resid_pdrop",
        "embd_pdrop",
    ]);
    Ok(s)
}
