//! An imported forward graph (ONNX): its ops scaled to the workload's batch;
//! training adds the backward and the optimizer.

use super::builder::Builder;
use super::{optimizer, MemoryNeed, Node, Seq, StepPlan};
use crate::model::graph::{ForwardGraph, HostWork, Op, OpKind, Pass};
use crate::scenario::{Phase, Workload};
use crate::units::MathMode;
use crate::InputError;

/// An imported forward graph: ops scaled per sample; training adds the
/// backward (matmuls and convolutions 2x, element-wise 1.5x traffic) and the optimizer.
pub(super) fn plan(g: &ForwardGraph, w: &Workload, field: &str) -> Result<StepPlan, InputError> {
    if w.phase == Phase::Decode {
        return Err(InputError::new(format!("{field}.phase"), "decode needs a transformer architecture (preset or hf_config); an imported graph is one forward pass"));
    }
    if g.batch == 0 {
        return Err(InputError::new("model.graph.batch", "must be at least 1"));
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
                            bl.product_backward(
                                &n.name,
                                OpKind::Conv,
                                flops,
                                [m, nn, kk],
                                bl.math(),
                                (op.bytes, op.bytes),
                                first,
                            );
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
        nodes.extend(optimizer::ops(w.optimizer, params, tensors, w.precision));
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
        element_bytes: w.precision.activation_bytes(),
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
        host: HostWork::Kernels,
    }
}
