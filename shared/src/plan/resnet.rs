//! torchvision ResNet (v1.5): conv-bn-relu stacks; batch norm in training mode
//! while training.

use super::builder::Builder;
use super::{optimizer, MemoryNeed, Node, Seq, StepPlan};
use crate::model::ResNetSpec;
use crate::scenario::{Phase, SoftwareClass, Workload};
use crate::InputError;

/// torchvision ResNet: conv-bn-relu stacks; BN in training mode during training.
///
/// Compiled inference (TensorRT, torch.compile with frozen weights) folds each
/// batch norm into its convolution's weights and bias, runs the ReLU and the
/// residual add in the convolution's epilogue (TensorRT's layer fusion
/// catalog: convolution + activation, convolution + element-wise sum), and
/// keeps tensors channels-last throughout: what remains of a block is its
/// convolutions, the last of which also reads the identity. At 8-bit precision
/// its activations are 8-bit too.
pub(super) fn plan(
    spec: &ResNetSpec,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
) -> Result<StepPlan, InputError> {
    if matches!(w.phase, Phase::Decode | Phase::Prefill) {
        return Err(InputError::new(
            format!("{field}.phase"),
            "a vision model has train or inference phases only",
        ));
    }
    let train = w.phase == Phase::Train;
    let fold = !train && matches!(sw, SoftwareClass::Compiled | SoftwareClass::Serving);
    let mut bl = Builder::new(w.precision, train);
    bl.nhwc = fold || w.channels_last == Some(true);
    bl.epilogue_fusion = fold;
    // an INT8 engine (TensorRT's calibrated or Q/DQ quantization, as in NVIDIA's
    // MLPerf ResNet-50) passes 8-bit tensors from layer to layer
    bl.int8_activations = fold;
    let b = w.batch as f64;
    let img = w.image_size.unwrap_or(224) as f64;
    let a = bl.a();
    let mut params = 0.0;

    fn bn(bl: &mut Builder, name: &str, n: f64, c: f64, a: f64) -> f64 {
        if bl.epilogue_fusion {
            // folded into the convolution
        } else if bl.train {
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
        if !bl.epilogue_fusion {
            bl.ew(name, n * a, n * a, 1.0, Some((3.0 * n * a, 1.0)));
        }
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
            if fold {
                bl.epilogue_read(n_out * a);
            } else {
                bl.ew(
                    &format!("{name}.add"),
                    2.0 * n_out * a,
                    n_out * a,
                    1.0,
                    Some((3.0 * b * cin * side * side * a, 1.0)),
                );
            }
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
        nodes.extend(optimizer::ops(w.optimizer, params, tensors, w.precision));
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
        element_bytes: w.precision.activation_bytes(),
        memory: MemoryNeed::of_state(params, w, saved, 0.0),
        notes: vec![format!(
            "torchvision {}: {:?} blocks, {}x{} input",
            spec.name, spec.blocks, img, img
        )],
    })
}
