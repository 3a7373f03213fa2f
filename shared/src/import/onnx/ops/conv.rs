//! Convolutions and pooling.

use super::{
    bad, invalid, one, op, to_dims, Cost, CostCx, CostRule::*, Cx, Fail, Inferred, Node, OpDef, Val,
};
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

/// A window attribute (`strides`, `dilations`, `pads`, `output_padding`) with
/// `len` values of at least `min`, or `default` when absent; the spec allows
/// nothing else, and a zero stride or a negative dilation would make up a size.
fn window_attr(
    n: &Node<'_>,
    name: &str,
    len: usize,
    min: i64,
    default: i64,
) -> Result<Vec<i64>, Fail> {
    let Some(v) = n.attr_ints(name) else {
        return Ok(vec![default; len]);
    };
    if v.len() != len {
        return Err(invalid(
            &format!("attribute `{name}`"),
            format!(
                "has {} values for {len} expected (one per spatial axis{}); fix the exporter",
                v.len(),
                if name == "pads" { ", twice" } else { "" }
            ),
        ));
    }
    match v.iter().find(|&&x| x < min) {
        Some(x) => Err(invalid(
            &format!("attribute `{name}`"),
            format!("holds {x}; every value must be at least {min}"),
        )),
        None => Ok(v),
    }
}

/// Output spatial size of a window of `kernel` sliding over `spatial`.
fn conv_out(n: &Node<'_>, spatial: &[u64], kernel: &[u64], ceil: bool) -> Result<Vec<u64>, Fail> {
    let k = kernel.len();
    let strides = window_attr(n, "strides", k, 1, 1)?;
    let dil = window_attr(n, "dilations", k, 1, 1)?;
    let pads = window_attr(n, "pads", 2 * k, 0, 0)?;
    let auto = n.attr_s("auto_pad").unwrap_or("NOTSET");
    if spatial.len() != k {
        return Err(bad(format!("{}: inconsistent kernel attributes", n.op)).into());
    }
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let s = strides[i] as i128;
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
                    return Err(bad(format!("{}: kernel larger than its input", n.op)).into());
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
fn conv_transpose_out(n: &Node<'_>, spatial: &[u64], kernel: &[u64]) -> Result<Vec<u64>, Fail> {
    let k = kernel.len();
    let strides = window_attr(n, "strides", k, 1, 1)?;
    let dil = window_attr(n, "dilations", k, 1, 1)?;
    let pads = window_attr(n, "pads", 2 * k, 0, 0)?;
    let op = window_attr(n, "output_padding", k, 0, 0)?;
    Ok((0..k)
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
        .ok_or_else(|| bad("ConvTranspose: bad output size"))?)
}

/// `group` divides the channels and the weight's channels fit the input's
/// (Conv: W is Cout x Cin/group x k; ConvTranspose: W is Cin x Cout/group x k).
fn check_channels(n: &Node<'_>, x: &Val, w: &Val) -> Result<u64, Fail> {
    let group = n.attr_i("group", 1);
    let g = u64::try_from(group)
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| {
            invalid(
                "attribute `group`",
                format!("= {group}: must be at least 1"),
            )
        })?;
    let cin = x.shape[1];
    if !cin.is_multiple_of(g) {
        return Err(invalid(
            "attribute `group`",
            format!("= {g} does not divide the input's {cin} channels"),
        ));
    }
    let wname = n.inputs.get(1).copied().unwrap_or("W");
    if n.op == "Conv" {
        if w.shape[1] != cin / g {
            return Err(invalid(
                &format!("weight `{wname}`"),
                format!(
                    "has {} input channels per group, but the input has {cin} channels in {g} group(s): {} each",
                    w.shape[1],
                    cin / g
                ),
            ));
        }
        if !w.shape[0].is_multiple_of(g) {
            return Err(invalid(
                "attribute `group`",
                format!(
                    "= {g} does not divide the weight's {} output channels",
                    w.shape[0]
                ),
            ));
        }
    } else if w.shape[0] != cin {
        return Err(invalid(
            &format!("weight `{wname}`"),
            format!(
                "has {} input channels (axis 0), but the input has {cin}",
                w.shape[0]
            ),
        ));
    }
    Ok(g)
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
        ))
        .into());
    }
    let kernel = &w.shape[2..];
    let group = check_channels(n, v, w)?;
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
    let k = n.attr_ints("kernel_shape").ok_or_else(|| {
        invalid(
            "attribute `kernel_shape`",
            "is missing (the spec requires it)",
        )
    })?;
    // Each at least 1, and a window of at most 2^64 elements: the cost is the
    // kernel size per output, so a larger one cannot be counted.
    let k = to_dims(&k)
        .filter(|k| k.iter().all(|&d| d >= 1))
        .filter(|k| k.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).is_some())
        .ok_or_else(|| {
            invalid(
                "attribute `kernel_shape`",
                format!(
                    "= {k:?}: every size must be at least 1 and the window at most 2^64 elements"
                ),
            )
        })?;
    if v.rank() != k.len() + 2 {
        return Err(bad(format!("{} `{}`: kernel rank does not match", n.op, n.name)).into());
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
