//! Built-in models by id. Transformer presets are the published `config.json`
//! values of each model, parsed by the same code as a user's config.

use super::{
    Architecture, HeadKind, InputKind, MlpKind, NormKind, PositionKind, ResNetSpec, TransformerSpec,
};
use serde_json::json;

pub struct Preset {
    pub id: &'static str,
    pub description: &'static str,
    /// Published parameter count, for the reader and the tests.
    pub published_params: &'static str,
}

impl Preset {
    /// The published parameter count as a number (`"8.03 B"` is 8.03e9).
    pub fn params(&self) -> f64 {
        let (v, unit) = self
            .published_params
            .split_once(' ')
            .unwrap_or((self.published_params, ""));
        let scale = match unit {
            "K" => 1e3,
            "M" => 1e6,
            "B" => 1e9,
            "T" => 1e12,
            _ => 1.0,
        };
        v.parse::<f64>().map_or(0.0, |x| x * scale)
    }

    /// Images in (torchvision ResNets and ViTs), rather than tokens.
    pub fn is_vision(&self) -> bool {
        self.id.starts_with("resnet") || self.id.starts_with("vit")
    }
}

pub static PRESETS: &[Preset] = &[
    Preset {
        id: "resnet18",
        description: "torchvision ResNet-18, 1000 classes",
        published_params: "11.7 M",
    },
    Preset {
        id: "resnet34",
        description: "torchvision ResNet-34, 1000 classes",
        published_params: "21.8 M",
    },
    Preset {
        id: "resnet50",
        description: "torchvision ResNet-50 (v1.5), 1000 classes",
        published_params: "25.6 M",
    },
    Preset {
        id: "resnet101",
        description: "torchvision ResNet-101, 1000 classes",
        published_params: "44.5 M",
    },
    Preset {
        id: "resnet152",
        description: "torchvision ResNet-152, 1000 classes",
        published_params: "60.2 M",
    },
    Preset {
        id: "vit_b_16",
        description: "torchvision ViT-B/16, 224x224, 1000 classes",
        published_params: "86.6 M",
    },
    Preset {
        id: "vit_l_16",
        description: "torchvision ViT-L/16, 224x224, 1000 classes",
        published_params: "304.3 M",
    },
    Preset {
        id: "bert-base",
        description: "BERT-base uncased encoder with pooler (BertModel)",
        published_params: "110 M",
    },
    Preset {
        id: "bert-large",
        description: "BERT-large uncased encoder with pooler (BertModel)",
        published_params: "340 M",
    },
    Preset {
        id: "gpt2",
        description: "GPT-2 small causal LM",
        published_params: "124 M",
    },
    Preset {
        id: "gpt2-medium",
        description: "GPT-2 medium causal LM",
        published_params: "355 M",
    },
    Preset {
        id: "gpt2-large",
        description: "GPT-2 large causal LM",
        published_params: "774 M",
    },
    Preset {
        id: "gpt2-xl",
        description: "GPT-2 XL causal LM",
        published_params: "1.5 B",
    },
    Preset {
        id: "llama-2-7b",
        description: "Llama 2 7B causal LM",
        published_params: "6.74 B",
    },
    Preset {
        id: "llama-2-13b",
        description: "Llama 2 13B causal LM",
        published_params: "13.0 B",
    },
    Preset {
        id: "llama-2-70b",
        description: "Llama 2 70B causal LM (GQA, 8 KV heads)",
        published_params: "69.0 B",
    },
    Preset {
        id: "llama-3-8b",
        description: "Llama 3 8B causal LM (GQA)",
        published_params: "8.03 B",
    },
    Preset {
        id: "llama-3-70b",
        description: "Llama 3 70B causal LM (GQA)",
        published_params: "70.6 B",
    },
    Preset {
        id: "mistral-7b",
        description: "Mistral 7B v0.1 causal LM (GQA, sliding window)",
        published_params: "7.24 B",
    },
];

/// The `config.json` of a transformer preset (values from the models' published configs).
pub fn hf_config(id: &str) -> Option<serde_json::Value> {
    let gpt2 = |l: u64, h: u64, n: u64| json!({"model_type": "gpt2", "n_layer": l, "n_embd": h, "n_head": n, "vocab_size": 50257, "n_positions": 1024, "tie_word_embeddings": true});
    let bert = |l: u64, h: u64, n: u64| json!({"model_type": "bert", "num_hidden_layers": l, "hidden_size": h, "num_attention_heads": n, "intermediate_size": 4 * h, "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2});
    let llama = |h: u64, i: u64, l: u64, n: u64, kv: u64, v: u64, pos: u64| json!({"model_type": "llama", "hidden_size": h, "intermediate_size": i, "num_hidden_layers": l, "num_attention_heads": n, "num_key_value_heads": kv, "vocab_size": v, "max_position_embeddings": pos, "tie_word_embeddings": false});
    Some(match id {
        "bert-base" => bert(12, 768, 12),
        "bert-large" => bert(24, 1024, 16),
        "gpt2" => gpt2(12, 768, 12),
        "gpt2-medium" => gpt2(24, 1024, 16),
        "gpt2-large" => gpt2(36, 1280, 20),
        "gpt2-xl" => gpt2(48, 1600, 25),
        "llama-2-7b" => llama(4096, 11008, 32, 32, 32, 32000, 4096),
        "llama-2-13b" => llama(5120, 13824, 40, 40, 40, 32000, 4096),
        "llama-2-70b" => llama(8192, 28672, 80, 64, 8, 32000, 4096),
        "llama-3-8b" => llama(4096, 14336, 32, 32, 8, 128256, 8192),
        "llama-3-70b" => llama(8192, 28672, 80, 64, 8, 128256, 8192),
        "mistral-7b" => {
            json!({"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 32768, "sliding_window": 4096, "tie_word_embeddings": false})
        }
        _ => return None,
    })
}

/// torchvision's VisionTransformer (pre-norm encoder, class token, fused in-projection).
fn vit(layers: u64, hidden: u64, heads: u64, mlp: u64) -> TransformerSpec {
    TransformerSpec {
        layers,
        decoder_layers: 0,
        hidden,
        heads,
        kv_heads: heads,
        head_dim: hidden / heads,
        intermediate: mlp,
        vocab: 0,
        max_positions: 197,
        mlp: MlpKind::Dense,
        norm: NormKind::LayerNorm,
        position: PositionKind::Learned,
        head: HeadKind::Classifier(1000),
        input: InputKind::Patches {
            image: 224,
            patch: 16,
            channels: 3,
        },
        tied_embeddings: false,
        type_vocab: 0,
        qkv_bias: true,
        out_bias: true,
        mlp_bias: true,
        fused_qkv: true,
        fused_gate_up: false,
        parallel_residual: false,
        moe: None,
        sliding_window: None,
        causal: false,
        dropout: 0.0,
        notes: vec![
            "torchvision VisionTransformer: 16x16 patches, class token, pre-norm, GELU MLP".into(),
        ],
        ..TransformerSpec::base("vit-torchvision")
    }
}

pub fn architecture(id: &str) -> Option<Architecture> {
    let resnet = |name: &str, blocks: [u64; 4], bottleneck: bool| {
        Architecture::ResNet(ResNetSpec {
            name: name.into(),
            blocks,
            bottleneck,
            classes: 1000,
        })
    };
    match id {
        "resnet18" => Some(resnet(id, [2, 2, 2, 2], false)),
        "resnet34" => Some(resnet(id, [3, 4, 6, 3], false)),
        "resnet50" => Some(resnet(id, [3, 4, 6, 3], true)),
        "resnet101" => Some(resnet(id, [3, 4, 23, 3], true)),
        "resnet152" => Some(resnet(id, [3, 8, 36, 3], true)),
        "vit_b_16" => Some(Architecture::Transformer(vit(12, 768, 12, 3072))),
        "vit_l_16" => Some(Architecture::Transformer(vit(24, 1024, 16, 4096))),
        _ => hf_config(id)
            .and_then(|c| super::hf::spec_from_config(&c).ok())
            .map(Architecture::Transformer),
    }
}
