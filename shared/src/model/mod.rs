//! Model library: architectures (presets, Hugging Face configs, imported
//! graphs) and their expansion into the ops of one step of a workload.

pub mod graph;
pub mod hf;

pub mod presets;

use serde::{Deserialize, Serialize};

/// A model as the estimator understands it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Architecture {
    Transformer(TransformerSpec),
    ResNet(ResNetSpec),
    /// An imported forward graph.
    Graph(graph::ForwardGraph),
    /// Only FLOPs and parameters are known: no op breakdown.
    Flops(FlopsOnly),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlpKind {
    /// fc -> activation -> proj (GPT-2, BERT, ViT, Falcon, GPT-NeoX).
    Dense,
    /// gate, up -> act(gate) * up -> down (Llama, Mistral, Qwen2, Gemma, Phi-3).
    GatedSwiglu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    LayerNorm,
    RmsNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    /// A learned position table added to the embeddings (GPT-2, BERT, ViT).
    Learned,
    /// Rotary embeddings applied to q and k in every layer.
    Rotary,
    /// Relative position bias (T5) or none.
    Relative,
}

/// What sits on top of the last layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// Vocabulary projection at every position (or the last one while generating).
    CausalLm,
    /// BERT's pooler: a hidden x hidden dense + tanh on the first token.
    Pooler,
    /// A classifier over the first token (ViT), with this many classes.
    Classifier(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Tokens,
    /// Image patches: a `patch` x `patch` convolution with stride `patch` over an `image`-sized input.
    Patches {
        image: u64,
        patch: u64,
        channels: u64,
    },
}

/// Mixture of experts: each token is routed to `active` of `experts` MLPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moe {
    pub experts: u64,
    pub active: u64,
}

/// A (decoder-only, encoder-only, or encoder-decoder) transformer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerSpec {
    pub family: String,
    pub layers: u64,
    /// Decoder layers of an encoder-decoder model (T5); 0 otherwise.
    pub decoder_layers: u64,
    pub hidden: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub intermediate: u64,
    pub vocab: u64,
    pub max_positions: u64,
    pub mlp: MlpKind,
    pub norm: NormKind,
    pub position: PositionKind,
    pub head: HeadKind,
    pub input: InputKind,
    pub tied_embeddings: bool,
    /// Token-type embeddings (BERT), rows.
    pub type_vocab: u64,
    pub qkv_bias: bool,
    pub out_bias: bool,
    pub mlp_bias: bool,
    /// q, k, v computed by one matmul (GPT-2's c_attn, Falcon, GPT-NeoX, Phi-3).
    pub fused_qkv: bool,
    /// gate and up computed by one matmul (Phi-3).
    pub fused_gate_up: bool,
    /// Attention and MLP read the same normalised input (Falcon, GPT-NeoX).
    pub parallel_residual: bool,
    pub moe: Option<Moe>,
    pub sliding_window: Option<u64>,
    /// Causal (decoder) self-attention.
    pub causal: bool,
    /// Dropout probability active in training (hidden and attention), 0 when none.
    #[serde(default)]
    pub dropout: f64,
    /// What the importer applied and ignored, for the reader.
    pub notes: Vec<String>,
}

/// torchvision ResNet (v1.5: stride in the 3x3 convolution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetSpec {
    pub name: String,
    /// Blocks per stage.
    pub blocks: [u64; 4],
    /// Bottleneck blocks (ResNet-50 and deeper) or basic blocks.
    pub bottleneck: bool,
    pub classes: u64,
}

/// A model known only by its counted FLOPs and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlopsOnly {
    /// Counted FLOPs of one forward pass of one sample, if given that way.
    pub flops_per_sample: Option<f64>,
    /// Counted FLOPs of one whole step, if given that way.
    pub flops_per_step: Option<f64>,
    pub params: f64,
}
