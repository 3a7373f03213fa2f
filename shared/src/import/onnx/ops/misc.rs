//! Constants and generators (Constant, ConstantOfShape, Range), scatters, Trilu.

use super::{
    bad, numel, one, op, same_shape, to_dims, CostRule::*, Cx, Inferred, OpDef, Val, MAX_INTS,
};

pub(super) const OPS: &[OpDef] = &[
    op(&["Constant"], constant, Free),
    op(&["ConstantOfShape"], constant_of_shape, Moved),
    op(&["Range"], range, Moved),
    op(
        &["Trilu", "ScatterND", "ScatterElements"],
        same_shape,
        Moved,
    ),
];

/// From whichever `value*` attribute is set; `Ok(None)` for one not read (sparse, strings).
fn constant(cx: &Cx<'_>) -> Inferred {
    let n = cx.n;
    if let Some(t) = n.attr("value").and_then(|a| a.t.as_ref()) {
        let shape = to_dims(&t.dims).ok_or_else(|| bad("Constant with a negative dim"))?;
        return one(Val::of(t.dtype, shape, t.ints.clone()));
    }
    if let Some(i) = n.attr("value_int").and_then(|a| a.i) {
        return one(Val::ints(7, vec![], vec![i]));
    }
    if let Some(a) = n.attr("value_ints") {
        return one(Val::ints(7, vec![a.ints.len() as u64], a.ints.clone()));
    }
    if n.attr("value_float").is_some() {
        return one(Val::new(1, vec![]));
    }
    if let Some(a) = n.attr("value_floats") {
        return one(Val::new(1, vec![a.floats as u64]));
    }
    Ok(None)
}

fn constant_of_shape(cx: &Cx<'_>) -> Inferred {
    let s = cx.need_ints(0, || bad("ConstantOfShape: unknown shape"))?;
    let shape = to_dims(&s).ok_or_else(|| bad("ConstantOfShape: negative dim"))?;
    let t = cx.n.attr("value").and_then(|a| a.t.as_ref());
    let dtype = t.map_or(1, |t| t.dtype);
    let fill = t
        .and_then(|t| t.ints.as_ref())
        .and_then(|v| v.first().copied());
    let count = numel(&shape)?;
    let ints = fill
        .filter(|_| count as usize <= MAX_INTS)
        .map(|f| vec![f; count as usize]);
    one(Val::of(dtype, shape, ints))
}

fn range(cx: &Cx<'_>) -> Inferred {
    let g = |i: usize| {
        cx.need(i)
            .ok()
            .and_then(|v| v.ints.as_ref())
            .and_then(|v| v.first().copied())
    };
    let (Some(s), Some(l), Some(d)) = (g(0), g(1), g(2)) else {
        return Err(bad(format!(
            "Range `{}`: start, limit or delta unknown",
            cx.n.name
        ))
        .into());
    };
    if d == 0 {
        return Err(bad("Range with delta 0").into());
    }
    let len = ((l as i128 - s as i128) + d as i128 - d.signum() as i128) / d as i128;
    let len = u64::try_from(len.max(0)).map_err(|_| bad("Range too long"))?;
    let ints = (len as usize <= MAX_INTS).then(|| (0..len as i64).map(|i| s + i * d).collect());
    one(Val::of(cx.need(0)?.dtype, vec![len], ints))
}
