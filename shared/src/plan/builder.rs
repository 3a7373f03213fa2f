//! The op builder every planner uses: forward and backward op lists with the
//! dtype rules of a precision, and the ops shared by all architectures
//! (element-wise kernels, Linear, convolution, fused attention).

use super::{Node, Seq};
use crate::model::graph::{HostWork, Op, OpKind, Pass};
use crate::units::{MathMode, Precision};

/// Builds forward and backward op lists with the dtype rules of a precision.
pub(super) struct Builder {
    pub(super) p: Precision,
    pub(super) train: bool,
    /// Forward ops in launch order.
    pub(super) fwd: Vec<Node>,
    /// Backward ops in forward order (reversed when the step is assembled).
    pub(super) bwd: Vec<Node>,
    /// Activation bytes saved for backward.
    pub(super) saved: f64,
    /// Tensors stay channels-last end to end (a compiled inference graph picks
    /// one layout), so convolutions need no layout transposes.
    pub(super) nhwc: bool,
    /// 8-bit activations between layers (a quantized inference engine's INT8
    /// tensors), not the 16-bit ones of weight-only 8-bit LLM inference.
    pub(super) int8_activations: bool,
    /// Inference engine fusion: normalisation folded into the producing
    /// convolution, activations and residual adds in its epilogue.
    pub(super) epilogue_fusion: bool,
    /// Attention on the math path (`workload.attention: "math"`), with the
    /// dropout probability of its attention weights.
    pub(super) math_attention: Option<f64>,
    /// The math path's score product applies its scale (`baddbmm`'s alpha).
    pub(super) scale_in_gemm: bool,
    /// The math path makes its mask value on the CPU and copies it to the
    /// device before masking (transformers 4.30's Llama and GPT-NeoX): the
    /// host dispatches this takes. The copy is blocking, so the host waits.
    pub(super) mask_value_copy: Option<f64>,
    /// Positions in `fwd` where the host waits for the device (a blocking
    /// copy or read-back): the ops after one start when everything before it is done.
    pub(super) syncs: Vec<usize>,
}

impl Builder {
    pub(super) fn new(p: Precision, train: bool) -> Self {
        Builder {
            p,
            train,
            fwd: vec![],
            bwd: vec![],
            saved: 0.0,
            nhwc: false,
            int8_activations: false,
            epilogue_fusion: false,
            math_attention: None,
            scale_in_gemm: false,
            mask_value_copy: None,
            syncs: vec![],
        }
    }

    /// The host waits here for the device to finish what was issued.
    pub(super) fn sync_here(&mut self) {
        self.syncs.push(self.fwd.len());
    }

    pub(super) fn child(&self) -> Self {
        Builder {
            math_attention: self.math_attention,
            ..Builder::new(self.p, self.train)
        }
    }

    /// Bytes of a matmul output / activation.
    pub(super) fn a(&self) -> f64 {
        if self.int8_activations && matches!(self.p, Precision::Int8 | Precision::Fp8) {
            1.0
        } else {
            self.p.activation_bytes()
        }
    }
    pub(super) fn amp(&self) -> bool {
        self.p == Precision::Bf16Amp
    }
    /// Bytes of a weight as the matmul reads it (after autocast's cached cast).
    pub(super) fn w_mm(&self) -> f64 {
        match self.p {
            Precision::Fp32 | Precision::Tf32 => 4.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            _ => 2.0,
        }
    }
    pub(super) fn math(&self) -> MathMode {
        self.p.matmul_math()
    }
    /// Attention runs in 16-bit for the 8-bit precisions, fp32 math for fp32.
    pub(super) fn attn_math(&self) -> MathMode {
        match self.p {
            Precision::Fp8 | Precision::Int8 | Precision::Bf16Amp | Precision::Bf16 => {
                MathMode::Bf16
            }
            Precision::Fp16 => MathMode::Fp16,
            Precision::Fp32 => MathMode::Fp32,
            Precision::Tf32 => MathMode::Tf32,
        }
    }

    pub(super) fn push(&mut self, op: Op) {
        self.fwd.push(Node::Op(op))
    }
    pub(super) fn push_bwd(&mut self, op: Op) {
        self.bwd.push(Node::Op(op))
    }
    /// Bytes the last forward op's epilogue reads besides its own operands
    /// (a residual fused into a convolution).
    pub(super) fn epilogue_read(&mut self, bytes: f64) {
        if let Some(Node::Op(op)) = self.fwd.last_mut() {
            op.bytes += bytes;
        }
    }

    /// An element-wise (memory-bound) op: `read` and `write` in bytes.
    /// `bwd` = (bytes, kernels) of its backward, when training.
    pub(super) fn ew(
        &mut self,
        name: &str,
        read: f64,
        write: f64,
        kernels: f64,
        bwd: Option<(f64, f64)>,
    ) {
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
    pub(super) fn pointwise(&mut self, name: &str, n: f64, ins: f64, ib: f64, ob: f64) {
        let bwd = (n * (ob + ins * ib + ins * ib), ins.max(1.0));
        self.ew(name, n * ins * ib, n * ob, 1.0, Some(bwd));
    }

    /// A linear layer: `m` rows, `k` in, `n` out. `in_b`: bytes of the input as produced.
    /// `first`: no gradient flows to the input (network input).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn linear(
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
        let eight_bit_train = self.train && matches!(self.p, Precision::Fp8 | Precision::Int8);
        if eight_bit_train {
            // Transformer Engine quantizes each GEMM operand in one fused
            // cast-transpose: it reads the 16-bit tensor and writes its 8-bit
            // copy and that copy's transpose (Hopper's FP8 GEMMs take only the
            // TN layout, so the weight gradient needs the transposed input)
            self.ew(
                &format!("{name}.quantize_in"),
                m * k * in_b,
                m * k * 2.0,
                1.0,
                None,
            );
            self.ew(
                &format!("{name}.quantize_w"),
                k * n * 2.0,
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
            host: HostWork::Kernels,
        });
        if self.train {
            self.saved += m * k * a;
            self.product_backward(
                name,
                OpKind::Matmul,
                2.0 * m * n * k,
                [m, n, k],
                self.math(),
                (
                    m * n * a + m * k * a + k * n * a,
                    m * n * a + k * n * wb + m * k * a,
                ),
                first,
            );
            if eight_bit_train {
                // the output gradient, cast and transposed the same way
                self.push_bwd(ew_op(
                    &format!("{name}.quantize_grad"),
                    m * n * (a + 2.0),
                    1.0,
                    Pass::Backward,
                ));
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
    pub(super) fn conv(
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
        if self.conv_math() != MathMode::Fp32 && !self.nhwc {
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
            // they serve the tensor-core kernels: a device that runs this math on
            // its FP32 units (TF32 before Ampere) convolves NCHW as it is
            let math = self.conv_math();
            for node in [
                self.fwd.last_mut(),
                self.bwd.last_mut().filter(|_| self.train),
            ]
            .into_iter()
            .flatten()
            {
                if let Node::Op(op) = node {
                    op.math = Some(math);
                }
            }
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
            host: HostWork::Kernels,
        });
        if self.train {
            self.saved += in_bytes;
            self.product_backward(
                name,
                OpKind::Conv,
                2.0 * m * n * k,
                [m, n, k],
                self.conv_math(),
                (out_bytes + in_bytes + w * a, out_bytes + w * wb + in_bytes),
                first,
            );
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

    /// The backward of a matrix product `[m, n, k]` (a Linear, a convolution as
    /// an implicit GEMM): the weight gradient (`[k, n, m]`) and, unless no
    /// gradient flows to the input (`first`), the input gradient (`[m, k, n]`),
    /// each with the forward's FLOPs and the given (wgrad, dgrad) bytes.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn product_backward(
        &mut self,
        name: &str,
        kind: OpKind,
        flops: f64,
        [m, n, k]: [f64; 3],
        math: MathMode,
        (wgrad_bytes, dgrad_bytes): (f64, f64),
        first: bool,
    ) {
        let grads: &[(&str, f64, [f64; 3])] = if first {
            &[("wgrad", wgrad_bytes, [k, n, m])]
        } else {
            &[
                ("wgrad", wgrad_bytes, [k, n, m]),
                ("dgrad", dgrad_bytes, [m, k, n]),
            ]
        };
        for &(g, bytes, mnk) in grads {
            self.push_bwd(Op {
                name: format!("{name}.{g}"),
                kind,
                pass: Pass::Backward,
                count: 1.0,
                flops,
                other_flops: 0.0,
                bytes,
                params: 0.0,
                kernels: 1.0,
                mnk: Some(mnk),
                math: Some(math),
                from_python: false,
                host: HostWork::Kernels,
            });
        }
    }

    /// PyTorch's fp32 default lets cuDNN use TF32 for convolutions.
    pub(super) fn conv_math(&self) -> MathMode {
        if self.p == Precision::Fp32 {
            MathMode::Tf32
        } else {
            self.math()
        }
    }

    /// Fused attention (scaled_dot_product_attention). `sq` queries attend to `sk` keys.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn attention(
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
        if let Some(p_drop) = self.math_attention {
            return self.math_attention(name, b, heads, kv_heads, sq, sk, d, causal, p_drop);
        }
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
            host: HostWork::Kernels,
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
                host: HostWork::Kernels,
            });
        }
    }

    /// Attention on the math path, as eager code without SDPA writes it
    /// (`softmax(q @ k^T / sqrt(d) + mask) @ v`: Hugging Face's "eager"
    /// attention, NVIDIA's DeepLearningExamples BERT): two batched GEMMs over
    /// the whole score matrix, masked positions included, and the score matrix
    /// written and read by each element-wise kernel between them. `torch.matmul`
    /// copies the permuted q, k and v (and the context on its way back) to
    /// contiguous batches, forward and backward, except in a decode step (one
    /// query token, keys and values read from the cache in place).
    #[allow(clippy::too_many_arguments)]
    fn math_attention(
        &mut self,
        name: &str,
        b: f64,
        heads: f64,
        kv_heads: f64,
        sq: f64,
        sk: f64,
        d: f64,
        causal: bool,
        p_drop: f64,
    ) {
        let a = self.a();
        let math = self.attn_math();
        // softmax runs in fp32 under autocast; the product casts its input back
        let sb = if self.amp() { 4.0 } else { a };
        let e = b * heads * sq * sk;
        let q = b * heads * sq * d;
        let kv = b * kv_heads * sk * d;
        let gemm_bytes = (e + q + kv) * a;
        let gemm = |name: String, pass: Pass, mnk: [f64; 3]| Op {
            name,
            kind: OpKind::Matmul,
            pass,
            count: 1.0,
            flops: 2.0 * e * d,
            other_flops: 0.0,
            bytes: gemm_bytes,
            params: 0.0,
            kernels: 1.0,
            mnk: Some(mnk),
            math: Some(math),
            from_python: pass != Pass::Backward,
            host: HostWork::Kernels,
        };
        let product = |bl: &mut Self, what: &str, mnk: [f64; 3], grads: [[f64; 3]; 2]| {
            bl.push(gemm(format!("{name}.{what}"), Pass::Forward, mnk));
            if bl.train {
                for (g, mnk) in ["grad_a", "grad_b"].into_iter().zip(grads) {
                    bl.push_bwd(gemm(format!("{name}.{what}.{g}"), Pass::Backward, mnk));
                }
            }
        };
        // a one-token query (a decode step) reads q and the cached k, v in place
        let copied = sq > 1.0;
        let copies = (q + 2.0 * kv) * 2.0 * a;
        if copied {
            self.push(ew_op(
                &format!("{name}.qkv_contiguous"),
                copies,
                3.0,
                Pass::Forward,
            ));
        }
        if self.train {
            self.push_bwd(ew_op(
                &format!("{name}.qkv_contiguous.backward"),
                copies,
                3.0,
                Pass::Backward,
            ));
            // the products keep q, k and v for their backward
            self.saved += (q + 2.0 * kv) * a;
        }
        let bh = b * heads;
        // scores = q @ k^T; backward dq = ds @ k, dk = ds^T @ q
        product(
            self,
            "scores",
            [bh * sq, sk, d],
            [[bh * sq, d, sk], [bh * sk, d, sq]],
        );
        // the scale's backward needs nothing saved; the mask's add passes the gradient on
        if !self.scale_in_gemm {
            self.push(ew_op(
                &format!("{name}.scale"),
                2.0 * e * a,
                1.0,
                Pass::Forward,
            ));
        }
        if self.train {
            self.push_bwd(ew_op(
                &format!("{name}.scale.backward"),
                2.0 * e * a,
                1.0,
                Pass::Backward,
            ));
        }
        if let Some(dispatches) = self.mask_value_copy {
            self.ew(
                &format!("{name}.mask_value_to_device"),
                0.0,
                a,
                dispatches,
                None,
            );
            self.sync_here();
        }
        // a padding mask is one row per sequence, a causal one a row per query
        let mask = if causal { b * sq * sk * a } else { b * sk * a };
        self.ew(&format!("{name}.mask"), e * a + mask, e * a, 1.0, None);
        self.ew(
            &format!("{name}.softmax"),
            e * a,
            e * sb,
            1.0,
            Some(((2.0 * sb + a) * e, 1.0)),
        );
        if self.train && p_drop > 0.0 {
            self.ew(
                &format!("{name}.dropout"),
                e * sb,
                e * (sb + 1.0),
                1.0,
                Some(((2.0 * sb + 1.0) * e, 1.0)),
            );
        }
        if sb != a {
            self.ew(
                &format!("{name}.cast"),
                e * sb,
                e * a,
                1.0,
                Some(((sb + a) * e, 1.0)),
            );
        }
        // context = p @ v; backward dp = dc @ v^T, dv = p^T @ dc
        product(
            self,
            "context",
            [bh * sq, d, sk],
            [[bh * sq, sk, d], [bh * sk, d, sq]],
        );
        if copied {
            self.push(ew_op(
                &format!("{name}.context_contiguous"),
                2.0 * q * a,
                1.0,
                Pass::Forward,
            ));
        }
        if self.train {
            self.push_bwd(ew_op(
                &format!("{name}.context_contiguous.backward"),
                2.0 * q * a,
                1.0,
                Pass::Backward,
            ));
        }
    }

    /// Assemble: forward, then backward in reverse order.
    pub(super) fn finish(mut self, name: &str) -> (Seq, Seq, f64) {
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

pub(super) fn ew_op(name: &str, bytes: f64, kernels: f64, pass: Pass) -> Op {
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
        host: HostWork::Kernels,
    }
}

pub(super) fn seq(name: &str, nodes: Vec<Node>, repeat: f64) -> Node {
    Node::Seq(Seq {
        name: name.into(),
        nodes,
        repeat,
        synced: false,
    })
}
