//! Hugging Face `config.json` -> [`TransformerSpec`] for the families beyond the
//! core ones (`model::hf` handles gpt2, bert, llama, mistral, qwen2 and calls
//! [`spec_from_extra_family`] for the rest): t5, mixtral, phi3, gemma, gemma2,
//! falcon, gpt_neox, vit.
//!
//! Every spec lists in `notes` the config fields it used, the ones it ignored, and
//! the family behaviour applied (grouped-query attention, tied embeddings, sliding
//! window, mixture of experts, parallel residual, fused projections).

use crate::model::{HeadKind, InputKind, MlpKind, Moe, NormKind, PositionKind, TransformerSpec};
use crate::InputError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The families this module knows.
pub const EXTRA_FAMILIES: &[&str] = &[
    "t5", "mt5", "mixtral", "phi3", "gemma", "gemma2", "falcon", "gpt_neox", "vit",
];

/// Reads a config, remembering which fields were used.
struct Cfg<'a> {
    v: &'a Value,
    used: BTreeSet<&'static str>,
    notes: Vec<String>,
}

impl<'a> Cfg<'a> {
    fn field(key: &str) -> String {
        format!("model.hf_config.{key}")
    }
    fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        let v = self.v.get(key).filter(|v| !v.is_null());
        if v.is_some() {
            self.used.insert(key);
        }
        v
    }
    fn opt_u64(&mut self, key: &'static str) -> Result<Option<u64>, InputError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .map(Some)
                .ok_or_else(|| InputError::new(Self::field(key), "must be a non-negative integer")),
        }
    }
    /// The first of `keys` present (families rename fields: `n_head` / `num_attention_heads`).
    fn u64_any(&mut self, keys: &[&'static str]) -> Result<Option<u64>, InputError> {
        for k in keys {
            if let Some(v) = self.opt_u64(k)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
    fn req(&mut self, keys: &[&'static str]) -> Result<u64, InputError> {
        let v = self.u64_any(keys)?.ok_or_else(|| {
            InputError::new(Self::field(keys[0]), "is required for this model_type")
        })?;
        if v == 0 {
            return Err(InputError::new(Self::field(keys[0]), "must be at least 1"));
        }
        Ok(v)
    }
    fn or(&mut self, keys: &[&'static str], default: u64) -> Result<u64, InputError> {
        Ok(self.u64_any(keys)?.unwrap_or(default))
    }
    fn bool(&mut self, key: &'static str, default: bool) -> bool {
        self.raw(key).and_then(Value::as_bool).unwrap_or(default)
    }
    fn str(&mut self, key: &'static str) -> Option<&'a str> {
        self.raw(key).and_then(Value::as_str)
    }
    /// The largest of the dropout probabilities present (training only).
    fn dropout(&mut self, keys: &[&'static str]) -> f64 {
        keys.iter()
            .filter_map(|k| self.raw(k).and_then(Value::as_f64))
            .fold(0.0, f64::max)
            .clamp(0.0, 1.0)
    }
    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }
    fn finish(mut self, spec: &mut TransformerSpec) {
        self.used.insert("model_type");
        let used: Vec<&str> = self.used.iter().copied().collect();
        let ignored: Vec<String> = self
            .v
            .as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| !self.used.contains(k.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.notes
            .insert(0, format!("fields used: {}", used.join(", ")));
        if !ignored.is_empty() {
            self.notes
                .insert(1, format!("fields ignored: {}", ignored.join(", ")));
        }
        spec.notes = self.notes;
    }
}

fn heads_check(hidden: u64, heads: u64, kv: u64, key: &str) -> Result<(), InputError> {
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

fn base(family: &str) -> TransformerSpec {
    TransformerSpec {
        family: family.to_string(),
        layers: 0,
        decoder_layers: 0,
        hidden: 0,
        heads: 0,
        kv_heads: 0,
        head_dim: 0,
        intermediate: 0,
        vocab: 0,
        max_positions: 0,
        mlp: MlpKind::Dense,
        norm: NormKind::LayerNorm,
        position: PositionKind::Rotary,
        head: HeadKind::CausalLm,
        input: InputKind::Tokens,
        tied_embeddings: false,
        type_vocab: 0,
        qkv_bias: false,
        out_bias: false,
        mlp_bias: false,
        fused_qkv: false,
        fused_gate_up: false,
        parallel_residual: false,
        moe: None,
        sliding_window: None,
        causal: true,
        dropout: 0.0,
        notes: Vec::new(),
    }
}

/// A decoder-only model of the Llama shape (RMSNorm, rotary, gated MLP), with
/// grouped-query attention read from `num_key_value_heads`.
fn llama_like(
    c: &mut Cfg<'_>,
    family: &str,
    tie_default: bool,
) -> Result<TransformerSpec, InputError> {
    let mut s = base(family);
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

fn sliding(c: &mut Cfg<'_>, s: &mut TransformerSpec, key: &'static str) -> Result<(), InputError> {
    let w = c.opt_u64(key)?;
    if let Some(w) = w.filter(|&w| w > 0) {
        s.sliding_window = Some(w);
        c.note(format!(
            "sliding-window attention over {w} positions (applies to sequences longer than the window)"
        ));
    }
    Ok(())
}

fn t5(c: &mut Cfg<'_>, family: &str) -> Result<TransformerSpec, InputError> {
    let mut s = base(family);
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

fn falcon(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = base("falcon");
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
        PositionKind::Relative
    } else {
        PositionKind::Rotary
    };
    let bias = c.bool("bias", false);
    s.qkv_bias = bias;
    s.out_bias = bias;
    s.mlp_bias = bias;
    s.fused_qkv = true;
    s.parallel_residual = new_arch || c.bool("parallel_attn", true);
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

fn gpt_neox(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = base("gpt_neox");
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_attention_heads")?;
    s.head_dim = s.hidden / s.heads;
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
    if let Some(p) = c.raw("rotary_pct").and_then(Value::as_f64) {
        c.note(format!(
            "rotary embeddings on {:.0}% of each head",
            p * 100.0
        ));
    }
    c.note("fused query-key-value projection");
    if s.parallel_residual {
        c.note("parallel residual: attention and MLP read the layer's input, each through its own layer norm");
    }
    if s.tied_embeddings {
        c.note("tied embeddings: the output head reuses the token embedding");
    }
    Ok(s)
}

fn vit(c: &mut Cfg<'_>) -> Result<TransformerSpec, InputError> {
    let mut s = base("vit");
    s.hidden = c.req(&["hidden_size"])?;
    s.layers = c.req(&["num_hidden_layers"])?;
    s.heads = c.req(&["num_attention_heads"])?;
    s.kv_heads = s.heads;
    heads_check(s.hidden, s.heads, s.kv_heads, "num_attention_heads")?;
    s.head_dim = s.hidden / s.heads;
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

/// `config.json` of a family beyond the core ones -> a transformer spec.
/// `None` when `model_type` is not one of [`EXTRA_FAMILIES`].
pub fn spec_from_extra_family(
    model_type: &str,
    cfg: &Value,
) -> Option<Result<TransformerSpec, InputError>> {
    if !EXTRA_FAMILIES.contains(&model_type) {
        return None;
    }
    let mut c = Cfg {
        v: cfg,
        used: BTreeSet::new(),
        notes: Vec::new(),
    };
    let r = (|| -> Result<TransformerSpec, InputError> {
        let mut s = match model_type {
            "t5" | "mt5" => t5(&mut c, model_type)?,
            "mixtral" => {
                let mut s = llama_like(&mut c, "mixtral", false)?;
                let experts = c.req(&["num_local_experts"])?;
                let active = c.req(&["num_experts_per_tok"])?;
                if active > experts {
                    return Err(InputError::new(
                        "model.hf_config.num_experts_per_tok",
                        format!("{active} active experts exceed the {experts} experts"),
                    ));
                }
                s.moe = Some(Moe { experts, active });
                c.note(format!(
                    "mixture of experts: each token runs {active} of {experts} expert MLPs (a router per layer)"
                ));
                sliding(&mut c, &mut s, "sliding_window")?;
                s
            }
            "phi3" => {
                let mut s = llama_like(&mut c, "phi3", false)?;
                s.fused_qkv = true;
                s.fused_gate_up = true;
                c.note("fused qkv_proj and gate_up_proj");
                if c.raw("rope_scaling").is_some() {
                    c.note("rope_scaling (long-context rotary) does not change the counts");
                }
                sliding(&mut c, &mut s, "sliding_window")?;
                s
            }
            "gemma" | "gemma2" => {
                let mut s = llama_like(&mut c, model_type, true)?;
                c.raw("hidden_act");
                c.raw("hidden_activation");
                c.note(
                    "GeGLU MLP (gated, tanh-approximated GELU); embeddings scaled by sqrt(hidden)",
                );
                if model_type == "gemma2" {
                    sliding(&mut c, &mut s, "sliding_window")?;
                    if s.sliding_window.is_some() {
                        c.note(
                            "gemma2 alternates local (sliding-window) and global attention layers",
                        );
                    }
                    c.note("four RMS norms per layer (before and after attention and MLP); logit soft-capping");
                    c.raw("attn_logit_softcapping");
                    c.raw("final_logit_softcapping");
                    c.raw("query_pre_attn_scalar");
                }
                s
            }
            "falcon" => falcon(&mut c)?,
            "gpt_neox" => gpt_neox(&mut c)?,
            "vit" => vit(&mut c)?,
            _ => unreachable_family(model_type)?,
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
    })();
    Some(r.map(|mut s| {
        c.finish(&mut s);
        s
    }))
}

fn unreachable_family(t: &str) -> Result<TransformerSpec, InputError> {
    Err(InputError::new(
        "model.hf_config.model_type",
        format!("unknown family {t}"),
    ))
}

/// Parameters of a spec: `(total, active per token)` (they differ for mixtures of
/// experts). Counts what `model.parameters()` counts in the Hugging Face module
/// (tied tables once, norms with their biases, no buffers).
pub fn spec_params(s: &TransformerSpec) -> (f64, f64) {
    let f = |x: u64| x as f64;
    let h = f(s.hidden);
    let q = f(s.heads) * f(s.head_dim);
    let kv = f(s.kv_heads) * f(s.head_dim);
    let norm = match s.norm {
        NormKind::LayerNorm => 2.0 * h,
        NormKind::RmsNorm => h,
    };
    let attn = |s: &TransformerSpec| {
        let mut p = h * q + 2.0 * h * kv + q * h;
        if s.qkv_bias {
            p += q + 2.0 * kv;
        }
        if s.out_bias {
            p += h;
        }
        p
    };
    let i = f(s.intermediate);
    let mlp = match s.mlp {
        MlpKind::Dense => 2.0 * h * i + if s.mlp_bias { i + h } else { 0.0 },
        MlpKind::GatedSwiglu => 3.0 * h * i + if s.mlp_bias { 2.0 * i + h } else { 0.0 },
    };
    let norms_per_layer = match s.family.as_str() {
        "gemma2" => 4.0,
        "falcon"
            if s.parallel_residual && !s.notes.iter().any(|n| n.starts_with("new decoder")) =>
        {
            1.0
        }
        _ => 2.0,
    };
    let (mlp_total, mlp_active, router) = match s.moe {
        Some(m) => (f(m.experts) * mlp, f(m.active) * mlp, h * f(m.experts)),
        None => (mlp, mlp, 0.0),
    };
    let layer_base = attn(s) + norms_per_layer * norm + router;
    let mut total = f(s.layers) * (layer_base + mlp_total);
    let mut active = f(s.layers) * (layer_base + mlp_active);
    // Decoder layers of an encoder-decoder model: self- and cross-attention, 3 norms.
    let dec = f(s.decoder_layers) * (2.0 * attn(s) + mlp + 3.0 * norm);
    total += dec;
    active += dec;
    let mut emb = f(s.vocab) * h + f(s.type_vocab) * h;
    match s.input {
        InputKind::Tokens => {
            if s.position == PositionKind::Learned {
                emb += f(s.max_positions) * h;
            }
        }
        InputKind::Patches {
            image: _,
            patch,
            channels,
        } => {
            emb += f(channels) * f(patch) * f(patch) * h + h; // patch conv + bias
            emb += h + f(s.max_positions) * h; // class token, positions
        }
    }
    if s.position == PositionKind::Relative && s.family.contains("t5") {
        // One relative-bias table (32 buckets by default) per stack.
        emb += 2.0 * 32.0 * f(s.heads);
    }
    let stacks = if s.decoder_layers > 0 { 2.0 } else { 1.0 };
    emb += stacks * norm; // final norm(s)
    let head = match s.head {
        HeadKind::CausalLm if s.tied_embeddings => 0.0,
        HeadKind::CausalLm => f(s.vocab) * h,
        HeadKind::Pooler => h * h + h,
        HeadKind::Classifier(n) => h * f(n) + f(n),
    };
    (total + emb + head, active + emb + head)
}
