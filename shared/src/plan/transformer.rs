//! Transformers as Hugging Face implements them in eager PyTorch: decoder,
//! encoder and encoder-decoder stacks, the generate loop, norms and activations.

use super::builder::{ew_op, seq, Builder};
use super::{optimizer, MemoryNeed, Node, Seq, StepPlan};
use crate::model::graph::{HostWork, Pass};
use crate::model::{
    HeadKind, InputKind, Mla, MlpKind, Moe, NormKind, NormPlacement, PositionKind, QkNormScope,
    TransformerSpec,
};
use crate::scenario::{AttentionImpl, Phase, RecomputeModule, SoftwareClass, Workload};
use crate::units::Precision;
use crate::InputError;

fn err(field: &str, msg: impl Into<String>) -> InputError {
    InputError::new(field, msg)
}

/// HF eager RMSNorm: to(fp32), pow, mean, add eps, rsqrt, mul, to(dtype), mul weight.
fn rms_norm(bl: &mut Builder, name: &str, t: f64, h: f64, r: f64) -> f64 {
    let a = bl.a();
    let casts = r < 4.0;
    if casts {
        bl.pointwise(&format!("{name}.to_fp32"), t * h, 1.0, r, 4.0);
    }
    bl.pointwise(&format!("{name}.pow"), t * h, 1.0, 4.0, 4.0);
    bl.ew(
        &format!("{name}.mean"),
        t * h * 4.0,
        t * 4.0,
        1.0,
        Some((t * h * 4.0 + t * 4.0, 1.0)),
    );
    bl.pointwise(&format!("{name}.add_eps"), t, 1.0, 4.0, 4.0);
    bl.pointwise(&format!("{name}.rsqrt"), t, 1.0, 4.0, 4.0);
    bl.pointwise(&format!("{name}.mul"), t * h, 1.0, 4.0, 4.0);
    let out = if casts { a } else { 4.0 };
    if casts {
        bl.pointwise(&format!("{name}.to_dtype"), t * h, 1.0, 4.0, a);
    }
    // weight * x: the backward also reduces over tokens for the weight's gradient
    bl.ew(
        &format!("{name}.mul_weight"),
        t * h * out,
        t * h * out,
        1.0,
        Some((t * h * out * 4.0, 2.0)),
    );
    out
}

/// LayerNorm (one fused kernel; in the autocast fp32 list).
fn layer_norm(bl: &mut Builder, name: &str, t: f64, h: f64, r: f64) -> f64 {
    let out = if bl.amp() { 4.0 } else { bl.a() };
    bl.ew(
        name,
        t * h * r,
        t * h * out,
        1.0,
        Some((t * h * (2.0 * r + 2.0 * out + r), 2.0)),
    );
    out
}

fn norm(bl: &mut Builder, spec: &TransformerSpec, name: &str, t: f64, r: f64) -> f64 {
    match spec.norm {
        NormKind::LayerNorm => layer_norm(bl, name, t, spec.hidden as f64, r),
        NormKind::RmsNorm => rms_norm(bl, name, t, spec.hidden as f64, r),
    }
}

fn dropout(bl: &mut Builder, name: &str, n: f64, b: f64, p: f64) {
    if bl.train && p > 0.0 {
        // writes the output and a bool mask; backward reads grad and mask
        bl.ew(
            name,
            n * b,
            n * (b + 1.0),
            1.0,
            Some((n * (2.0 * b + 1.0), 1.0)),
        );
    }
}

/// How the tokens of one forward pass look.
#[derive(Clone, Copy)]
struct Pass1 {
    /// Sequences.
    b: f64,
    /// Query positions per sequence in this pass.
    sq: f64,
    /// Key positions attended to (cache included).
    sk: f64,
    /// A KV cache is grown by concatenation in this pass (HF DynamicCache during generation).
    cache_cat: bool,
    /// Output head over the last position only.
    head_last_only: bool,
}

pub(super) fn plan(
    spec: &TransformerSpec,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
) -> Result<StepPlan, InputError> {
    let train = w.phase == Phase::Train;
    let b = w.batch as f64;
    let is_vit = matches!(spec.input, InputKind::Patches { .. });
    let seq_len = |name: &str, v: Option<u64>| -> Result<f64, InputError> {
        v.map(|x| x as f64).ok_or_else(|| {
            err(
                &format!("{field}.{name}"),
                format!("is required for phase {}", w.phase.as_str()),
            )
        })
    };
    let mut notes = spec.notes.clone();
    let (passes, samples, tokens): (Vec<(Pass1, f64)>, f64, f64) = match w.phase {
        Phase::Train | Phase::Inference | Phase::Prefill => {
            let s = if let InputKind::Patches { image, patch, .. } = spec.input {
                let img = w.image_size.unwrap_or(image) as f64;
                (img / patch as f64).floor().powi(2) + 1.0
            } else {
                let s = seq_len(
                    "seq",
                    w.seq.or(if w.phase == Phase::Prefill {
                        w.prompt
                    } else {
                        None
                    }),
                )?;
                if s > spec.max_positions as f64 && spec.position == PositionKind::Learned {
                    return Err(err(
                        &format!("{field}.seq"),
                        format!("{s} exceeds the model's {} positions", spec.max_positions),
                    ));
                }
                s
            };
            (
                vec![(
                    Pass1 {
                        b,
                        sq: s,
                        sk: s,
                        cache_cat: false,
                        head_last_only: false,
                    },
                    1.0,
                )],
                b,
                b * s,
            )
        }
        Phase::Decode => {
            if !spec.causal || spec.head != HeadKind::CausalLm {
                return Err(err(
                    &format!("{field}.phase"),
                    "decode needs a causal language model (with an output head)",
                ));
            }
            let p = seq_len("prompt", w.prompt)?;
            let n = seq_len("new_tokens", w.new_tokens)?;
            if spec.position == PositionKind::Learned && p + n > spec.max_positions as f64 {
                return Err(err(
                    &format!("{field}.new_tokens"),
                    format!(
                        "prompt + new_tokens exceeds the model's {} positions",
                        spec.max_positions
                    ),
                ));
            }
            let mut v = vec![(
                Pass1 {
                    b,
                    sq: p,
                    sk: p,
                    cache_cat: false,
                    head_last_only: true,
                },
                1.0,
            )];
            if n > 1.0 {
                // token i (1..n-1) attends to p + i keys; the mean key count is exact for the
                // linear terms, so n-1 identical passes at the mean give the same totals.
                let mean_sk = p + n / 2.0;
                // HF's DynamicCache grows by concatenation; compiled (static cache) and serving (paged) write in place
                let cache_cat = sw == SoftwareClass::PytorchEager;
                v.push((
                    Pass1 {
                        b,
                        sq: 1.0,
                        sk: mean_sk,
                        cache_cat,
                        head_last_only: true,
                    },
                    n - 1.0,
                ));
            }
            notes.push(format!(
                "decode: one prompt pass, then {} single-token passes against a KV cache",
                n - 1.0
            ));
            (v, b, b * n)
        }
    };

    let mut root_nodes = vec![];
    let mut params = 0.0;
    let mut active = 0.0;
    let mut saved = 0.0;
    for (i, (pass, reps)) in passes.iter().enumerate() {
        let (nodes, pp, ap, sv) = transformer_pass(spec, w, *pass, train, is_vit);
        if i == 0 {
            params = pp;
            active = ap;
            saved = sv;
        }
        if passes.len() > 1 {
            // generation: each token's pass also runs the generate loop, and ends with a sync
            let mut ns = nodes;
            ns.extend(generate_loop_ops(b, spec.vocab as f64));
            root_nodes.push(Node::Seq(Seq {
                name: if i == 0 {
                    "prompt".into()
                } else {
                    "token".into()
                },
                nodes: ns,
                repeat: *reps,
                synced: true,
            }));
        } else {
            root_nodes.extend(nodes);
        }
    }
    if train {
        let tensors = tensor_count(spec);
        root_nodes.extend(optimizer::ops(w.optimizer, params, tensors, w.precision));
    }
    if train && sw == SoftwareClass::Megatron && spec.decoder_layers == 0 {
        // fused kernels keep only what their backward needs (not eager's
        // per-op outputs); the training pass is passes[0]
        let tokens = passes[0].0.b * passes[0].0.sq;
        saved = megatron_activations(spec, tokens, w.precision, &[]);
    }
    let p = w.precision;
    let kv = if w.phase == Phase::Decode {
        let total = (w.prompt.unwrap_or(0) + w.new_tokens.unwrap_or(0)) as f64;
        let per_token = match &spec.mla {
            Some(m) => mla_cache_width(spec, m, sw),
            None => 2.0 * spec.kv_heads as f64 * spec.head_dim as f64,
        };
        (spec.layers + spec.decoder_layers) as f64 * b * per_token * total * p.activation_bytes()
    } else {
        0.0
    };
    let memory = MemoryNeed::of_state(params, w, saved, kv);
    Ok(StepPlan {
        root: Seq {
            name: "step".into(),
            nodes: root_nodes,
            repeat: 1.0,
            synced: true,
        },
        params,
        active_params: active,
        samples,
        tokens,
        has_breakdown: true,
        flops_only: None,
        element_bytes: w.precision.activation_bytes(),
        memory,
        notes,
    })
}

/// Parameter tensors (weights and biases), for the optimizer's kernel count.
fn tensor_count(spec: &TransformerSpec) -> f64 {
    let per_layer = match spec.mlp {
        MlpKind::Dense => 4.0,
        MlpKind::GatedSwiglu => 3.0,
    } * 2.0
        + 8.0;
    (spec.layers + spec.decoder_layers) as f64 * per_layer + 6.0
}

/// What HF `generate` (greedy) does per token outside the model: logits to
/// fp32, argmax, finished-sequence bookkeeping, concatenations, stopping
/// criteria: 23 small kernels and one host-device sync, whose host time is
/// measured as a whole (`tools/host_overhead.py`; `HostWork::TokenLoop`).
fn generate_loop_ops(b: f64, vocab: f64) -> Vec<Node> {
    let mut to_f32 = ew_op(
        "generate.logits_to_fp32",
        b * vocab * 6.0,
        1.0,
        Pass::Forward,
    );
    to_f32.host = HostWork::Included;
    let mut argmax = ew_op("generate.argmax", b * vocab * 4.0, 1.0, Pass::Forward);
    argmax.host = HostWork::Included;
    let mut loop_ = ew_op("generate.bookkeeping", b * 64.0, 21.0, Pass::Forward);
    loop_.host = HostWork::TokenLoop;
    vec![Node::Op(to_f32), Node::Op(argmax), Node::Op(loop_)]
}

/// Activation bytes a Megatron-style training step keeps for its backward
/// (fused norms, bias-GeLU/SwiGLU and bias-dropout-add, FlashAttention):
/// per token and layer, the inputs of both norms, the inputs of the QKV and
/// first MLP matmuls, Q, K and V, the attention output, the first MLP
/// matmul's output and the activation's output, plus one byte per dropout
/// mask element; a mixture of experts also keeps the `k` copies of each token
/// its routed experts take in; after the layers, the final norm's input and
/// the fp32 logits of the cross entropy. In the activation precision, except
/// that 8-bit training keeps the inputs of its matmuls in 8 bits (Transformer
/// Engine's FP8 linear layers save the FP8 cast of their input for the weight
/// gradient; DeepSeek-V3, arXiv:2412.19437, section 3.3.3). For GPT-3-shaped
/// layers this is Korthikanti et al. 2022 ("Reducing Activation Recomputation
/// in Large Transformer Models", eq. 1) with FlashAttention: 34 s b h bytes
/// per layer. `modules`: what selective recomputation drops
/// ([`crate::scenario::RecomputeModule`]).
pub(crate) fn megatron_activations(
    spec: &TransformerSpec,
    tokens: f64,
    p: Precision,
    modules: &[RecomputeModule],
) -> f64 {
    let a = p.activation_bytes();
    let lin = if matches!(p, Precision::Fp8 | Precision::Int8) {
        1.0
    } else {
        a
    };
    let has = |m: RecomputeModule| modules.contains(&m);
    let h = spec.hidden as f64;
    // Q, K and V in the activation precision, and what feeds them in the matmuls' precision
    let qkv = match &spec.mla {
        Some(m) if has(RecomputeModule::MlaUpProj) => {
            // the up-projections run again: keep their inputs, the latents, and the shared rotary key
            let q = m.q_lora_rank.map_or(
                ((m.qk_nope_head_dim + m.qk_rope_head_dim) * spec.heads) as f64 * a,
                |r| r as f64 * lin,
            );
            q + m.kv_lora_rank as f64 * lin + m.qk_rope_head_dim as f64 * a
        }
        Some(m) => {
            let qk = (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64 * spec.heads as f64;
            (2.0 * qk + (m.v_head_dim * spec.heads) as f64) * a
        }
        None => {
            let d = spec.head_dim as f64;
            (spec.heads as f64 * d + 2.0 * spec.kv_heads as f64 * d) * a
        }
    };
    let attn_out = match &spec.mla {
        Some(m) => (m.v_head_dim * spec.heads) as f64,
        None => spec.heads as f64 * spec.head_dim as f64,
    };
    let norms = if spec.parallel_residual && spec.parallel_shared_norm {
        1.0
    } else {
        2.0
    };
    // the norms' outputs: the QKV and MLP inputs (one shared input for
    // parallel blocks), run again from the norms' inputs under `layernorm`
    let inputs = if has(RecomputeModule::Layernorm) {
        0.0
    } else if spec.parallel_residual {
        1.0
    } else {
        2.0
    };
    let masks = if spec.dropout > 0.0 { 2.0 * h } else { 0.0 };
    // one layer's bytes per token with `routed` expert width taken by `k`
    // copies of the token and `shared` width every token runs
    let layer = |routed: f64, shared: f64, k: f64| {
        let ffn = routed + shared;
        let fc1_out = if spec.mlp == MlpKind::GatedSwiglu {
            2.0 * ffn
        } else {
            ffn
        };
        // the activation's output, the input of the last MLP matmul
        let act_out = if has(RecomputeModule::MoeAct) {
            shared
        } else {
            ffn
        };
        norms * h * a + (inputs * h + k * h + attn_out + act_out) * lin + qkv + fc1_out * a + masks
    };
    let dense = layer(0.0, spec.intermediate as f64, 0.0);
    let layers = spec.layers as f64;
    let per_token = match &spec.moe {
        Some(m) => {
            let d = m.dense_layers.min(spec.layers) as f64;
            let moe = layer(
                (m.active * m.expert_width(spec.intermediate)) as f64,
                (m.shared * m.shared_width(spec.intermediate)) as f64,
                m.active as f64,
            );
            d * dense + (layers - d) * moe
        }
        None => layers * dense,
    };
    let out = h * a + spec.vocab as f64 * 4.0;
    tokens * (per_token + out)
}

/// One forward pass (and its backward when training).
/// Returns the nodes, parameters, active parameters and saved activation bytes.
fn transformer_pass(
    spec: &TransformerSpec,
    w: &Workload,
    pass: Pass1,
    train: bool,
    is_vit: bool,
) -> (Vec<Node>, f64, f64, f64) {
    let mut bl = Builder::new(w.precision, train);
    if w.attention == Some(AttentionImpl::Math) {
        // the configs that carry one dropout rate use it for the attention weights too
        bl.math_attention = Some(spec.dropout);
    }
    let Pass1 {
        b,
        sq,
        sk,
        cache_cat,
        head_last_only,
    } = pass;
    let t = b * sq;
    let h = spec.hidden as f64;
    let a = bl.a();
    let mut params = 0.0;
    let mut active = 0.0;

    // --- embeddings ---
    let emb_b = if bl.amp() { 4.0 } else { a }; // embeddings are not autocast: fp32 under AMP
    let r; // bytes of the residual stream
    if let InputKind::Patches {
        patch,
        channels,
        image,
    } = spec.input
    {
        let img = w.image_size.unwrap_or(image) as f64;
        let side = (img / patch as f64).floor();
        let pp = bl.conv(
            "patch_embed",
            b,
            channels as f64,
            img,
            h,
            side,
            patch as f64,
            true,
        ) + h;
        params += pp;
        active += pp;
        // reshape + permute + cat(class token) + add(pos)
        bl.ew("embed.cat_class_token", t * h * a, t * h * a, 1.0, None);
        bl.pointwise("embed.add_pos", t * h, 2.0, a, a);
        let pe = h + sq * h;
        params += pe;
        active += pe;
        r = a;
    } else {
        let v = spec.vocab as f64;
        bl.ew(
            "embed.tokens",
            t * h * emb_b,
            t * h * emb_b,
            1.0,
            Some((v * h * 4.0 + t * h * (emb_b + 4.0), 5.0)),
        );
        params += v * h;
        active += v * h;
        let mut r0 = emb_b;
        if spec.position == PositionKind::Learned {
            let pos = (spec.max_positions + spec.position_offset) as f64;
            bl.ew(
                "embed.positions",
                t * h * emb_b,
                t * h * emb_b,
                1.0,
                Some((pos * h * 4.0 + t * h * (emb_b + 4.0), 5.0)),
            );
            bl.pointwise("embed.add", t * h, 2.0, emb_b, emb_b);
            params += pos * h;
            active += pos * h;
        }
        if spec.type_vocab > 0 {
            let tv = spec.type_vocab as f64;
            bl.ew(
                "embed.token_types",
                t * h * emb_b,
                t * h * emb_b,
                1.0,
                Some((tv * h * 4.0 + t * h * (emb_b + 4.0), 5.0)),
            );
            bl.pointwise("embed.add_types", t * h, 2.0, emb_b, emb_b);
            params += tv * h;
            active += tv * h;
        }
        if spec.family == "bert" {
            r0 = layer_norm(&mut bl, "embed.layer_norm", t, h, emb_b);
            params += 2.0 * h;
            active += 2.0 * h;
        } else if spec.embed_norm {
            r0 = norm(&mut bl, spec, "embed.norm", t, emb_b);
            params += norm_params(spec);
            active += norm_params(spec);
        }
        if spec.position == PositionKind::Alibi {
            alibi_build(&mut bl, spec, b, sq, sk);
        }
        if spec.position == PositionKind::Rotary {
            // cos/sin tables for this pass's positions: a few small kernels per forward
            bl.ew(
                "rotary.cos_sin",
                t * spec.head_dim as f64 * 4.0 * 4.0,
                t * spec.head_dim as f64 * 4.0 * 2.0,
                8.0,
                None,
            );
        }
        dropout(&mut bl, "embed.dropout", t * h, r0, spec.dropout);
        r = r0;
    }

    // --- layers: one stack, or an encoder then a decoder with cross-attention (T5) ---
    let dense_spec = moe_dense_layers(spec);
    let stacks: Vec<(u64, bool, Option<f64>, &str, &TransformerSpec)> = if spec.decoder_layers > 0 {
        vec![
            (spec.layers, false, None, "encoder_layer", spec),
            (spec.decoder_layers, true, Some(sk), "decoder_layer", spec),
        ]
    } else if let Some((n, ds)) = &dense_spec {
        // a mixture of experts whose first layers have a dense MLP (DeepSeek)
        vec![
            (*n, spec.causal, None, "dense_layer", ds),
            (spec.layers - n, spec.causal, None, "layer", spec),
        ]
    } else {
        vec![(spec.layers, spec.causal, None, "layer", spec)]
    };
    for (n_layers, causal, cross, name, lspec) in stacks {
        if n_layers == 0 {
            continue;
        }
        let mut lb = bl.child();
        let (lp, lap) = layer(
            &mut lb, lspec, b, sq, sk, r, cache_cat, is_vit, causal, cross,
        );
        let layers = n_layers as f64;
        params += lp * layers;
        active += lap * layers;
        let syncs = std::mem::take(&mut lb.syncs);
        let (lf, lbk, lsaved) = lb.finish(name);
        if syncs.is_empty() {
            bl.fwd.push(Node::Seq(Seq {
                repeat: layers,
                ..lf
            }));
        } else {
            bl.fwd.extend(synced_layers(lf, &syncs, layers));
        }
        if train {
            bl.bwd.push(Node::Seq(Seq {
                repeat: layers,
                ..lbk
            }));
            bl.saved += lsaved * layers;
        }
    }

    // --- final norm and head ---
    let has_final_norm = spec.family != "bert" && spec.norm_placement != NormPlacement::Post;
    let mut out_b = r;
    let ht = if head_last_only { b } else { t };
    if has_final_norm {
        // HF normalises every position, then slices the last one for the head
        out_b = norm(&mut bl, spec, "final_norm", t, r);
        params += norm_params(spec);
        active += norm_params(spec);
    }
    match spec.head {
        HeadKind::CausalLm => {
            let v = spec.vocab as f64;
            bl.linear("lm_head", ht, h, v, spec.head_bias, out_b, false);
            if !spec.tied_embeddings {
                params += h * v;
                active += h * v;
            }
            if spec.head_bias {
                params += v;
                active += v;
            }
            if train {
                // HF ForCausalLMLoss: logits.float(), log_softmax, nll; backward: zeros + scatter, log_softmax grad, cast
                let n = ht * v;
                bl.ew(
                    "loss.logits_to_fp32",
                    n * a,
                    n * 4.0,
                    1.0,
                    Some((n * (4.0 + a), 1.0)),
                );
                bl.ew(
                    "loss.log_softmax",
                    n * 4.0,
                    n * 4.0,
                    1.0,
                    Some((n * 12.0, 1.0)),
                );
                bl.ew("loss.nll", ht * 12.0, 4.0, 3.0, Some((n * 4.0, 2.0)));
            }
        }
        HeadKind::Pooler => {
            bl.linear("pooler.dense", b, h, h, true, out_b, false);
            bl.pointwise("pooler.tanh", b * h, 1.0, a, a);
            params += h * h + h;
            active += h * h + h;
        }
        HeadKind::Classifier(c) => {
            // class token -> head
            let c = c as f64;
            bl.linear("head", b, h, c, true, out_b, false);
            params += h * c + c;
            active += h * c + c;
            if train {
                bl.ew(
                    "loss.cross_entropy",
                    b * c * 4.0,
                    b * c * 4.0,
                    3.0,
                    Some((b * c * 12.0, 3.0)),
                );
            }
        }
    }
    let _ = out_b;
    let saved = bl.saved;
    let (f, bk, _) = bl.finish("forward");
    let mut nodes = vec![Node::Seq(f)];
    if train {
        nodes.push(Node::Seq(bk));
    }
    (nodes, params, active, saved)
}

/// `layers` repetitions of a layer whose host waits for the device at `syncs`
/// (positions in its nodes). Between two waits the host and the device overlap;
/// at a wait both resume together. The layer is cut at its waits into segments
/// s0 | s1 | ... | sK; across layers the device runs s0, then (n - 1) times
/// [s1 | ... | sK s0], then s1 | ... | sK, each bracketed span a synced
/// sequence. All three keep the layer's name, so a pipeline stage's share
/// (`repeat / p`) still takes n / p layers.
pub(crate) fn synced_layers(layer: Seq, syncs: &[usize], layers: f64) -> Vec<Node> {
    let mut cuts: Vec<usize> = syncs.to_vec();
    cuts.sort_unstable();
    cuts.dedup();
    let mut segments: Vec<Vec<Node>> = vec![];
    let mut nodes = layer.nodes;
    for &c in cuts.iter().rev() {
        segments.push(nodes.split_off(c.min(nodes.len())));
    }
    segments.push(nodes);
    segments.reverse();
    let first = segments[0].clone();
    let synced = |name: String, nodes: Vec<Node>| {
        Node::Seq(Seq {
            name,
            nodes,
            repeat: 1.0,
            synced: true,
        })
    };
    let k = segments.len() - 1;
    let middle = |last_plus_first: bool| -> Vec<Node> {
        (1..=k)
            .map(|i| {
                let mut nodes = segments[i].clone();
                if i == k && last_plus_first {
                    nodes.extend(first.iter().cloned());
                }
                synced(format!("{}.segment{i}", layer.name), nodes)
            })
            .collect()
    };
    let whole = |nodes: Vec<Node>, repeat: f64| {
        Node::Seq(Seq {
            name: layer.name.clone(),
            nodes,
            repeat,
            synced: false,
        })
    };
    let mut out = vec![whole(first.clone(), 1.0)];
    if layers > 1.0 {
        out.push(whole(middle(true), layers - 1.0));
    }
    let mut tail = middle(false);
    // the last layer's last segment runs on into the head unsynced (where a
    // synced segment before it still waits at its start)
    if k >= 2 {
        if let Some(Node::Seq(last)) = tail.last_mut() {
            last.synced = false;
        }
    }
    out.push(whole(tail, 1.0));
    out
}

fn norm_params(spec: &TransformerSpec) -> f64 {
    spec.norm_weights(spec.hidden)
}

/// One transformer layer (pre-norm, or post-norm for BERT). Returns (params, active params).
#[allow(clippy::too_many_arguments)]
fn layer(
    bl: &mut Builder,
    spec: &TransformerSpec,
    b: f64,
    sq: f64,
    sk: f64,
    r: f64,
    cache_cat: bool,
    is_vit: bool,
    causal: bool,
    cross: Option<f64>,
) -> (f64, f64) {
    let t = b * sq;
    let h = spec.hidden as f64;
    let d = spec.head_dim as f64;
    let (nh, nkv) = (spec.heads as f64, spec.kv_heads as f64);
    let (qd, kvd) = (nh * d, nkv * d);
    let a = bl.a();
    let post_norm = spec.family == "bert" || spec.norm_placement == NormPlacement::Post;
    // the math path runs transformers 4.30's own code (docs/host-overhead.md, "Older stacks")
    let math = bl.math_attention.is_some();
    let legacy_neox = math && spec.family == "gpt_neox";
    // OLMo 2: the attention and MLP outputs are normalised, not their inputs
    let branch_post = spec.norm_placement == NormPlacement::PostBranch;
    let mut params = 0.0;

    // attention block
    let x_b = if post_norm || branch_post {
        r
    } else {
        norm(bl, spec, "attn_norm", t, r)
    };
    if !post_norm && !branch_post {
        params += norm_params(spec);
    }
    if let Some(m) = &spec.mla {
        params += mla_attention(bl, spec, m, b, sq, sk, x_b, cache_cat, causal);
    } else if spec.fused_qkv {
        params += bl.linear("attn.qkv", t, h, qd + 2.0 * kvd, spec.qkv_bias, x_b, false);
    } else {
        params += bl.linear("attn.q", t, h, qd, spec.qkv_bias, x_b, false);
        params += bl.linear("attn.k", t, h, kvd, spec.qkv_bias, x_b, false);
        params += bl.linear("attn.v", t, h, kvd, spec.qkv_bias, x_b, false);
    }
    if spec.qk_norm.is_some() && spec.mla.is_none() {
        params += qk_norm(bl, spec, t, nh, nkv, d);
    }
    if spec.position == PositionKind::Rotary && spec.mla.is_none() {
        let frac = spec.rotary_fraction.clamp(0.0, 1.0);
        // transformers before SDPA (mid-2023), GPT-NeoX: each layer gathers its
        // cos/sin rows by position (index repeat, cos and sin repeat, two gathers)
        if legacy_neox {
            // its cos/sin tables are plain attributes, left on the CPU: each layer
            // copies both whole tables (max positions x rotated dims, fp32) to the
            // device, blocking copies (a sync)
            let table = spec.max_positions.max(1) as f64 * d * frac * 4.0;
            bl.ew("rotary.cos_sin_to_device", 0.0, 2.0 * table, 2.0, None);
            bl.sync_here();
            let rows = t * d * frac * 4.0;
            bl.ew("rotary.gather_cos_sin", 4.0 * rows, 4.0 * rows, 5.0, None);
        }
        // q*cos + rotate_half(q)*sin: mul, neg, cat, mul, add for q and for k,
        // on the rotated share of each head
        for (name, full) in [("q", t * qd), ("k", t * kvd)] {
            let n = full * frac;
            bl.pointwise(&format!("rotary.{name}.mul_cos"), n, 1.0, a, a);
            bl.pointwise(&format!("rotary.{name}.neg"), n / 2.0, 1.0, a, a);
            bl.ew(
                &format!("rotary.{name}.cat"),
                n * a,
                n * a,
                1.0,
                Some((2.0 * n * a, 2.0)),
            );
            bl.pointwise(&format!("rotary.{name}.mul_sin"), n, 1.0, a, a);
            bl.pointwise(&format!("rotary.{name}.add"), n, 2.0, a, a);
            if frac < 1.0 {
                // torch.cat((rotated, passed_through), dim=-1)
                bl.ew(
                    &format!("rotary.{name}.cat_pass"),
                    full * a,
                    full * a,
                    1.0,
                    Some((2.0 * full * a, 1.0)),
                );
            }
        }
    }
    if cache_cat && spec.mla.is_none() {
        // DynamicCache.update: torch.cat copies the whole cache for k and v every token
        let cache = b * nkv * sk * d * a;
        bl.ew("kv_cache.cat", 2.0 * cache, 2.0 * cache, 2.0, None);
    }
    let window = spec.sliding_window.map(|x| x as f64);
    if spec.mla.is_none() {
        if legacy_neox {
            // GPT-NeoX's 2023 `_attn`: baddbmm (its alpha the scale) into a
            // zero-filled score buffer; the scale 1/norm_factor made and read
            // back on the CPU (tensor, division, item: host dispatches, no
            // kernel); the mask value made on the CPU and copied to the device
            // every layer (a blocking copy: the host waits)
            let scores = b * nh * sq * sk * a;
            bl.ew("attn.sdpa.zero_fill", 0.0, scores, 1.0, None);
            bl.ew("attn.sdpa.scale_on_host", 0.0, 0.0, 3.0, None);
            bl.scale_in_gemm = true;
            bl.mask_value_copy = Some(2.0);
        } else if math && spec.family == "llama" {
            // Llama's 2023 attention clamps its scores with
            // torch.tensor(finfo.min, device=...): a copy to the device per layer
            bl.mask_value_copy = Some(1.0);
        }
        bl.attention("attn.sdpa", b, nh, nkv, sq, sk, d, causal, window);
        bl.scale_in_gemm = false;
        bl.mask_value_copy = None;
    }
    if spec.position == PositionKind::Alibi {
        alibi_read(bl, b, nh, sq, sk);
    }
    if is_vit {
        // nn.MultiheadAttention reshapes its output before out_proj
        bl.ew(
            "attn.out_contiguous",
            t * h * a,
            t * h * a,
            1.0,
            Some((2.0 * t * h * a, 1.0)),
        );
    }
    params += bl.linear("attn.out", t, qd, h, spec.out_bias, a, false);
    if branch_post {
        norm(bl, spec, "attn.post_norm", t, a);
        params += norm_params(spec);
    }
    dropout(bl, "attn.dropout", t * h, a, spec.dropout);
    let mut r2 = r;
    if post_norm {
        bl.pointwise("attn.residual", t * h, 2.0, a, a);
        r2 = layer_norm(bl, "attn.layer_norm", t, h, a);
        params += 2.0 * h;
    } else {
        bl.pointwise("attn.residual", t * h, 2.0, r.max(a), r);
    }
    if let Some(enc) = cross {
        // cross-attention: queries from the decoder, keys and values from the encoder output
        let x_c = norm(bl, spec, "cross_norm", t, r);
        params += norm_params(spec);
        params += bl.linear("cross.q", t, h, qd, spec.qkv_bias, x_c, false);
        params += bl.linear("cross.k", b * enc, h, kvd, spec.qkv_bias, r, false);
        params += bl.linear("cross.v", b * enc, h, kvd, spec.qkv_bias, r, false);
        bl.attention("cross.sdpa", b, nh, nkv, sq, enc, d, false, None);
        params += bl.linear("cross.out", t, qd, h, spec.out_bias, a, false);
        bl.pointwise("cross.residual", t * h, 2.0, r.max(a), r);
    }

    // MLP block
    let shared_norm = spec.parallel_residual && spec.parallel_shared_norm;
    let y_b = if post_norm {
        r2
    } else if branch_post {
        r
    } else if shared_norm {
        // one input norm feeds attention and MLP (GPT-J, Phi-2, Cohere)
        x_b
    } else {
        norm(bl, spec, "mlp_norm", t, r)
    };
    if !post_norm && !branch_post && !shared_norm {
        params += norm_params(spec);
    }
    let i = spec
        .moe
        .map_or(spec.intermediate, |m| m.expert_width(spec.intermediate)) as f64;
    let (experts, active_experts, local) = spec
        .moe
        .map(|m| (m.experts as f64, m.active as f64, m.local_experts() as f64))
        .unwrap_or((1.0, 1.0, 1.0));
    let mut mlp_params = 0.0;
    let mut mb = bl.child();
    // tokens per expert on average; under expert parallelism a device runs
    // experts / e experts on the tokens routed to them from all e devices
    let te = t * active_experts / local;
    match spec.mlp {
        MlpKind::Dense => {
            mlp_params += mb.linear("mlp.fc", te, h, i, spec.mlp_bias, y_b, false);
            activation(&mut mb, spec, te * i);
            mlp_params += mb.linear("mlp.proj", te, i, h, spec.mlp_bias, a, false);
        }
        MlpKind::GatedSwiglu => {
            if spec.fused_gate_up {
                mlp_params += mb.linear("mlp.gate_up", te, h, 2.0 * i, spec.mlp_bias, y_b, false);
            } else {
                mlp_params += mb.linear("mlp.gate", te, h, i, spec.mlp_bias, y_b, false);
                mlp_params += mb.linear("mlp.up", te, h, i, spec.mlp_bias, y_b, false);
            }
            mb.pointwise("mlp.silu", te * i, 1.0, a, a);
            mb.pointwise("mlp.mul", te * i, 2.0, a, a);
            mlp_params += mb.linear("mlp.down", te, i, h, spec.mlp_bias, a, false);
        }
    }
    let (mf, mbk, msaved) = mb.finish("mlp");
    bl.fwd.push(seq("mlp", mf.nodes, local));
    if bl.train {
        bl.bwd.push(seq("mlp.backward", mbk.nodes, local));
        bl.saved += msaved * local;
    }
    if spec.moe.is_some() {
        // router: a hidden x experts linear, softmax/top-k, gather and scatter of tokens
        params += bl.linear("moe.router", t, h, experts, false, y_b, false);
        bl.ew(
            "moe.dispatch",
            t * h * a * active_experts * 2.0,
            t * h * a * active_experts * 2.0,
            6.0,
            Some((t * h * a * active_experts * 4.0, 4.0)),
        );
    }
    if let Some(m) = spec.moe.filter(|m| m.shared > 0) {
        params += shared_experts(bl, spec, &m, t, y_b);
    }
    if branch_post {
        norm(bl, spec, "mlp.post_norm", t, a);
        params += norm_params(spec);
    }
    dropout(bl, "mlp.dropout", t * h, a, spec.dropout);
    if post_norm {
        bl.pointwise("mlp.residual", t * h, 2.0, a, a);
        layer_norm(bl, "mlp.layer_norm", t, h, a);
        params += 2.0 * h;
    } else {
        bl.pointwise("mlp.residual", t * h, 2.0, r.max(a), r);
    }
    let attn_and_norms = params;
    (
        attn_and_norms + mlp_params * local,
        attn_and_norms + mlp_params * active_experts,
    )
}

/// The MLP's activation: GPT-2's `gelu_new` is eight tensor ops in eager HF code;
/// nn.GELU / exact gelu is one kernel.
fn activation(bl: &mut Builder, spec: &TransformerSpec, n: f64) {
    let a = bl.a();
    if spec.gelu_tanh_eager {
        // pow is in autocast's fp32 list: under AMP the chain after it runs in fp32
        let c = if bl.amp() { 4.0 } else { a };
        bl.pointwise("mlp.gelu_new.pow", n, 1.0, a, c);
        bl.pointwise("mlp.gelu_new.mul_c", n, 1.0, c, c);
        bl.pointwise("mlp.gelu_new.add", n, 2.0, c, c);
        bl.pointwise("mlp.gelu_new.mul_k", n, 1.0, c, c);
        bl.pointwise("mlp.gelu_new.tanh", n, 1.0, c, c);
        bl.pointwise("mlp.gelu_new.add_1", n, 1.0, c, c);
        bl.pointwise("mlp.gelu_new.mul_half", n, 1.0, a, c);
        bl.pointwise("mlp.gelu_new.mul", n, 2.0, c, c);
        if bl.amp() {
            // the fp32 result is cast back to bf16 for the next matmul
            bl.pointwise("mlp.gelu_new.cast", n, 1.0, 4.0, 2.0);
        }
    } else {
        bl.pointwise("mlp.gelu", n, 1.0, a, a);
    }
}

/// Elements cached per token and layer by multi-head latent attention. Hugging
/// Face's DeepSeek code (eager or compiled) caches the expanded keys and values;
/// serving engines (vLLM, SGLang) cache the latent and the shared rotary key.
fn mla_cache_width(spec: &TransformerSpec, m: &Mla, sw: SoftwareClass) -> f64 {
    match sw {
        SoftwareClass::Serving => (m.kv_lora_rank + m.qk_rope_head_dim) as f64,
        _ => spec.heads as f64 * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) as f64,
    }
}

/// The first layers of a mixture of experts that have a dense MLP, as a spec of
/// their own (same attention and norms, no experts).
fn moe_dense_layers(spec: &TransformerSpec) -> Option<(u64, TransformerSpec)> {
    let m = spec.moe?;
    if m.dense_layers == 0 || spec.decoder_layers > 0 {
        return None;
    }
    let mut dense = spec.clone();
    dense.moe = None;
    dense.notes.clear();
    Some((m.dense_layers.min(spec.layers), dense))
}

/// ALiBi in eager Hugging Face code: the bias (slopes x distances, merged with
/// the causal mask) is built once per forward as a `b x heads x sq x sk` tensor.
fn alibi_build(bl: &mut Builder, spec: &TransformerSpec, b: f64, sq: f64, sk: f64) {
    let n = b * spec.heads as f64 * sq * sk;
    // arange, pow (slopes), mul, masked add: a few small kernels, one full-size write
    bl.ew("alibi.build_mask", 0.0, n * bl.a(), 4.0, None);
}

/// Each layer's attention reads the ALiBi bias as its mask (SDPA's `attn_mask`),
/// and its backward reads it again; inside the attention kernel, no launch of its own.
fn alibi_read(bl: &mut Builder, b: f64, nh: f64, sq: f64, sk: f64) {
    let bytes = b * nh * sq * sk * bl.a();
    bl.push(ew_op("attn.alibi_bias", bytes, 0.0, Pass::Forward));
    if bl.train {
        bl.push_bwd(ew_op(
            "attn.alibi_bias.backward",
            bytes,
            0.0,
            Pass::Backward,
        ));
    }
}

/// QK-norm: a norm over each head's queries and keys after their projections.
/// Returns its parameters.
fn qk_norm(bl: &mut Builder, spec: &TransformerSpec, t: f64, nh: f64, nkv: f64, d: f64) -> f64 {
    let a = bl.a();
    let kind = spec.qk_norm.unwrap_or(spec.norm);
    for (name, heads) in [("q", nh), ("k", nkv)] {
        // per head (Qwen3, Cohere) or over all heads at once (OLMo 2): same bytes
        let (rows, width) = match spec.qk_norm_scope {
            QkNormScope::Head => (t * heads, d),
            QkNormScope::AllHeads => (t, heads * d),
        };
        let name = format!("attn.{name}_norm");
        match kind {
            NormKind::LayerNorm => layer_norm(bl, &name, rows, width, a),
            NormKind::RmsNorm => rms_norm(bl, &name, rows, width, a),
        };
    }
    spec.qk_norm_weights()
}

/// Multi-head latent attention as Hugging Face's DeepSeek code runs it: low-rank
/// query and key/value projections with their RMSNorms, rotary on the rope part
/// of each head (the key's rope part is shared by the heads), keys and values
/// expanded per head, SDPA. Returns its parameters (without the output projection).
#[allow(clippy::too_many_arguments)]
fn mla_attention(
    bl: &mut Builder,
    spec: &TransformerSpec,
    m: &Mla,
    b: f64,
    sq: f64,
    sk: f64,
    x_b: f64,
    cache_cat: bool,
    causal: bool,
) -> f64 {
    let f = |x: u64| x as f64;
    let t = b * sq;
    let (h, nh, a) = (f(spec.hidden), f(spec.heads), bl.a());
    let (nope, rope, v, kvl) = (
        f(m.qk_nope_head_dim),
        f(m.qk_rope_head_dim),
        f(m.v_head_dim),
        f(m.kv_lora_rank),
    );
    let dqk = nope + rope;
    let mut p = 0.0;
    match m.q_lora_rank {
        Some(r) => {
            p += bl.linear("attn.q_a", t, h, f(r), spec.qkv_bias, x_b, false);
            rms_norm(bl, "attn.q_a_norm", t, f(r), a);
            p += spec.norm_weights(r);
            p += bl.linear("attn.q_b", t, f(r), nh * dqk, false, a, false);
        }
        None => p += bl.linear("attn.q", t, h, nh * dqk, false, x_b, false),
    }
    p += bl.linear("attn.kv_a", t, h, kvl + rope, spec.qkv_bias, x_b, false);
    rms_norm(bl, "attn.kv_a_norm", t, kvl, a);
    p += spec.norm_weights(m.kv_lora_rank);
    p += bl.linear("attn.kv_b", t, kvl, nh * (nope + v), false, a, false);
    for (name, n) in [("q", t * nh * rope), ("k", t * rope)] {
        bl.pointwise(&format!("rotary.{name}.mul_cos"), n, 1.0, a, a);
        bl.pointwise(&format!("rotary.{name}.neg"), n / 2.0, 1.0, a, a);
        bl.ew(
            &format!("rotary.{name}.cat"),
            n * a,
            n * a,
            1.0,
            Some((2.0 * n * a, 2.0)),
        );
        bl.pointwise(&format!("rotary.{name}.mul_sin"), n, 1.0, a, a);
        bl.pointwise(&format!("rotary.{name}.add"), n, 2.0, a, a);
    }
    // query = cat(q_nope, q_rope); key = cat(k_nope, k_rope expanded to every head)
    let n = t * nh * dqk;
    for name in ["attn.q_cat", "attn.k_cat"] {
        bl.ew(name, n * a, n * a, 1.0, Some((2.0 * n * a, 1.0)));
    }
    if cache_cat {
        // DynamicCache.update concatenates the expanded keys and values every token
        let cache = b * nh * sk * (dqk + v) * a;
        bl.ew("kv_cache.cat", cache, cache, 2.0, None);
    }
    // q.k over dqk and p.v over v: the mean head size gives both products' FLOPs and bytes
    let window = spec.sliding_window.map(|x| x as f64);
    bl.attention(
        "attn.sdpa",
        b,
        nh,
        nh,
        sq,
        sk,
        (dqk + v) / 2.0,
        causal,
        window,
    );
    p
}

/// The shared experts of a mixture of experts: one MLP of `shared x width` run
/// by every token (DeepSeek; Qwen2-MoE adds a sigmoid gate), added to the routed
/// experts' output. Returns its parameters.
fn shared_experts(bl: &mut Builder, spec: &TransformerSpec, m: &Moe, t: f64, y_b: f64) -> f64 {
    let h = spec.hidden as f64;
    let i = m.shared as f64 * m.shared_width(spec.intermediate) as f64;
    let a = bl.a();
    let bias = spec.mlp_bias;
    let mut p = 0.0;
    match spec.mlp {
        MlpKind::Dense => {
            p += bl.linear("moe.shared.fc", t, h, i, bias, y_b, false);
            activation(bl, spec, t * i);
            p += bl.linear("moe.shared.proj", t, i, h, bias, a, false);
        }
        MlpKind::GatedSwiglu => {
            p += bl.linear("moe.shared.gate", t, h, i, bias, y_b, false);
            p += bl.linear("moe.shared.up", t, h, i, bias, y_b, false);
            bl.pointwise("moe.shared.silu", t * i, 1.0, a, a);
            bl.pointwise("moe.shared.mul", t * i, 2.0, a, a);
            p += bl.linear("moe.shared.down", t, i, h, bias, a, false);
        }
    }
    if m.shared_gate {
        p += bl.linear("moe.shared.score", t, h, 1.0, false, y_b, false);
        bl.pointwise("moe.shared.sigmoid", t, 1.0, a, a);
        bl.pointwise("moe.shared.scale", t * h, 2.0, a, a);
    }
    bl.pointwise("moe.shared.add", t * h, 2.0, a, a);
    p
}
