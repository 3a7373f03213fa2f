//! Hugging Face `config.json` to an architecture: families `gpt2`, `bert`,
//! `llama`, `mistral`, `qwen2` here; more in `crate::import::hf_extra`.

use super::{HeadKind, InputKind, MlpKind, NormKind, PositionKind, TransformerSpec};
use crate::InputError;
use serde_json::Value;
use std::collections::BTreeSet;

pub const FAMILIES: &[&str] = &["gpt2", "bert", "llama", "mistral", "qwen2"];

/// Reads fields of a config and remembers which ones it used.
pub(crate) struct Fields<'a> {
    cfg: &'a serde_json::Map<String, Value>,
    used: BTreeSet<String>,
    path: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(cfg: &'a Value, path: &'static str) -> Result<Self, InputError> {
        let cfg = cfg.as_object().ok_or_else(|| {
            InputError::new(path, "must be a JSON object (the contents of config.json)")
        })?;
        Ok(Fields {
            cfg,
            used: BTreeSet::new(),
            path,
        })
    }

    fn raw(&mut self, key: &str) -> Option<&'a Value> {
        self.used.insert(key.to_string());
        self.cfg.get(key).filter(|v| !v.is_null())
    }

    /// A positive integer field, or the default when absent or null.
    pub(crate) fn uint_or(&mut self, key: &str, default: Option<u64>) -> Result<u64, InputError> {
        let path = self.path;
        match self.raw(key) {
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(n),
                _ => Err(InputError::new(
                    format!("{path}.{key}"),
                    format!("must be a positive integer, got {v}"),
                )),
            },
            None => default.ok_or_else(|| {
                InputError::new(format!("{path}.{key}"), "is required for this model_type")
            }),
        }
    }

    pub(crate) fn uint(&mut self, key: &str) -> Result<u64, InputError> {
        self.uint_or(key, None)
    }

    pub(crate) fn opt_uint(&mut self, key: &str) -> Result<Option<u64>, InputError> {
        if self.raw(key).is_none() {
            return Ok(None);
        }
        self.uint(key).map(Some)
    }

    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, InputError> {
        let path = self.path;
        match self.raw(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(InputError::new(
                format!("{path}.{key}"),
                format!("must be true or false, got {v}"),
            )),
        }
    }

    pub(crate) fn float_or(&mut self, key: &str, default: f64) -> Result<f64, InputError> {
        let path = self.path;
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    InputError::new(
                        format!("{path}.{key}"),
                        format!("must be a finite number >= 0, got {v}"),
                    )
                }),
        }
    }

    pub(crate) fn str_or(&mut self, key: &str, default: &str) -> String {
        self.raw(key)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_string()
    }

    /// Notes: the fields used and the ones ignored.
    pub(crate) fn finish(self, mut notes: Vec<String>) -> Vec<String> {
        let ignored: Vec<&String> = self
            .cfg
            .keys()
            .filter(|k| !self.used.contains(*k))
            .collect();
        let used: Vec<&String> = self.cfg.keys().filter(|k| self.used.contains(*k)).collect();
        notes.push(format!("fields used: {}", join(&used)));
        if !ignored.is_empty() {
            notes.push(format!(
                "fields ignored (no effect on FLOPs or energy): {}",
                join(&ignored)
            ));
        }
        notes
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Parse a `config.json` object into a transformer spec.
pub fn spec_from_config(cfg: &Value) -> Result<TransformerSpec, InputError> {
    let path = "model.hf_config";
    let model_type = cfg
        .get("model_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            InputError::new(
                format!("{path}.model_type"),
                format!("is required; supported: {}", supported().join(", ")),
            )
        })?;
    match model_type {
        "gpt2" => gpt2(cfg),
        "bert" => bert(cfg),
        "llama" | "mistral" | "qwen2" => llama_like(model_type, cfg),
        other => crate::import::hf_extra::spec_from_extra_family(other, cfg).unwrap_or_else(|| {
            Err(InputError::new(
                format!("{path}.model_type"),
                format!("`{other}` is not supported; supported: {} and the families listed in docs/import.md", supported().join(", ")),
            ))
        }),
    }
}

/// The `model_type`s handled here (more in `crate::import::hf_extra`, see docs/import.md).
pub fn supported() -> Vec<&'static str> {
    FAMILIES.to_vec()
}

fn gpt2(cfg: &Value) -> Result<TransformerSpec, InputError> {
    let mut f = Fields::new(cfg, "model.hf_config")?;
    f.raw("model_type");
    let hidden = f.uint("n_embd")?;
    let heads = f.uint("n_head")?;
    let layers = f.uint("n_layer")?;
    let inner = f.uint_or("n_inner", Some(4 * hidden))?;
    let tied = f.bool_or("tie_word_embeddings", true)?;
    let spec = TransformerSpec {
        family: "gpt2".into(),
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
        notes: vec![],
    };
    let act = f.str_or("activation_function", "gelu_new");
    let notes = vec![
        format!("GPT-2 block: fused qkv (c_attn), {act} MLP, learned positions"),
        if tied {
            "tied input/output embeddings".into()
        } else {
            "untied output head".into()
        },
    ];
    Ok(TransformerSpec {
        notes: f.finish(notes),
        ..spec
    })
}

fn bert(cfg: &Value) -> Result<TransformerSpec, InputError> {
    let mut f = Fields::new(cfg, "model.hf_config")?;
    f.raw("model_type");
    let hidden = f.uint("hidden_size")?;
    let heads = f.uint("num_attention_heads")?;
    let spec = TransformerSpec {
        family: "bert".into(),
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
        notes: vec![],
    };
    let notes = vec![
        "BERT encoder (BertModel) with its pooler, post-norm, learned positions and token types"
            .into(),
    ];
    Ok(TransformerSpec {
        notes: f.finish(notes),
        ..spec
    })
}

fn llama_like(family: &str, cfg: &Value) -> Result<TransformerSpec, InputError> {
    let mut f = Fields::new(cfg, "model.hf_config")?;
    f.raw("model_type");
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
        family: family.into(),
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
        notes: vec![],
    };
    Ok(TransformerSpec {
        notes: f.finish(notes),
        ..spec
    })
}
