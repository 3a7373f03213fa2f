//! Data movement: Transpose, Concat, Split, Slice, the gathers, Expand, Tile,
//! Pad. They read their inputs and write their outputs; Concat, Slice, Gather
//! and Expand also carry small integer values (shape arithmetic).

use super::{
    bad, broadcast, elements, norm_axis, numel, one, op, to_dim, to_dims, Cost, CostCx,
    CostRule::*, Cx, Inferred, OpDef, Val, MAX_INTS,
};
use crate::InputError;

pub(super) const OPS: &[OpDef] = &[
    op(&["Transpose"], transpose, Moved),
    op(&["Concat"], concat, Moved),
    op(&["Split"], split, Moved),
    op(&["Slice"], slice, Moved),
    op(&["Gather"], gather, Custom(gather_cost)),
    op(&["GatherElements"], gather_elements, Custom(gather_cost)),
    op(&["GatherND"], gather_nd, Custom(gather_cost)),
    op(&["Expand"], expand, Moved),
    op(&["Tile"], tile, Moved),
    op(&["Pad"], pad, Moved),
];

fn transpose(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let perm =
        cx.n.attr_ints("perm")
            .unwrap_or_else(|| (0..v.rank() as i64).rev().collect());
    let shape = perm
        .iter()
        .map(|&p| norm_axis(p, v.rank()).and_then(|p| v.shape.get(p).copied()))
        .collect::<Option<Vec<_>>>()
        .filter(|s| s.len() == v.rank())
        .ok_or_else(|| bad(format!("Transpose `{}`: bad perm", cx.n.name)))?;
    one(Val::new(v.dtype, shape))
}

fn concat(cx: &Cx<'_>) -> Inferred {
    let vals = cx.need_all()?;
    let first = vals.first().ok_or_else(|| bad("Concat without inputs"))?;
    let ax =
        norm_axis(cx.n.attr_i("axis", 0), first.rank()).ok_or_else(|| bad("Concat: bad axis"))?;
    let mut shape = first.shape.clone();
    let mut sum = 0u64;
    for v in &vals {
        if v.rank() != first.rank() {
            return Err(bad(format!("Concat `{}`: ranks differ", cx.n.name)).into());
        }
        sum = sum
            .checked_add(v.shape[ax])
            .ok_or_else(|| bad("Concat overflows"))?;
    }
    shape[ax] = sum;
    // Values only while the result stays small: nested Concat(x, x) doubles them.
    let small = vals
        .iter()
        .try_fold(0usize, |n, v| Some(n + v.ints.as_ref()?.len()))
        .is_some_and(|n| n <= MAX_INTS);
    let ints = if first.rank() <= 1 && small {
        vals.iter()
            .map(|v| v.ints.as_deref())
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat())
    } else {
        None
    };
    one(Val::of(first.dtype, shape, ints))
}

fn split(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let ax = norm_axis(cx.n.attr_i("axis", 0), v.rank()).ok_or_else(|| bad("Split: bad axis"))?;
    let k = cx.n.outputs.len().max(1) as u64;
    let sizes = match cx.ints_of(1, "split") {
        Some(s) if !s.is_empty() => to_dims(&s).ok_or_else(|| bad("Split: negative size"))?,
        _ => {
            let d = v.shape[ax];
            let chunk = d.div_ceil(k);
            (0..k)
                .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                .collect()
        }
    };
    Ok(Some(
        sizes
            .iter()
            .map(|&s| {
                let mut sh = v.shape.clone();
                sh[ax] = s;
                Some(Val::new(v.dtype, sh))
            })
            .collect(),
    ))
}

fn slice(cx: &Cx<'_>) -> Inferred {
    let name = cx.n.name;
    let v = cx.need(0)?;
    let (starts, ends) = (cx.ints_of(1, "starts"), cx.ints_of(2, "ends"));
    let (Some(starts), Some(ends)) = (starts, ends) else {
        return Err(bad(format!("Slice `{name}`: starts/ends unknown")).into());
    };
    let axes = cx
        .ints_of(3, "axes")
        .unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = cx
        .ints_of(4, "steps")
        .unwrap_or_else(|| vec![1; starts.len()]);
    if axes.len() != starts.len() || ends.len() != starts.len() || steps.len() != starts.len() {
        return Err(bad(format!(
            "Slice `{name}`: inconsistent starts/ends/axes/steps"
        ))
        .into());
    }
    let mut shape = v.shape.clone();
    let mut ints = v
        .ints
        .as_deref()
        .filter(|i| v.rank() == 1 && i.len() as u64 == v.shape[0])
        .map(<[i64]>::to_vec);
    for i in 0..starts.len() {
        let a = norm_axis(axes[i], v.rank()).ok_or_else(|| bad("Slice: bad axis"))?;
        let d = v.shape[a] as i128;
        let step = steps[i] as i128;
        if step == 0 {
            return Err(bad("Slice with step 0").into());
        }
        let fix = |x: i64, lo: i128, hi: i128| {
            let x = x as i128;
            (if x < 0 { x + d } else { x }).clamp(lo, hi)
        };
        // An empty axis stays empty (the clamps below need d >= 1 for a negative step).
        if d == 0 {
            shape[a] = 0;
            if let Some(v) = ints.as_mut() {
                v.clear();
            }
            continue;
        }
        let (s, e) = if step > 0 {
            (fix(starts[i], 0, d), fix(ends[i], 0, d))
        } else {
            (fix(starts[i], 0, d - 1), fix(ends[i], -1, d - 1))
        };
        let len = if step > 0 {
            ((e - s).max(0) + step - 1) / step
        } else {
            ((s - e).max(0) + (-step) - 1) / (-step)
        };
        shape[a] = len as u64;
        if let Some(v) = ints.as_mut() {
            let mut out = Vec::new();
            let mut j = s;
            while out.len() < len as usize {
                out.push(v.get(j as usize).copied().unwrap_or(0));
                j += step;
            }
            *v = out;
        }
    }
    one(Val::of(v.dtype, shape, ints))
}

fn gather(cx: &Cx<'_>) -> Inferred {
    let (d, idx) = (cx.need(0)?, cx.need(1)?);
    let ax = norm_axis(cx.n.attr_i("axis", 0), d.rank()).ok_or_else(|| bad("Gather: bad axis"))?;
    let mut shape = d.shape[..ax].to_vec();
    shape.extend_from_slice(&idx.shape);
    shape.extend_from_slice(&d.shape[ax + 1..]);
    let ints = (|| {
        let (dv, iv) = (d.ints.as_ref()?, idx.ints.as_ref()?);
        if d.rank() != 1 {
            return None;
        }
        let len = dv.len() as i64;
        iv.iter()
            .map(|&i| dv.get((if i < 0 { i + len } else { i }) as usize).copied())
            .collect()
    })();
    one(Val::of(d.dtype, shape, ints))
}

fn gather_elements(cx: &Cx<'_>) -> Inferred {
    one(Val::new(cx.need(0)?.dtype, cx.need(1)?.shape.clone()))
}

fn gather_nd(cx: &Cx<'_>) -> Inferred {
    let (d, idx) = (cx.need(0)?, cx.need(1)?);
    let b = cx.n.attr_i("batch_dims", 0).max(0) as usize;
    let k = idx
        .shape
        .last()
        .map(|&k| k as usize)
        .filter(|&k| b + k <= d.rank())
        .ok_or_else(|| {
            bad(format!(
                "GatherND `{}`: index depth exceeds the data's rank",
                cx.n.name
            ))
        })?;
    let mut shape = idx.shape[..idx.rank() - 1].to_vec();
    shape.extend_from_slice(&d.shape[b + k..]);
    one(Val::new(d.dtype, shape))
}

/// Reads the gathered rows and the indices, writes the output.
fn gather_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    Ok(Cost {
        elements: 2.0 * cx.out0 + elements(cx.ins.get(1).copied().flatten())?,
        ..cx.moved()
    })
}

fn expand(cx: &Cx<'_>) -> Inferred {
    let name = cx.n.name;
    let v = cx.need(0)?;
    let s = cx.need_ints(1, || bad(format!("Expand `{name}`: shape unknown")))?;
    let s = to_dims(&s).ok_or_else(|| bad("Expand: negative dim"))?;
    let shape = broadcast(&[&v.shape, &s])
        .ok_or_else(|| bad(format!("Expand `{name}`: does not broadcast")))?;
    let ints = match &v.ints {
        Some(iv) if iv.len() == 1 && numel(&shape)? as usize <= MAX_INTS => {
            Some(vec![iv[0]; numel(&shape)? as usize])
        }
        Some(iv) if shape == v.shape => Some(iv.to_vec()),
        _ => None,
    };
    one(Val::of(v.dtype, shape, ints))
}

fn tile(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let r = cx.need_ints(1, || bad("Tile: repeats unknown"))?;
    if r.len() != v.rank() {
        return Err(bad("Tile: repeats do not match the rank").into());
    }
    let shape = v
        .shape
        .iter()
        .zip(&r)
        .map(|(&d, &k)| to_dim(k).and_then(|k| d.checked_mul(k)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("Tile overflows"))?;
    one(Val::new(v.dtype, shape))
}

fn pad(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let p = cx
        .ints_of(1, "pads")
        .ok_or_else(|| bad("Pad: pads unknown"))?;
    if p.len() != 2 * v.rank() {
        return Err(bad("Pad: pads do not match the rank (axes input not supported)").into());
    }
    let r = v.rank();
    let shape = (0..r)
        .map(|i| u64::try_from(v.shape[i] as i128 + p[i] as i128 + p[i + r] as i128).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("Pad: negative size"))?;
    one(Val::new(v.dtype, shape))
}
