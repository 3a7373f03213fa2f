//! Reductions over axes, arg-reductions, TopK, CumSum.

use super::{
    bad, invalid, norm_axis, one, op, same_shape, to_dim, CostRule::*, Cx, Inferred, OpDef, Val,
};

pub(super) const OPS: &[OpDef] = &[
    op(
        &[
            "ReduceMean",
            "ReduceSum",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL2",
            "ReduceL1",
            "ReduceSumSquare",
            "ReduceLogSumExp",
            "ArgMax",
            "ArgMin",
        ],
        reduce,
        PerIn,
    ),
    op(&["CumSum"], same_shape, PerIn),
    op(&["TopK"], top_k, Moved),
];

fn reduce(cx: &Cx<'_>) -> Inferred {
    let (n, v) = (cx.n, cx.need(0)?);
    let arg = n.op.starts_with("Arg");
    let keep = n.attr_i("keepdims", 1) != 0;
    let axes = if arg {
        Some(vec![n.attr_i("axis", 0)])
    } else {
        cx.ints_of(1, "axes")
    };
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&a| norm_axis(a, v.rank()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad(format!("{}: bad axis", n.op)))?,
        _ if n.attr_i("noop_with_empty_axes", 0) != 0 => return same_shape(cx),
        _ => (0..v.rank()).collect(),
    };
    let mut shape = Vec::new();
    for (i, &d) in v.shape.iter().enumerate() {
        if !axes.contains(&i) {
            shape.push(d);
        } else if keep {
            shape.push(1);
        }
    }
    let dtype = if arg { 7 } else { v.dtype };
    one(Val::new(dtype, shape))
}

fn top_k(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let unknown = || bad("TopK: k unknown");
    let k = cx.need_ints(1, unknown)?.first().copied().and_then(to_dim);
    let k = k.ok_or_else(unknown)?;
    let ax = norm_axis(cx.n.attr_i("axis", -1), v.rank()).ok_or_else(|| bad("TopK: bad axis"))?;
    if k > v.shape[ax] {
        return Err(invalid(
            &format!("input `K` ({})", cx.n.inputs.get(1).copied().unwrap_or("?")),
            format!(
                "= {k} is larger than axis {ax}'s {} elements; the spec requires k <= the axis size",
                v.shape[ax]
            ),
        ));
    }
    let mut shape = v.shape.clone();
    shape[ax] = k;
    Ok(Some(vec![
        Some(Val::new(v.dtype, shape.clone())),
        Some(Val::new(7, shape)),
    ]))
}
