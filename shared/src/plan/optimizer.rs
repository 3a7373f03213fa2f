//! The optimizer step: PyTorch's default multi-tensor (foreach) kernels, and
//! the state they keep.

use super::builder::ew_op;
use super::Node;
use crate::model::graph::{HostWork, Pass};
use crate::scenario::Optimizer;
use crate::units::Precision;

/// Bytes of one element of optimizer state: the dtype of the parameters when
/// the whole model is cast to 16 bits, else fp32.
fn element_bytes(p: Precision) -> f64 {
    if matches!(p, Precision::Fp16 | Precision::Bf16) {
        2.0
    } else {
        4.0
    }
}

/// Bytes of optimizer state per parameter.
pub(super) fn state_bytes(o: Option<Optimizer>, p: Precision) -> f64 {
    let s = element_bytes(p);
    match o.unwrap_or(Optimizer::Adamw) {
        Optimizer::Sgd => 0.0,
        Optimizer::SgdMomentum => s,
        Optimizer::Adam | Optimizer::Adamw => 2.0 * s,
    }
}

/// The optimizer update: PyTorch's default multi-tensor (foreach) implementations.
pub(super) fn ops(o: Option<Optimizer>, params: f64, tensors: f64, p: Precision) -> Vec<Node> {
    let s = element_bytes(p);
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
            // the foreach/fused step's Python walks every tensor once, shared by its calls
            op.host = HostWork::OptimizerTensors(tensors / calls.len() as f64);
            Node::Op(op)
        })
        .collect()
}
