//! Views and shape queries: Identity, Dropout, Shape, Size, Flatten, Reshape,
//! Squeeze, Unsqueeze. No kernel and no traffic; small integer values are carried
//! through, which resolves dynamic exports' shape arithmetic.

use super::{bad, norm_axis, numel, one, op, to_dim, CostRule::*, Cx, Inferred, OpDef, Val};
use crate::InputError;

pub(super) const OPS: &[OpDef] = &[
    op(&["Identity"], identity, Free),
    op(&["Dropout"], dropout, Free),
    op(&["Shape"], shape_of, Free),
    op(&["Size"], size, Free),
    op(&["Flatten"], flatten, Free),
    op(&["Reshape"], reshape, Free),
    op(&["Squeeze"], squeeze, Free),
    op(&["Unsqueeze"], unsqueeze, Free),
];

/// The first input with its values.
fn identity(cx: &Cx<'_>) -> Inferred {
    one(cx.need(0)?.clone())
}

/// Identity, plus the boolean mask when asked for.
fn dropout(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let mut o = vec![Some(v.clone())];
    if cx.n.outputs.len() > 1 {
        o.push(Some(Val::new(9, v.shape.clone())));
    }
    Ok(Some(o))
}

fn shape_of(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let r = v.rank() as i64;
    let clamp = |a: i64| (if a < 0 { a + r } else { a }).clamp(0, r) as usize;
    let s = clamp(cx.n.attr_i("start", 0));
    let e = clamp(cx.n.attr_i("end", r));
    let dims: Vec<i64> = v.shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
    one(Val::ints(7, vec![dims.len() as u64], dims))
}

fn size(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    one(Val::ints(7, vec![], vec![v.numel()? as i64]))
}

fn flatten(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let a = cx.n.attr_i("axis", 1);
    let a = if a < 0 { a + v.rank() as i64 } else { a }.clamp(0, v.rank() as i64) as usize;
    one(Val::new(
        v.dtype,
        vec![numel(&v.shape[..a])?, numel(&v.shape[a..])?],
    ))
}

fn reshape(cx: &Cx<'_>) -> Inferred {
    let n = cx.n;
    let v = cx.need(0)?;
    let s = cx.need_ints(1, || {
        bad(format!(
            "Reshape `{}`: the target shape is not a known constant",
            n.name
        ))
    })?;
    let allowzero = n.attr_i("allowzero", 0) != 0;
    let total = v.numel()?;
    let mut out = Vec::with_capacity(s.len());
    let mut infer_at = None;
    for (i, &d) in s.iter().enumerate() {
        match d {
            0 if !allowzero => out.push(
                *v.shape
                    .get(i)
                    .ok_or_else(|| bad("Reshape: 0 past the input's rank"))?,
            ),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            d => out
                .push(to_dim(d).ok_or_else(|| bad(format!("Reshape `{}`: bad dim {d}", n.name)))?),
        }
    }
    if let Some(i) = infer_at {
        let rest = numel(&out)?;
        if rest == 0 || total % rest != 0 {
            return Err(bad(format!(
                "Reshape `{}`: {total} elements do not fit {s:?}",
                n.name
            ))
            .into());
        }
        out[i] = total / rest;
    }
    if numel(&out)? != total {
        return Err(bad(format!(
            "Reshape `{}`: {:?} -> {s:?} changes the element count",
            n.name, v.shape
        ))
        .into());
    }
    one(Val::with(v.dtype, out, v.ints.clone()))
}

/// `axes` normalised against `rank`, or `err`.
fn axes_in(axes: &[i64], rank: usize, err: &str) -> Result<Vec<usize>, InputError> {
    let mut ax: Vec<usize> = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Option<_>>()
        .ok_or_else(|| bad(err))?;
    ax.sort_unstable();
    Ok(ax)
}

fn squeeze(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let mut shape = v.shape.clone();
    match cx.ints_of(1, "axes") {
        None => shape.retain(|&d| d != 1),
        Some(ax) => {
            let mut ax = axes_in(&ax, v.rank(), "Squeeze: bad axis")?;
            ax.dedup();
            for a in ax.into_iter().rev() {
                shape.remove(a);
            }
        }
    }
    one(Val::with(v.dtype, shape, v.ints.clone()))
}

fn unsqueeze(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let ax = cx
        .ints_of(1, "axes")
        .ok_or_else(|| bad(format!("Unsqueeze `{}`: axes unknown", cx.n.name)))?;
    let mut shape = v.shape.clone();
    for a in axes_in(&ax, v.rank() + ax.len(), "Unsqueeze: bad axis")? {
        if a > shape.len() {
            return Err(bad("Unsqueeze: bad axis").into());
        }
        shape.insert(a, 1);
    }
    one(Val::with(v.dtype, shape, v.ints.clone()))
}
