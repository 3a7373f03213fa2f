//! Model library: architectures (presets, Hugging Face configs, imported
//! graphs) and their expansion into the ops of one step of a workload.

pub mod graph;
pub mod hf;

pub mod presets;

use serde::{Deserialize, Serialize};

/// A model as the estimator understands it.
// One per scenario, never in bulk: the transformer variant's size costs nothing
// worth a Box at every construction site.
#[allow(clippy::large_enum_variant)]
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
    /// ALiBi: a per-head linear bias added to the attention scores, no
    /// position table and no rotary kernels (BLOOM, MPT, Falcon-RW).
    Alibi,
}

/// Where the layer norms of a block sit (when they change the kernels or the
/// parameters; Gemma 2's four norms are keyed on its family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// Before attention and before the MLP, plus a final norm (GPT-2, Llama).
    #[default]
    Pre,
    /// After each residual add, no final norm (BERT, RoBERTa).
    Post,
    /// On the attention and MLP outputs before their residual add, no input
    /// norms (OLMo 2).
    PostBranch,
}

/// The learned parameters of each norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormAffine {
    /// LayerNorm: weight and bias; RMSNorm: weight.
    #[default]
    Full,
    /// Weight only, no bias (MPT, Cohere).
    WeightOnly,
    /// No parameters (OLMo's non-parametric LayerNorm).
    None,
}

/// Which weights a QK-norm has (its kernels are the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkNormScope {
    /// One weight of `head_dim` shared by every head (Qwen3, Gemma 3).
    #[default]
    Head,
    /// A weight for every channel of every head: `heads * head_dim` for q,
    /// `kv_heads * head_dim` for k (OLMo 2, Cohere, StableLM).
    AllHeads,
}

/// Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values go
/// through low-rank projections; the heads split into a rotary and a
/// non-rotary part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mla {
    /// Rank of the query down-projection; `None`: one full query projection.
    pub q_lora_rank: Option<u64>,
    /// Rank of the joint key/value latent (what a latent cache stores).
    pub kv_lora_rank: u64,
    /// Rotary part of each query/key head (the key's is shared by all heads).
    pub qk_rope_head_dim: u64,
    /// Non-rotary part of each query/key head.
    pub qk_nope_head_dim: u64,
    pub v_head_dim: u64,
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

/// Mixture of experts: each token is routed to `active` of `experts` MLPs,
/// and runs the `shared` experts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moe {
    pub experts: u64,
    pub active: u64,
    /// Experts every token runs (DeepSeek, Qwen2-MoE), 0 when none.
    #[serde(default)]
    pub shared: u64,
    /// Intermediate size of a routed expert; 0: the spec's `intermediate`.
    #[serde(default)]
    pub expert_intermediate: u64,
    /// Intermediate size of one shared expert; 0: `expert_intermediate`.
    #[serde(default)]
    pub shared_intermediate: u64,
    /// A sigmoid gate (hidden -> 1) scales the shared expert's output (Qwen2-MoE).
    #[serde(default)]
    pub shared_gate: bool,
    /// Layers with a dense MLP of the spec's `intermediate` instead of experts
    /// (DeepSeek's `first_k_dense_replace`, Qwen's `mlp_only_layers`).
    #[serde(default)]
    pub dense_layers: u64,
    /// Devices the routed experts are split over in one device's plan (expert
    /// parallelism, set by the training strategy, never by a config); 0 or 1:
    /// every expert on every device.
    #[serde(default, skip_serializing_if = "at_most_one")]
    pub expert_shards: u64,
}

fn at_most_one(n: &u64) -> bool {
    *n <= 1
}

impl Moe {
    /// Routed experts one device holds.
    pub fn local_experts(&self) -> u64 {
        self.experts / self.expert_shards.max(1)
    }
    /// Intermediate size of a routed expert.
    pub fn expert_width(&self, dense: u64) -> u64 {
        if self.expert_intermediate > 0 {
            self.expert_intermediate
        } else {
            dense
        }
    }
    /// Intermediate size of one shared expert.
    pub fn shared_width(&self, dense: u64) -> u64 {
        if self.shared_intermediate > 0 {
            self.shared_intermediate
        } else {
            self.expert_width(dense)
        }
    }
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
    /// A norm over each head's queries and keys before attention (Qwen3, OLMo 2, Cohere).
    #[serde(default)]
    pub qk_norm: Option<NormKind>,
    #[serde(default)]
    pub qk_norm_scope: QkNormScope,
    #[serde(default)]
    pub norm_placement: NormPlacement,
    #[serde(default)]
    pub norm_affine: NormAffine,
    /// With `parallel_residual`: one input norm feeds attention and MLP
    /// (GPT-J, Phi-2, Cohere, Falcon-7B); otherwise each has its own (GPT-NeoX).
    #[serde(default)]
    pub parallel_shared_norm: bool,
    /// A norm right after the token embedding (BLOOM).
    #[serde(default)]
    pub embed_norm: bool,
    /// Rows of the learned position table beyond `max_positions` (OPT: 2).
    #[serde(default)]
    pub position_offset: u64,
    /// The output head has a bias (GPT-J, Phi).
    #[serde(default)]
    pub head_bias: bool,
    /// The MLP's tanh-approximated GELU is written out as tensor ops, as in
    /// GPT-2 (`gelu_new`: GPT-J, Phi; BLOOM's `bloom_gelu`).
    #[serde(default)]
    pub gelu_tanh_eager: bool,
    /// Multi-head latent attention replaces q/k/v; `head_dim` is then the
    /// value head size (the output projection's input per head).
    #[serde(default)]
    pub mla: Option<Mla>,
    /// Share of each head's channels that rotary embeddings rotate (GPT-NeoX's
    /// `rotary_pct`, GPT-J's `rotary_dim`, Phi's `partial_rotary_factor`); 1 for all.
    #[serde(default = "full_rotation")]
    pub rotary_fraction: f64,
    /// What the importer applied and ignored, for the reader.
    pub notes: Vec<String>,
}

fn full_rotation() -> f64 {
    1.0
}

impl TransformerSpec {
    /// A decoder with every feature at its common default (pre-norm,
    /// rotary, causal, dense MLP, LayerNorm, no biases): the families and
    /// presets set what differs.
    pub(crate) fn base(family: &str) -> TransformerSpec {
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
            qk_norm: None,
            qk_norm_scope: QkNormScope::Head,
            norm_placement: NormPlacement::Pre,
            norm_affine: NormAffine::Full,
            parallel_shared_norm: false,
            embed_norm: false,
            position_offset: 0,
            head_bias: false,
            gelu_tanh_eager: false,
            mla: None,
            rotary_fraction: 1.0,
            notes: Vec::new(),
        }
    }

    /// Parameters of one norm over `width` channels.
    pub fn norm_weights(&self, width: u64) -> f64 {
        let w = width as f64;
        match (self.norm, self.norm_affine) {
            (_, NormAffine::None) => 0.0,
            (NormKind::LayerNorm, NormAffine::Full) => 2.0 * w,
            _ => w,
        }
    }

    /// Parameters of the QK-norm of one layer (weights only).
    pub fn qk_norm_weights(&self) -> f64 {
        if self.qk_norm.is_none() || self.mla.is_some() {
            return 0.0;
        }
        let d = self.head_dim as f64;
        match self.qk_norm_scope {
            QkNormScope::Head => 2.0 * d,
            QkNormScope::AllHeads => (self.heads + self.kv_heads) as f64 * d,
        }
    }

    /// Parameters of one multi-head latent attention block.
    pub fn mla_weights(&self, m: &Mla) -> f64 {
        let f = |x: u64| x as f64;
        let (h, nh) = (f(self.hidden), f(self.heads));
        let dqk = f(m.qk_nope_head_dim + m.qk_rope_head_dim);
        let kv_a = f(m.kv_lora_rank + m.qk_rope_head_dim);
        let mut p = match m.q_lora_rank {
            Some(r) => h * f(r) + self.norm_weights(r) + f(r) * nh * dqk,
            None => h * nh * dqk,
        };
        p += h * kv_a + self.norm_weights(m.kv_lora_rank);
        p += f(m.kv_lora_rank) * nh * f(m.qk_nope_head_dim + m.v_head_dim);
        p += nh * f(m.v_head_dim) * h;
        if self.qkv_bias {
            // q_a_proj (or nothing without one) and kv_a_proj carry the bias
            p += m.q_lora_rank.map_or(0.0, f) + kv_a;
        }
        if self.out_bias {
            p += h;
        }
        p
    }
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
