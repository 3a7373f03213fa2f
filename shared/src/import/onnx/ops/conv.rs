//! Convolutions and pooling.

use super::{bad, one, op, to_dims, Cost, CostCx, CostRule::*, Cx, Inferred, Node, OpDef, Val};
use crate::model::graph::OpKind;
use crate::InputError;

pub(super) const OPS: &[OpDef] = &[
    op(&["Conv", "ConvTranspose"], conv, Custom(conv_cost)),
    op(
        &["MaxPool", "AveragePool", "LpPool"],
        pool,
        Custom(pool_cost),
    ),
    op(&["GlobalAveragePool", "GlobalMaxPool"], global_pool, PerIn),
];

/// Output spatial size of a window of `kernel` sliding over `spatial`.
fn conv_out(
    n: &Node<'_>,
    spatial: &[u64],
    kernel: &[u64],
    ceil: bool,
) -> Result<Vec<u64>, InputError> {
    let k = kernel.len();
    let strides = n.attr_ints("strides").unwrap_or_else(|| vec![1; k]);
    let dil = n.attr_ints("dilations").unwrap_or_else(|| vec![1; k]);
    let pads = n.attr_ints("pads").unwrap_or_else(|| vec![0; 2 * k]);
    let auto = n.attr_s("auto_pad").unwrap_or("NOTSET");
    if strides.len() != k || dil.len() != k || pads.len() != 2 * k || spatial.len() != k {
        return Err(bad(format!("{}: inconsistent kernel attributes", n.op)));
    }
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let s = strides[i].max(1) as i128;
        let x = spatial[i] as i128;
        let o = match auto {
            "SAME_UPPER" | "SAME_LOWER" => (x + s - 1) / s,
            _ => {
                let (pb, pe) = if auto == "VALID" {
                    (0, 0)
                } else {
                    (pads[i] as i128, pads[i + k] as i128)
                };
                let eff = dil[i] as i128 * (kernel[i] as i128 - 1) + 1;
                let num = x + pb + pe - eff;
                if num < 0 {
                    return Err(bad(format!("{}: kernel larger than its input", n.op)));
                }
                if ceil {
                    (num + s - 1) / s + 1
                } else {
                    num / s + 1
                }
            }
        };
        out.push(u64::try_from(o).map_err(|_| bad("convolution output size overflows"))?);
    }
    Ok(out)
}

/// ConvTranspose's output spatial size from its attributes.
fn conv_transpose_out(
    n: &Node<'_>,
    spatial: &[u64],
    kernel: &[u64],
) -> Result<Vec<u64>, InputError> {
    let k = kernel.len();
    let strides = n.attr_ints("strides").unwrap_or_else(|| vec![1; k]);
    let dil = n.attr_ints("dilations").unwrap_or_else(|| vec![1; k]);
    let pads = n.attr_ints("pads").unwrap_or_else(|| vec![0; 2 * k]);
    let op = n.attr_ints("output_padding").unwrap_or_else(|| vec![0; k]);
    if strides.len() != k || dil.len() != k || pads.len() != 2 * k || op.len() != k {
        return Err(bad("ConvTranspose: inconsistent attributes"));
    }
    (0..k)
        .map(|i| {
            let o = strides[i] as i128 * (spatial[i] as i128 - 1)
                + op[i] as i128
                + (kernel[i] as i128 - 1) * dil[i] as i128
                + 1
                - pads[i] as i128
                - pads[i + k] as i128;
            u64::try_from(o).ok()
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("ConvTranspose: bad output size"))
}

fn conv(cx: &Cx<'_>) -> Inferred {
    let n = cx.n;
    let (v, w) = (cx.need(0)?, cx.need(1)?);
    if v.rank() < 3 || w.rank() != v.rank() {
        return Err(bad(format!(
            "{} `{}`: input rank {} and weight rank {} do not match",
            n.op,
            n.name,
            v.rank(),
            w.rank()
        )));
    }
    let kernel = &w.shape[2..];
    let group = n.attr_i("group", 1).max(1) as u64;
    let transposed = n.op == "ConvTranspose";
    let spatial = if !transposed {
        conv_out(n, &v.shape[2..], kernel, false)?
    } else if let Some(os) = n.attr_ints("output_shape") {
        to_dims(&os).ok_or_else(|| bad("ConvTranspose: bad output_shape"))?
    } else {
        conv_transpose_out(n, &v.shape[2..], kernel)?
    };
    let cout = if !transposed {
        w.shape[0]
    } else {
        w.shape[1]
            .checked_mul(group)
            .ok_or_else(|| bad("overflow"))?
    };
    let mut shape = vec![v.shape[0], cout];
    shape.extend(spatial);
    one(Val::new(v.dtype, shape))
}

/// `2 * N * prod(out spatial) * Cout * Cin/group * prod(kernel)`; a transposed
/// convolution over the input's spatial size, as FlopCounterMode counts it.
fn conv_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let (x, w) = (cx.operand(0, "Conv")?, cx.operand(1, "Conv")?);
    let out = cx
        .outs
        .first()
        .and_then(Option::as_ref)
        .ok_or_else(|| bad("Conv"))?;
    let wn = w.numel()? as f64;
    let group = cx.n.attr_i("group", 1).max(1) as f64;
    let kk: f64 = w.shape[2..].iter().map(|&d| d as f64).product();
    let batch = x.shape[0] as f64;
    let (sp, mnk) = if cx.n.op == "Conv" {
        // N * prod(out spatial) * weight elements (Cout * Cin/g * k) multiply-adds.
        let sp: f64 = out.shape[2..].iter().map(|&d| d as f64).product();
        (
            sp,
            [
                batch * sp,
                w.shape[0] as f64 / group,
                w.shape[1] as f64 * kk,
            ],
        )
    } else {
        let sp: f64 = x.shape[2..].iter().map(|&d| d as f64).product();
        (
            sp,
            [
                batch * sp,
                w.shape[1] as f64,
                w.shape[0] as f64 / group * kk,
            ],
        )
    };
    Ok(Cost {
        kind: OpKind::Conv,
        flops: 2.0 * batch * sp * wn,
        other: if cx.ins.len() > 2 { cx.out0 } else { 0.0 },
        mnk: Some(mnk),
        ..cx.moved()
    })
}

fn pool(cx: &Cx<'_>) -> Inferred {
    let n = cx.n;
    let v = cx.need(0)?;
    let k = n
        .attr_ints("kernel_shape")
        .ok_or_else(|| bad("pool without kernel_shape"))?;
    let k = to_dims(&k).ok_or_else(|| bad("bad kernel"))?;
    if v.rank() != k.len() + 2 {
        return Err(bad(format!(
            "{} `{}`: kernel rank does not match",
            n.op, n.name
        )));
    }
    let sp = conv_out(n, &v.shape[2..], &k, n.attr_i("ceil_mode", 0) != 0)?;
    let mut shape = v.shape[..2].to_vec();
    shape.extend(sp);
    Ok(Some(vec![
        Some(Val::new(v.dtype, shape.clone())),
        Some(Val::new(7, shape)),
    ]))
}

/// The kernel size per pooled output; reads the input, writes one output (not the indices).
fn pool_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let k: f64 =
        cx.n.attr_ints("kernel_shape")
            .unwrap_or_default()
            .iter()
            .map(|&d| d as f64)
            .product();
    Ok(Cost {
        other: k * cx.out0,
        elements: cx.in0 + cx.out0,
        ..cx.moved()
    })
}

fn global_pool(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let mut shape = v.shape.clone();
    shape.iter_mut().skip(2).for_each(|d| *d = 1);
    one(Val::new(v.dtype, shape))
}
