//! Expansion of an architecture into the ops of one step of a workload on one
//! device: the kernels an eager PyTorch / Hugging Face implementation launches,
//! with their FLOPs and the bytes they move. `docs/energy-model.md` explains
//! each rule; the FLOP count follows `torch.utils.flop_counter.FlopCounterMode`.

use super::graph::{ForwardGraph, Op, OpKind, Pass};
use super::{
    Architecture, HeadKind, InputKind, MlpKind, NormKind, PositionKind, ResNetSpec, TransformerSpec,
};
use crate::scenario::{Optimizer, Phase, SoftwareClass, Workload};
use crate::units::{MathMode, Precision};
use crate::InputError;

/// A sequence of ops run `repeat` times. `synced` sequences start each
/// repetition with the host waiting for the device (a `.item()` per step).
#[derive(Debug, Clone, PartialEq)]
pub struct Seq {
    pub name: String,
    pub nodes: Vec<Node>,
    pub repeat: f64,
    pub synced: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Op(Op),
    Seq(Seq),
}

/// Memory one device must hold, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryNeed {
    pub weights: f64,
    pub gradients: f64,
    pub optimizer: f64,
    pub activations: f64,
    pub kv_cache: f64,
}

impl MemoryNeed {
    /// Weights (plus autocast's cached bf16 copies when training under AMP),
    /// gradients and optimizer state of `params` parameters, with the given
    /// activations and KV cache.
    fn of_state(params: f64, w: &Workload, activations: f64, kv_cache: f64) -> Self {
        let p = w.precision;
        let train = w.phase == Phase::Train;
        let amp_copies = if train && p == Precision::Bf16Amp {
            2.0
        } else {
            0.0
        };
        MemoryNeed {
            weights: params * (p.weight_bytes() + amp_copies),
            gradients: if train {
                params * p.weight_bytes()
            } else {
                0.0
            },
            optimizer: if train {
                params * optimizer_state_bytes(w.optimizer, p)
            } else {
                0.0
            },
            activations,
            kv_cache,
        }
    }

    pub fn total(&self) -> f64 {
        self.weights + self.gradients + self.optimizer + self.activations + self.kv_cache
    }
    /// State that sharding (ZeRO-3 / FSDP) spreads over devices.
    pub fn shardable(&self) -> f64 {
        self.weights + self.gradients + self.optimizer
    }
}

/// One step of a workload on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub root: Seq,
    pub params: f64,
    /// Parameters used per token (mixture-of-experts: the routed experts only).
    pub active_params: f64,
    /// Samples (sequences, images, requests) per step.
    pub samples: f64,
    /// Tokens per step: processed (train, inference, prefill) or generated (decode).
    pub tokens: f64,
    /// False when only FLOPs are known: the energy model falls back to a utilisation prior.
    pub has_breakdown: bool,
    /// Counted FLOPs of a FLOPs-only model (no ops).
    pub flops_only: Option<f64>,
    pub memory: MemoryNeed,
    pub notes: Vec<String>,
}

impl StepPlan {
    /// Visit every op with its multiplicity in one step.
    pub fn for_each_op(&self, f: &mut impl FnMut(&Op, f64)) {
        fn walk(s: &Seq, mult: f64, f: &mut impl FnMut(&Op, f64)) {
            for n in &s.nodes {
                match n {
                    Node::Op(op) => f(op, mult * s.repeat * op.count),
                    Node::Seq(c) => walk(c, mult * s.repeat, f),
                }
            }
        }
        walk(&self.root, 1.0, f)
    }

    /// Counted (FlopCounterMode) matmul/convolution FLOPs of one step.
    pub fn counted_flops(&self) -> f64 {
        if let Some(f) = self.flops_only {
            return f;
        }
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.flops * n);
        total
    }

    pub fn other_flops(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.other_flops * n);
        total
    }

    pub fn bytes(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.bytes * n);
        total
    }

    /// Sharded optimizer (ZeRO / FSDP): each of `devices` updates its share of the
    /// parameters, so the optimizer's traffic per device drops by that factor.
    pub fn shard_optimizer(&mut self, devices: f64) {
        fn walk(s: &mut Seq, k: f64) {
            for n in &mut s.nodes {
                match n {
                    Node::Op(op) if op.pass == Pass::Optimizer => {
                        op.bytes /= k;
                        op.other_flops /= k;
                    }
                    Node::Op(_) => {}
                    Node::Seq(c) => walk(c, k),
                }
            }
        }
        if devices > 1.0 {
            walk(&mut self.root, devices);
            self.notes.push(format!("optimizer state sharded over {devices} devices (ZeRO/FSDP): each updates its share"));
        }
    }

    pub fn kernels(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.kernels * n);
        total
    }
}

fn err(field: &str, msg: impl Into<String>) -> InputError {
    InputError::new(field, msg)
}

/// Check the workload's numbers and build the step.
pub fn plan(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
) -> Result<StepPlan, InputError> {
    if w.batch == 0 {
        return Err(err(&format!("{field}.batch"), "must be at least 1"));
    }
    if w.batch > 1_000_000 {
        return Err(err(
            &format!("{field}.batch"),
            "must be at most 1000000 samples per device",
        ));
    }
    for (name, v) in [
        ("seq", w.seq),
        ("prompt", w.prompt),
        ("new_tokens", w.new_tokens),
        ("image_size", w.image_size),
    ] {
        match v {
            Some(0) => return Err(err(&format!("{field}.{name}"), "must be at least 1")),
            Some(n) if n > 10_000_000 => {
                return Err(err(&format!("{field}.{name}"), "must be at most 10000000"))
            }
            _ => {}
        }
    }
    match arch {
        Architecture::Transformer(t) => transformer(t, w, sw, field),
        Architecture::ResNet(r) => resnet(r, w, field),
        Architecture::Graph(g) => graph(g, w, field),
        Architecture::Flops(f) => {
            if w.phase == Phase::Decode {
                return Err(err(
                    &format!("{field}.phase"),
                    "decode needs a model architecture (a preset or hf_config), not only FLOPs",
                ));
            }
            let step = match (f.flops_per_step, f.flops_per_sample) {
                (Some(s), _) => s,
                (None, Some(s)) => {
                    s * w.batch as f64 * if w.phase == Phase::Train { 3.0 } else { 1.0 }
                }
                (None, None) => {
                    return Err(err("model", "give flops_per_step or flops_per_sample"))
                }
            };
            Ok(StepPlan {
                root: Seq {
                    name: "step".into(),
                    nodes: vec![],
                    repeat: 1.0,
                    synced: true,
                },
                params: f.params,
                active_params: f.params,
                samples: w.batch as f64,
                tokens: w.batch as f64 * w.seq.unwrap_or(1) as f64,
                has_breakdown: false,
                flops_only: Some(step),
                memory: MemoryNeed::of_state(f.params, w, 0.0, 0.0),
                notes: vec!["no op breakdown: time from a utilisation prior, wide range".into()],
            })
        }
    }
}

/// Bytes of optimizer state per parameter.
fn optimizer_state_bytes(o: Option<Optimizer>, p: Precision) -> f64 {
    let s = if matches!(p, Precision::Fp16 | Precision::Bf16) {
        2.0
    } else {
        4.0
    };
    match o.unwrap_or(Optimizer::Adamw) {
        Optimizer::Sgd => 0.0,
        Optimizer::SgdMomentum => s,
        Optimizer::Adam | Optimizer::Adamw => 2.0 * s,
    }
}

/// Builds forward and backward op lists with the dtype rules of a precision.
struct Builder {
    p: Precision,
    train: bool,
    /// Forward ops in launch order.
    fwd: Vec<Node>,
    /// Backward ops in forward order (reversed when the step is assembled).
    bwd: Vec<Node>,
    /// Activation bytes saved for backward.
    saved: f64,
}

impl Builder {
    fn new(p: Precision, train: bool) -> Self {
        Builder {
            p,
            train,
            fwd: vec![],
            bwd: vec![],
            saved: 0.0,
        }
    }

    fn child(&self) -> Self {
        Builder::new(self.p, self.train)
    }

    /// Bytes of a matmul output / activation.
    fn a(&self) -> f64 {
        self.p.activation_bytes()
    }
    fn amp(&self) -> bool {
        self.p == Precision::Bf16Amp
    }
    /// Bytes of a weight as the matmul reads it (after autocast's cached cast).
    fn w_mm(&self) -> f64 {
        match self.p {
            Precision::Fp32 | Precision::Tf32 => 4.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            _ => 2.0,
        }
    }
    fn math(&self) -> MathMode {
        self.p.matmul_math()
    }
    /// Attention runs in 16-bit for the 8-bit precisions, fp32 math for fp32.
    fn attn_math(&self) -> MathMode {
        match self.p {
            Precision::Fp8 | Precision::Int8 | Precision::Bf16Amp | Precision::Bf16 => {
                MathMode::Bf16
            }
            Precision::Fp16 => MathMode::Fp16,
            Precision::Fp32 => MathMode::Fp32,
            Precision::Tf32 => MathMode::Tf32,
        }
    }

    fn push(&mut self, op: Op) {
        self.fwd.push(Node::Op(op))
    }
    fn push_bwd(&mut self, op: Op) {
        self.bwd.push(Node::Op(op))
    }

    /// An element-wise (memory-bound) op: `read` and `write` in bytes.
    /// `bwd` = (bytes, kernels) of its backward, when training.
    fn ew(&mut self, name: &str, read: f64, write: f64, kernels: f64, bwd: Option<(f64, f64)>) {
        self.push(ew_op(name, read + write, kernels, Pass::Forward));
        if self.train {
            // what autograd keeps for the backward (the autocast weight copies are
            // counted with the weights instead)
            if bwd.is_some() {
                self.saved += write;
            }
            if let Some((b, k)) = bwd {
                if k > 0.0 {
                    self.push_bwd(ew_op(&format!("{name}.backward"), b, k, Pass::Backward));
                }
            }
        }
    }

    /// A simple element-wise op over `n` elements: reads `ins` inputs of `ib` bytes, writes one of `ob`.
    /// Its backward reads the output gradient and the saved inputs and writes input gradients.
    fn pointwise(&mut self, name: &str, n: f64, ins: f64, ib: f64, ob: f64) {
        let bwd = (n * (ob + ins * ib + ins * ib), ins.max(1.0));
        self.ew(name, n * ins * ib, n * ob, 1.0, Some(bwd));
    }

    /// A linear layer: `m` rows, `k` in, `n` out. `in_b`: bytes of the input as produced.
    /// `first`: no gradient flows to the input (network input).
    #[allow(clippy::too_many_arguments)]
    fn linear(
        &mut self,
        name: &str,
        m: f64,
        k: f64,
        n: f64,
        bias: bool,
        in_b: f64,
        first: bool,
    ) -> f64 {
        let a = self.a();
        if self.amp() {
            if in_b > 2.0 {
                // autocast casts the fp32 activation to bf16 for every matmul
                self.ew(
                    &format!("{name}.cast_in"),
                    m * k * in_b,
                    m * k * 2.0,
                    1.0,
                    Some((m * k * 6.0, 1.0)),
                );
            }
            // the fp32 weight is cast once per forward (autocast cache)
            self.ew(
                &format!("{name}.cast_w"),
                k * n * 4.0,
                k * n * 2.0,
                1.0,
                None,
            );
        }
        let wb = self.w_mm();
        let params = k * n + if bias { n } else { 0.0 };
        self.push(Op {
            name: name.into(),
            kind: OpKind::Matmul,
            pass: Pass::Forward,
            count: 1.0,
            flops: 2.0 * m * n * k,
            other_flops: 0.0,
            bytes: m * k * a + k * n * wb + m * n * a,
            params,
            kernels: 1.0,
            mnk: Some([m, n, k]),
            math: Some(self.math()),
            from_python: true,
        });
        if self.train {
            self.saved += m * k * a;
            let math = Some(self.math());
            self.push_bwd(Op {
                name: format!("{name}.wgrad"),
                kind: OpKind::Matmul,
                pass: Pass::Backward,
                count: 1.0,
                flops: 2.0 * m * n * k,
                other_flops: 0.0,
                bytes: m * n * a + m * k * a + k * n * a,
                params: 0.0,
                kernels: 1.0,
                mnk: Some([k, n, m]),
                math,
                from_python: false,
            });
            if !first {
                self.push_bwd(Op {
                    name: format!("{name}.dgrad"),
                    kind: OpKind::Matmul,
                    pass: Pass::Backward,
                    count: 1.0,
                    flops: 2.0 * m * n * k,
                    other_flops: 0.0,
                    bytes: m * n * a + k * n * wb + m * k * a,
                    params: 0.0,
                    kernels: 1.0,
                    mnk: Some([m, k, n]),
                    math,
                    from_python: false,
                });
            }
            if bias {
                self.push_bwd(ew_op(
                    &format!("{name}.bias_grad"),
                    m * n * a + n * 4.0,
                    1.0,
                    Pass::Backward,
                ));
            }
            if self.amp() {
                // the bf16 weight gradient is cast back to the fp32 parameter's .grad
                self.push_bwd(ew_op(
                    &format!("{name}.grad_cast"),
                    k * n * 6.0,
                    1.0,
                    Pass::Backward,
                ));
            }
        }
        params
    }

    /// A convolution as an implicit GEMM. Returns its parameters.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        name: &str,
        b: f64,
        cin: f64,
        hin: f64,
        cout: f64,
        hout: f64,
        kk: f64,
        first: bool,
    ) -> f64 {
        let a = self.a();
        let (m, n, k) = (b * hout * hout, cout, cin * kk * kk);
        let w = cout * cin * kk * kk;
        if self.amp() {
            self.ew(&format!("{name}.cast_w"), w * 4.0, w * 2.0, 1.0, None);
        }
        let wb = self.w_mm();
        let in_bytes = b * cin * hin * hin * a;
        let out_bytes = m * n * a;
        // torchvision tensors are NCHW; cuDNN's tensor-core kernels are NHWC, so each
        // convolution is wrapped in layout transposes (nchwToNhwc / nhwcToNchw kernels):
        // forward input and output, backward the output gradient with the input
        // gradient (dgrad) and with the input (wgrad).
        if self.conv_math() != MathMode::Fp32 {
            let bwd = if first {
                2.0 * (out_bytes + in_bytes)
            } else {
                4.0 * (out_bytes + in_bytes)
            };
            let k = if first { 2.0 } else { 4.0 };
            self.ew(
                &format!("{name}.nchw_transpose"),
                in_bytes + out_bytes,
                in_bytes + out_bytes,
                2.0,
                Some((bwd, k)),
            );
        }
        self.push(Op {
            name: name.into(),
            kind: OpKind::Conv,
            pass: Pass::Forward,
            count: 1.0,
            flops: 2.0 * m * n * k,
            other_flops: 0.0,
            bytes: in_bytes + w * wb + out_bytes,
            params: w,
            kernels: 1.0,
            mnk: Some([m, n, k]),
            math: Some(self.conv_math()),
            from_python: true,
        });
        if self.train {
            self.saved += in_bytes;
            let math = Some(self.conv_math());
            self.push_bwd(Op {
                name: format!("{name}.wgrad"),
                kind: OpKind::Conv,
                pass: Pass::Backward,
                count: 1.0,
                flops: 2.0 * m * n * k,
                other_flops: 0.0,
                bytes: out_bytes + in_bytes + w * a,
                params: 0.0,
                kernels: 1.0,
                mnk: Some([k, n, m]),
                math,
                from_python: false,
            });
            if !first {
                self.push_bwd(Op {
                    name: format!("{name}.dgrad"),
                    kind: OpKind::Conv,
                    pass: Pass::Backward,
                    count: 1.0,
                    flops: 2.0 * m * n * k,
                    other_flops: 0.0,
                    bytes: out_bytes + w * wb + in_bytes,
                    params: 0.0,
                    kernels: 1.0,
                    mnk: Some([m, k, n]),
                    math,
                    from_python: false,
                });
            }
            if self.amp() {
                self.push_bwd(ew_op(
                    &format!("{name}.grad_cast"),
                    w * 6.0,
                    1.0,
                    Pass::Backward,
                ));
            }
        }
        w
    }

    /// PyTorch's fp32 default lets cuDNN use TF32 for convolutions.
    fn conv_math(&self) -> MathMode {
        if self.p == Precision::Fp32 {
            MathMode::Tf32
        } else {
            self.math()
        }
    }

    /// Fused attention (scaled_dot_product_attention). `sq` queries attend to `sk` keys.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &mut self,
        name: &str,
        b: f64,
        heads: f64,
        kv_heads: f64,
        sq: f64,
        sk: f64,
        d: f64,
        causal: bool,
        window: Option<f64>,
    ) {
        let a = self.a();
        let counted = 4.0 * b * heads * sq * sk * d;
        // The kernel skips masked blocks: causal self-attention does about half the work.
        let mut work = if causal && sq > 1.0 {
            counted * (1.0 - (sq - 1.0) / (2.0 * sk))
        } else {
            counted
        };
        if let Some(wnd) = window {
            if sk > wnd {
                work *= wnd / sk;
            }
        }
        let bytes = (2.0 * b * heads * sq * d + 2.0 * b * kv_heads * sk * d) * a;
        self.push(Op {
            name: name.into(),
            kind: OpKind::Attention,
            pass: Pass::Forward,
            count: 1.0,
            flops: counted,
            other_flops: work - counted,
            bytes,
            params: 0.0,
            kernels: 1.0,
            mnk: Some([sq, sk, d]),
            math: Some(self.attn_math()),
            from_python: true,
        });
        if self.train {
            self.saved += b * heads * sq * (d * a + 4.0);
            self.push_bwd(Op {
                name: format!("{name}.backward"),
                kind: OpKind::Attention,
                pass: Pass::Backward,
                count: 1.0,
                flops: 2.5 * counted,
                other_flops: 2.5 * (work - counted),
                // reads q, k, v, o, do; writes dq, dk, dv; dq accumulated in fp32
                bytes: 2.0 * bytes + b * heads * sq * d * (a + 8.0),
                params: 0.0,
                kernels: 3.0,
                mnk: Some([sq, sk, d]),
                math: Some(self.attn_math()),
                from_python: false,
            });
        }
    }

    /// Assemble: forward, then backward in reverse order.
    fn finish(mut self, name: &str) -> (Seq, Seq, f64) {
        self.bwd.reverse();
        (
            Seq {
                name: name.to_string(),
                nodes: self.fwd,
                repeat: 1.0,
                synced: false,
            },
            Seq {
                name: format!("{name}.backward"),
                nodes: self.bwd,
                repeat: 1.0,
                synced: false,
            },
            self.saved,
        )
    }
}

fn ew_op(name: &str, bytes: f64, kernels: f64, pass: Pass) -> Op {
    Op {
        name: name.into(),
        kind: OpKind::Elementwise,
        pass,
        count: 1.0,
        flops: 0.0,
        other_flops: 0.0,
        bytes,
        params: 0.0,
        kernels,
        mnk: None,
        math: None,
        from_python: pass != Pass::Backward,
    }
}

fn seq(name: &str, nodes: Vec<Node>, repeat: f64) -> Node {
    Node::Seq(Seq {
        name: name.into(),
        nodes,
        repeat,
        synced: false,
    })
}

/// The optimizer update: PyTorch's default multi-tensor (foreach) implementations.
fn optimizer_ops(o: Option<Optimizer>, params: f64, tensors: f64, p: Precision) -> Vec<Node> {
    let s = if matches!(p, Precision::Fp16 | Precision::Bf16) {
        2.0
    } else {
        4.0
    };
    // Each foreach call: (name, reads, writes) in tensors of `params` elements.
    let calls: &[(&str, f64, f64)] = match o.unwrap_or(Optimizer::Adamw) {
        Optimizer::Sgd => &[("sgd.add_params", 2.0, 1.0)],
        Optimizer::SgdMomentum => &[
            ("sgd.mul_momentum", 1.0, 1.0),
            ("sgd.add_grad_to_momentum", 2.0, 1.0),
            ("sgd.add_params", 2.0, 1.0),
        ],
        Optimizer::Adamw => &[
            ("adamw.lerp_exp_avg", 2.0, 1.0),
            ("adamw.mul_exp_avg_sq", 1.0, 1.0),
            ("adamw.addcmul_exp_avg_sq", 2.0, 1.0),
            ("adamw.weight_decay", 1.0, 1.0),
            ("adamw.sqrt", 1.0, 1.0),
            ("adamw.div_bias_correction", 1.0, 1.0),
            ("adamw.add_eps", 1.0, 1.0),
            ("adamw.addcdiv_params", 3.0, 1.0),
        ],
        Optimizer::Adam => &[
            ("adam.lerp_exp_avg", 2.0, 1.0),
            ("adam.mul_exp_avg_sq", 1.0, 1.0),
            ("adam.addcmul_exp_avg_sq", 2.0, 1.0),
            ("adam.sqrt", 1.0, 1.0),
            ("adam.div_bias_correction", 1.0, 1.0),
            ("adam.add_eps", 1.0, 1.0),
            ("adam.addcdiv_params", 3.0, 1.0),
        ],
    };
    // multi_tensor_apply launches a kernel per ~100 tensors or ~21 M elements (320 blocks x 65536).
    let kernels = (tensors / 100.0)
        .ceil()
        .max((params / 20.97e6).ceil())
        .max(1.0);
    calls
        .iter()
        .map(|(name, r, w)| {
            let mut op = ew_op(
                &format!("optimizer.{name}"),
                params * s * (r + w),
                kernels,
                Pass::Optimizer,
            );
            op.other_flops = params;
            Node::Op(op)
        })
        .collect()
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

fn transformer(
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
        root_nodes.extend(optimizer_ops(w.optimizer, params, tensors, w.precision));
    }
    let p = w.precision;
    let kv = if w.phase == Phase::Decode {
        let total = (w.prompt.unwrap_or(0) + w.new_tokens.unwrap_or(0)) as f64;
        2.0 * (spec.layers + spec.decoder_layers) as f64
            * b
            * spec.kv_heads as f64
            * spec.head_dim as f64
            * total
            * p.activation_bytes()
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

/// The kernels HF `generate` (greedy) launches per token outside the model:
/// input preparation, logits to fp32, argmax, finished-sequence bookkeeping,
/// concatenations, stopping criteria (about 30 small kernels).
fn generate_loop_ops(b: f64, vocab: f64) -> Vec<Node> {
    let mut v = vec![];
    let mut to_f32 = ew_op(
        "generate.logits_to_fp32",
        b * vocab * 6.0,
        1.0,
        Pass::Forward,
    );
    to_f32.count = 1.0;
    v.push(Node::Op(to_f32));
    v.push(Node::Op(ew_op(
        "generate.argmax",
        b * vocab * 4.0,
        1.0,
        Pass::Forward,
    )));
    v.push(Node::Op(ew_op(
        "generate.bookkeeping",
        b * 64.0,
        28.0,
        Pass::Forward,
    )));
    v
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
            let pos = spec.max_positions as f64;
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
    let stacks: Vec<(u64, bool, Option<f64>, &str)> = if spec.decoder_layers > 0 {
        vec![
            (spec.layers, false, None, "encoder_layer"),
            (spec.decoder_layers, true, Some(sk), "decoder_layer"),
        ]
    } else {
        vec![(spec.layers, spec.causal, None, "layer")]
    };
    for (n_layers, causal, cross, name) in stacks {
        let mut lb = bl.child();
        let (lp, lap) = layer(
            &mut lb, spec, b, sq, sk, r, cache_cat, is_vit, causal, cross,
        );
        let layers = n_layers as f64;
        params += lp * layers;
        active += lap * layers;
        let (lf, lbk, lsaved) = lb.finish(name);
        bl.fwd.push(Node::Seq(Seq {
            repeat: layers,
            ..lf
        }));
        if train {
            bl.bwd.push(Node::Seq(Seq {
                repeat: layers,
                ..lbk
            }));
            bl.saved += lsaved * layers;
        }
    }

    // --- final norm and head ---
    let has_final_norm = spec.family != "bert";
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
            bl.linear("lm_head", ht, h, v, false, out_b, false);
            if !spec.tied_embeddings {
                params += h * v;
                active += h * v;
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

fn norm_params(spec: &TransformerSpec) -> f64 {
    match spec.norm {
        NormKind::LayerNorm => 2.0 * spec.hidden as f64,
        NormKind::RmsNorm => spec.hidden as f64,
    }
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
    let post_norm = spec.family == "bert";
    let mut params = 0.0;

    // attention block
    let x_b = if post_norm {
        r
    } else {
        norm(bl, spec, "attn_norm", t, r)
    };
    if !post_norm {
        params += norm_params(spec);
    }
    if spec.fused_qkv {
        params += bl.linear("attn.qkv", t, h, qd + 2.0 * kvd, spec.qkv_bias, x_b, false);
    } else {
        params += bl.linear("attn.q", t, h, qd, spec.qkv_bias, x_b, false);
        params += bl.linear("attn.k", t, h, kvd, spec.qkv_bias, x_b, false);
        params += bl.linear("attn.v", t, h, kvd, spec.qkv_bias, x_b, false);
    }
    if spec.position == PositionKind::Rotary {
        // q*cos + rotate_half(q)*sin: mul, neg, cat, mul, add for q and for k
        for (name, n) in [("q", t * qd), ("k", t * kvd)] {
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
    }
    if cache_cat {
        // DynamicCache.update: torch.cat copies the whole cache for k and v every token
        let cache = b * nkv * sk * d * a;
        bl.ew("kv_cache.cat", 2.0 * cache, 2.0 * cache, 2.0, None);
    }
    let window = spec.sliding_window.map(|x| x as f64);
    bl.attention("attn.sdpa", b, nh, nkv, sq, sk, d, causal, window);
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
    let y_b = if post_norm {
        r2
    } else {
        norm(bl, spec, "mlp_norm", t, r)
    };
    if !post_norm {
        params += norm_params(spec);
    }
    let i = spec.intermediate as f64;
    let (experts, active_experts) = spec
        .moe
        .map(|m| (m.experts as f64, m.active as f64))
        .unwrap_or((1.0, 1.0));
    let mut mlp_params = 0.0;
    let mut mb = bl.child();
    // tokens per expert on average
    let te = t * active_experts / experts;
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
    bl.fwd.push(seq("mlp", mf.nodes, experts));
    if bl.train {
        bl.bwd.push(seq("mlp.backward", mbk.nodes, experts));
        bl.saved += msaved * experts;
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
        attn_and_norms + mlp_params * experts,
        attn_and_norms + mlp_params * active_experts,
    )
}

/// The MLP's activation: GPT-2's `gelu_new` is eight tensor ops in eager HF code;
/// nn.GELU / exact gelu is one kernel.
fn activation(bl: &mut Builder, spec: &TransformerSpec, n: f64) {
    let a = bl.a();
    if spec.family == "gpt2" {
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

/// torchvision ResNet: conv-bn-relu stacks; BN in training mode during training.
fn resnet(spec: &ResNetSpec, w: &Workload, field: &str) -> Result<StepPlan, InputError> {
    if matches!(w.phase, Phase::Decode | Phase::Prefill) {
        return Err(err(
            &format!("{field}.phase"),
            "a vision model has train or inference phases only",
        ));
    }
    let train = w.phase == Phase::Train;
    let mut bl = Builder::new(w.precision, train);
    let b = w.batch as f64;
    let img = w.image_size.unwrap_or(224) as f64;
    let a = bl.a();
    let mut params = 0.0;

    fn bn(bl: &mut Builder, name: &str, n: f64, c: f64, a: f64) -> f64 {
        if bl.train {
            // statistics pass + normalise pass; backward reduces then applies
            bl.ew(name, 2.0 * n * a, n * a, 2.0, Some((5.0 * n * a, 2.0)));
        } else {
            bl.ew(name, n * a, n * a, 1.0, None);
        }
        2.0 * c
    }
    /// A convolution followed by its batch norm; returns their parameters.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        bl: &mut Builder,
        conv: &str,
        norm: &str,
        b: f64,
        cin: f64,
        hin: f64,
        cout: f64,
        hout: f64,
        k: f64,
        first: bool,
    ) -> f64 {
        let a = bl.a();
        bl.conv(conv, b, cin, hin, cout, hout, k, first)
            + bn(bl, norm, b * cout * hout * hout, cout, a)
    }
    fn relu(bl: &mut Builder, name: &str, n: f64, a: f64) {
        bl.ew(name, n * a, n * a, 1.0, Some((3.0 * n * a, 1.0)));
    }

    let s1 = (img / 2.0).ceil();
    params += conv_bn(&mut bl, "conv1", "bn1", b, 3.0, img, 64.0, s1, 7.0, true);
    relu(&mut bl, "relu", b * 64.0 * s1 * s1, a);
    let s2 = (s1 / 2.0).ceil();
    // max_pool2d_with_indices writes int64 indices; backward scatters into a zeroed input grad
    bl.ew(
        "maxpool",
        b * 64.0 * s1 * s1 * a,
        b * 64.0 * s2 * s2 * (a + 8.0),
        1.0,
        Some((b * 64.0 * (s1 * s1 * a + s2 * s2 * (a + 8.0)), 2.0)),
    );

    let mut cin = 64.0;
    let mut side = s2;
    let expansion = if spec.bottleneck { 4.0 } else { 1.0 };
    for (stage, &blocks) in spec.blocks.iter().enumerate() {
        let width = 64.0 * 2f64.powi(stage as i32);
        for blk in 0..blocks {
            let stride = if stage > 0 && blk == 0 { 2.0 } else { 1.0 };
            let out_side = (side / stride).ceil();
            let cout = width * expansion;
            let name = format!("layer{}.{}", stage + 1, blk);
            let n_out = b * cout * out_side * out_side;
            // (in channels, in side, out channels, out side, kernel) of each convolution
            let convs: &[(f64, f64, f64, f64, f64)] = if spec.bottleneck {
                &[
                    (cin, side, width, side, 1.0),
                    (width, side, width, out_side, 3.0),
                    (width, out_side, cout, out_side, 1.0),
                ]
            } else {
                &[
                    (cin, side, width, out_side, 3.0),
                    (width, out_side, cout, out_side, 3.0),
                ]
            };
            for (i, &(ci, hi, co, ho, k)) in convs.iter().enumerate() {
                let n = i + 1;
                params += conv_bn(
                    &mut bl,
                    &format!("{name}.conv{n}"),
                    &format!("{name}.bn{n}"),
                    b,
                    ci,
                    hi,
                    co,
                    ho,
                    k,
                    false,
                );
                if n < convs.len() {
                    relu(&mut bl, &format!("{name}.relu{n}"), b * co * ho * ho, a);
                }
            }
            if blk == 0 && (stride > 1.0 || cin != cout) {
                params += conv_bn(
                    &mut bl,
                    &format!("{name}.downsample"),
                    &format!("{name}.downsample_bn"),
                    b,
                    cin,
                    side,
                    cout,
                    out_side,
                    1.0,
                    false,
                );
            }
            // out += identity; backward accumulates the two gradients of the block input
            bl.ew(
                &format!("{name}.add"),
                2.0 * n_out * a,
                n_out * a,
                1.0,
                Some((3.0 * b * cin * side * side * a, 1.0)),
            );
            relu(&mut bl, &format!("{name}.relu_out"), n_out, a);
            cin = cout;
            side = out_side;
        }
    }
    // adaptive average pool to 1x1, flatten, fc
    bl.ew(
        "avgpool",
        b * cin * side * side * a,
        b * cin * a,
        1.0,
        Some((b * cin * side * side * a + b * cin * a, 1.0)),
    );
    params += bl.linear("fc", b, cin, spec.classes as f64, true, a, false);
    if train {
        let c = spec.classes as f64;
        bl.ew(
            "loss.cross_entropy",
            b * c * 4.0,
            b * c * 4.0,
            3.0,
            Some((b * c * 12.0, 3.0)),
        );
    }
    let saved = bl.saved;
    let (f, bk, _) = bl.finish("forward");
    let mut nodes = vec![Node::Seq(f)];
    if train {
        nodes.push(Node::Seq(bk));
        let tensors = 3.0
            * (spec.blocks.iter().sum::<u64>() as f64 * if spec.bottleneck { 3.0 } else { 2.0 }
                + 6.0);
        nodes.extend(optimizer_ops(w.optimizer, params, tensors, w.precision));
    }
    Ok(StepPlan {
        root: Seq {
            name: "step".into(),
            nodes,
            repeat: 1.0,
            synced: true,
        },
        params,
        active_params: params,
        samples: b,
        tokens: b,
        has_breakdown: true,
        flops_only: None,
        memory: MemoryNeed::of_state(params, w, saved, 0.0),
        notes: vec![format!(
            "torchvision {}: {:?} blocks, {}x{} input",
            spec.name, spec.blocks, img, img
        )],
    })
}

/// An imported forward graph: ops scaled per sample; training adds the
/// backward (matmuls and convolutions 2x, element-wise 1.5x traffic) and the optimizer.
fn graph(g: &ForwardGraph, w: &Workload, field: &str) -> Result<StepPlan, InputError> {
    if w.phase == Phase::Decode {
        return Err(err(&format!("{field}.phase"), "decode needs a transformer architecture (preset or hf_config); an imported graph is one forward pass"));
    }
    if g.batch == 0 {
        return Err(err("model.graph.batch", "must be at least 1"));
    }
    let train = w.phase == Phase::Train;
    let mut bl = Builder::new(w.precision, train);
    let k = w.batch as f64 / g.batch as f64;
    let a = bl.a();
    for (i, n) in g.nodes.iter().enumerate() {
        match n.kind {
            OpKind::Shape => {}
            OpKind::Matmul | OpKind::Conv | OpKind::Attention => {
                let flops = n.flops * k;
                let [m, nn, kk] = n.mnk.unwrap_or([flops / 2.0, 1.0, 1.0]).map(|x| x.max(1.0));
                let m = if n.mnk.is_some() { m * k } else { m };
                if n.params > 0.0 && n.kind != OpKind::Attention {
                    // a weight: scale the product to this batch and keep its weight traffic
                    let first = i == 0;
                    if n.kind == OpKind::Conv {
                        let mut op = conv_like(
                            &n.name,
                            flops,
                            n.elements * k * a + n.params * bl.w_mm(),
                            n.params,
                            [m, nn, kk],
                            bl.math(),
                        );
                        op.kind = OpKind::Conv;
                        bl.push(op.clone());
                        if train {
                            bl.saved += n.elements * k * a / 2.0;
                            let mut wg = op.clone();
                            wg.name = format!("{}.wgrad", n.name);
                            wg.pass = Pass::Backward;
                            wg.from_python = false;
                            wg.params = 0.0;
                            bl.push_bwd(wg.clone());
                            if !first {
                                wg.name = format!("{}.dgrad", n.name);
                                bl.push_bwd(wg);
                            }
                        }
                    } else {
                        bl.linear(&n.name, m, kk, nn, false, a, first);
                    }
                } else {
                    let mut op = conv_like(
                        &n.name,
                        flops,
                        n.elements * k * a,
                        0.0,
                        [m, nn, kk],
                        bl.math(),
                    );
                    op.kind = n.kind;
                    bl.push(op.clone());
                    if train {
                        bl.saved += n.elements * k * a / 2.0;
                        op.name = format!("{}.backward", n.name);
                        op.pass = Pass::Backward;
                        op.flops *= 2.0;
                        op.bytes *= 2.0;
                        op.kernels = 2.0;
                        op.from_python = false;
                        bl.push_bwd(op);
                    }
                }
            }
            OpKind::Elementwise => {
                let bytes = n.elements * k * a;
                bl.ew(
                    &n.name,
                    bytes / 2.0,
                    bytes / 2.0,
                    1.0,
                    Some((bytes * 1.5, 1.0)),
                );
            }
        }
    }
    let params = g.params;
    let saved = bl.saved;
    let (f, bk, _) = bl.finish("forward");
    let mut nodes = vec![Node::Seq(f)];
    if train {
        nodes.push(Node::Seq(bk));
        let tensors = g.nodes.iter().filter(|n| n.params > 0.0).count() as f64 * 2.0;
        nodes.extend(optimizer_ops(w.optimizer, params, tensors, w.precision));
    }
    let mut notes = vec![format!(
        "imported graph {} (bound at batch {}), scaled to batch {}",
        g.source, g.batch, w.batch
    )];
    if !g.unsupported_ops.is_empty() {
        notes.push(format!(
            "unsupported ops counted as zero: {}",
            g.unsupported_ops.join(", ")
        ));
    }
    Ok(StepPlan {
        root: Seq {
            name: "step".into(),
            nodes,
            repeat: 1.0,
            synced: true,
        },
        params,
        active_params: params,
        samples: w.batch as f64,
        tokens: w.batch as f64 * w.seq.unwrap_or(1) as f64,
        has_breakdown: true,
        flops_only: None,
        memory: MemoryNeed::of_state(params, w, saved, 0.0),
        notes,
    })
}

fn conv_like(name: &str, flops: f64, bytes: f64, params: f64, mnk: [f64; 3], math: MathMode) -> Op {
    Op {
        name: name.into(),
        kind: OpKind::Matmul,
        pass: Pass::Forward,
        count: 1.0,
        flops,
        other_flops: 0.0,
        bytes,
        params,
        kernels: 1.0,
        mnk: Some(mnk),
        math: Some(math),
        from_python: true,
    }
}
