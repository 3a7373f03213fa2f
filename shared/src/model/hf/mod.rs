//! Hugging Face `config.json` to an architecture: one reader for every family
//! (`families`), which remembers the fields it used and ignored.

mod decoders;
mod families;

use super::{HeadKind, InputKind, MlpKind, NormPlacement, PositionKind, TransformerSpec};
use crate::InputError;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every `model_type` the reader knows (docs/import.md).
pub const FAMILIES: &[&str] = &[
    "gpt2", "bert", "llama", "mistral", "qwen2", "t5", "mt5", "mixtral", "phi3", "gemma", "gemma2",
    "falcon", "gpt_neox", "vit",
];

/// The `model_type`s the reader knows (an unknown one with the Llama-shape
/// fields is read as a Llama-shaped decoder, with a warning).
pub fn supported() -> Vec<&'static str> {
    FAMILIES.iter().chain(decoders::DECODERS).copied().collect()
}

/// Parse a `config.json` object into a transformer spec.
pub fn spec_from_config(cfg: &Value) -> Result<TransformerSpec, InputError> {
    let path = "model.hf_config";
    let obj = cfg.as_object().ok_or_else(|| {
        InputError::new(path, "must be a JSON object (the contents of config.json)")
    })?;
    let model_type = obj
        .get("model_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            InputError::new(
                format!("{path}.model_type"),
                format!("is required; supported: {}", supported().join(", ")),
            )
        })?;
    let mut c = Cfg {
        v: obj,
        used: BTreeSet::new(),
        notes: Vec::new(),
    };
    let mut s = match model_type {
        "gpt2" => families::gpt2(&mut c)?,
        "bert" => families::bert(&mut c)?,
        "llama" | "mistral" | "qwen2" => families::llama_mistral_qwen2(&mut c, model_type)?,
        other if FAMILIES.contains(&other) => families::extra(&mut c, other)?,
        other if decoders::DECODERS.contains(&other) => decoders::decoder(&mut c, other)?,
        other => match decoders::llama_shaped(&mut c, other)? {
            Some(s) => s,
            None => {
                return Err(InputError::new(
                    format!("{path}.model_type"),
                    format!(
                        "`{other}` is not supported; supported: {} (or any config with the Llama-shape fields {}, read as a Llama-shaped decoder)",
                        supported().join(", "),
                        decoders::LLAMA_SHAPE.join(", ")
                    ),
                ))
            }
        },
    };
    c.finish(&mut s);
    Ok(s)
}

/// The largest integer a config field may hold: above every size a published
/// model has (Llama 4 Scout's 10,485,760 positions are the largest seen), and
/// low enough that a model built from it is planned in well under a second
/// (a config with 1e308 layers made the planner run for ever).
const MAX_CONFIG_INT: u64 = 1 << 24;

fn too_large(key: &str) -> InputError {
    InputError::new(
        format!("model.hf_config.{key}"),
        format!("must be at most {MAX_CONFIG_INT}: check the config"),
    )
}

/// Reads fields of a config and remembers which ones it used.
struct Cfg<'a> {
    v: &'a serde_json::Map<String, Value>,
    used: BTreeSet<String>,
    notes: Vec<String>,
}

impl<'a> Cfg<'a> {
    fn field(key: &str) -> String {
        format!("model.hf_config.{key}")
    }

    fn raw(&mut self, key: &str) -> Option<&'a Value> {
        let v = self.v.get(key).filter(|v| !v.is_null());
        if v.is_some() {
            self.used.insert(key.to_string());
        }
        v
    }

    /// A positive integer field, or the default when absent or null.
    fn uint_or(&mut self, key: &str, default: Option<u64>) -> Result<u64, InputError> {
        match self.raw(key) {
            Some(v) => match v.as_u64() {
                Some(n) if n > MAX_CONFIG_INT => Err(too_large(key)),
                Some(n) if n > 0 => Ok(n),
                _ => Err(InputError::new(
                    Self::field(key),
                    format!("must be a positive integer, got {v}"),
                )),
            },
            None => default.ok_or_else(|| {
                InputError::new(Self::field(key), "is required for this model_type")
            }),
        }
    }

    fn uint(&mut self, key: &str) -> Result<u64, InputError> {
        self.uint_or(key, None)
    }

    fn opt_uint(&mut self, key: &str) -> Result<Option<u64>, InputError> {
        if self.v.get(key).filter(|v| !v.is_null()).is_none() {
            return Ok(None);
        }
        self.uint(key).map(Some)
    }

    /// A boolean field; anything but true/false is an error.
    fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, InputError> {
        match self.raw(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(InputError::new(
                Self::field(key),
                format!("must be true or false, got {v}"),
            )),
        }
    }

    fn float_or(&mut self, key: &str, default: f64) -> Result<f64, InputError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    InputError::new(
                        Self::field(key),
                        format!("must be a finite number >= 0, got {v}"),
                    )
                }),
        }
    }

    /// A share between 0 and 1 (`rotary_pct`, `partial_rotary_factor`), when present.
    fn fraction_or(&mut self, key: &str, default: f64) -> Result<f64, InputError> {
        let v = self.float_or(key, default)?;
        if v > 1.0 {
            return Err(InputError::new(
                Self::field(key),
                format!("is a share of each head and must be at most 1, got {v}"),
            ));
        }
        Ok(v)
    }

    fn str_or(&mut self, key: &str, default: &str) -> String {
        self.str(key).unwrap_or(default).to_string()
    }

    /// A non-negative integer (also written as `4096.0`), when present.
    fn opt_u64(&mut self, key: &str) -> Result<Option<u64>, InputError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| InputError::new(Self::field(key), "must be a non-negative integer"))
                .and_then(|n| {
                    if n > MAX_CONFIG_INT {
                        Err(too_large(key))
                    } else {
                        Ok(Some(n))
                    }
                }),
        }
    }

    /// The first of `keys` present (families rename fields: `n_head` / `num_attention_heads`).
    fn u64_any(&mut self, keys: &[&str]) -> Result<Option<u64>, InputError> {
        for k in keys {
            if let Some(v) = self.opt_u64(k)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn req(&mut self, keys: &[&str]) -> Result<u64, InputError> {
        let v = self.u64_any(keys)?.ok_or_else(|| {
            InputError::new(Self::field(keys[0]), "is required for this model_type")
        })?;
        if v == 0 {
            return Err(InputError::new(Self::field(keys[0]), "must be at least 1"));
        }
        Ok(v)
    }

    fn or(&mut self, keys: &[&str], default: u64) -> Result<u64, InputError> {
        Ok(self.u64_any(keys)?.unwrap_or(default))
    }

    /// A boolean field; other values read as the default.
    fn bool(&mut self, key: &str, default: bool) -> bool {
        self.raw(key).and_then(Value::as_bool).unwrap_or(default)
    }

    fn str(&mut self, key: &str) -> Option<&'a str> {
        self.raw(key).and_then(Value::as_str)
    }

    /// The largest of the dropout probabilities present (training only).
    fn dropout(&mut self, keys: &[&str]) -> f64 {
        keys.iter()
            .filter_map(|k| self.raw(k).and_then(Value::as_f64))
            .fold(0.0, f64::max)
            .clamp(0.0, 1.0)
    }

    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// The spec's notes: the fields used and ignored, then what the family applied.
    fn finish(mut self, spec: &mut TransformerSpec) {
        self.used.insert("model_type".into());
        let used: Vec<&str> = self
            .v
            .keys()
            .filter(|k| self.used.contains(*k))
            .map(|k| k.as_str())
            .collect();
        let ignored: Vec<&str> = self
            .v
            .keys()
            .filter(|k| !self.used.contains(*k))
            .map(|k| k.as_str())
            .collect();
        let mut notes = vec![format!("fields used: {}", used.join(", "))];
        if !ignored.is_empty() {
            notes.push(format!(
                "fields ignored (no effect on FLOPs or energy): {}",
                ignored.join(", ")
            ));
        }
        notes.append(&mut self.notes);
        spec.notes = notes;
    }
}

/// Parameters of a spec: `(total, active per token)` (they differ for mixtures of
/// experts). Counts what `model.parameters()` counts in the Hugging Face module
/// (tied tables once, norms with their biases, no buffers).
pub fn spec_params(s: &TransformerSpec) -> (f64, f64) {
    let f = |x: u64| x as f64;
    let h = f(s.hidden);
    let q = f(s.heads) * f(s.head_dim);
    let kv = f(s.kv_heads) * f(s.head_dim);
    let norm = s.norm_weights(s.hidden);
    let attn = |s: &TransformerSpec| {
        if let Some(m) = &s.mla {
            return s.mla_weights(m);
        }
        let mut p = h * q + 2.0 * h * kv + q * h;
        if s.qkv_bias {
            p += q + 2.0 * kv;
        }
        if s.out_bias {
            p += h;
        }
        p + s.qk_norm_weights()
    };
    let mlp_of = |i: f64| match s.mlp {
        MlpKind::Dense => 2.0 * h * i + if s.mlp_bias { i + h } else { 0.0 },
        MlpKind::GatedSwiglu => 3.0 * h * i + if s.mlp_bias { 2.0 * i + h } else { 0.0 },
    };
    let mlp = mlp_of(f(s.intermediate));
    let norms_per_layer = match s.family.as_str() {
        "gemma2" => 4.0,
        "falcon"
            if s.parallel_residual && !s.notes.iter().any(|n| n.starts_with("new decoder")) =>
        {
            1.0
        }
        _ if s.parallel_residual && s.parallel_shared_norm => 1.0,
        _ => 2.0,
    };
    let (mlp_total, mlp_active, router) = match s.moe {
        Some(m) => {
            let expert = mlp_of(f(m.expert_width(s.intermediate)));
            // the shared experts run as one MLP of `shared x width`
            let shared = if m.shared > 0 {
                mlp_of(f(m.shared) * f(m.shared_width(s.intermediate)))
            } else {
                0.0
            } + if m.shared_gate { h } else { 0.0 };
            (
                f(m.experts) * expert + shared,
                f(m.active) * expert + shared,
                h * f(m.experts),
            )
        }
        None => (mlp, mlp, 0.0),
    };
    // layers with a dense MLP in a mixture of experts (DeepSeek's first layers)
    let dense = f(s.moe.map_or(0, |m| m.dense_layers.min(s.layers)));
    let layer_base = attn(s) + norms_per_layer * norm + router;
    let dense_layer = attn(s) + norms_per_layer * norm + mlp;
    let mut total = (f(s.layers) - dense) * (layer_base + mlp_total) + dense * dense_layer;
    let mut active = (f(s.layers) - dense) * (layer_base + mlp_active) + dense * dense_layer;
    // Decoder layers of an encoder-decoder model: self- and cross-attention, 3 norms.
    let dec = f(s.decoder_layers) * (2.0 * attn(s) + mlp + 3.0 * norm);
    total += dec;
    active += dec;
    let mut emb = f(s.vocab) * h + f(s.type_vocab) * h;
    match s.input {
        InputKind::Tokens => {
            if s.position == PositionKind::Learned {
                emb += f(s.max_positions + s.position_offset) * h;
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
    if s.norm_placement != NormPlacement::Post {
        emb += stacks * norm; // final norm(s); post-norm models have none
    }
    if s.embed_norm {
        emb += norm;
    }
    let head = match s.head {
        HeadKind::CausalLm if s.tied_embeddings => 0.0,
        HeadKind::CausalLm => f(s.vocab) * h,
        HeadKind::Pooler => h * h + h,
        HeadKind::Classifier(n) => h * f(n) + f(n),
    } + if s.head_bias && s.head == HeadKind::CausalLm {
        f(s.vocab)
    } else {
        0.0
    };
    (total + emb + head, active + emb + head)
}
