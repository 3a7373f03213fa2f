//! Element-wise ops: activations, arithmetic and comparisons (folded on small
//! integer tensors, for shape arithmetic), `Where`, casts.

use super::{
    bad, broadcast, is_float, is_int, numel, one, op, same_shape, CostRule::*, Cx, Inferred, Ints,
    OpDef, Val, MAX_INTS,
};

pub(super) const OPS: &[OpDef] = &[
    op(
        &[
            "Relu",
            "Sqrt",
            "Neg",
            "Abs",
            "Reciprocal",
            "Clip",
            "LeakyRelu",
            "PRelu",
            "Not",
            "Floor",
            "Ceil",
            "Round",
        ],
        same_shape,
        PerOut(1.0),
    ),
    op(
        &[
            "Sigmoid",
            "Tanh",
            "Erf",
            "Exp",
            "Log",
            "Sin",
            "Cos",
            "Softplus",
            "Elu",
            "Selu",
            "HardSigmoid",
            "HardSwish",
            "Silu",
            "Swish",
        ],
        same_shape,
        PerOut(4.0),
    ),
    op(
        &["Gelu", "FastGelu", "BiasGelu", "QuickGelu", "Mish"],
        same_shape,
        PerOut(8.0),
    ),
    op(&["IsNaN", "IsInf", "Sign", "Celu"], same_shape, Moved),
    op(
        &["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min"],
        arithmetic,
        PerOut(1.0),
    ),
    op(&["Sum", "Mean", "BitShift"], arithmetic, Moved),
    op(
        &["Equal", "Less", "Greater", "And", "Or"],
        comparison,
        PerOut(1.0),
    ),
    op(&["LessOrEqual", "GreaterOrEqual", "Xor"], comparison, Moved),
    op(&["Where"], where_, PerOut(1.0)),
    op(&["Cast", "CastLike"], cast, Moved),
];

fn arithmetic(cx: &Cx<'_>) -> Inferred {
    broadcasting(cx, None)
}

fn comparison(cx: &Cx<'_>) -> Inferred {
    broadcasting(cx, Some(9))
}

/// A broadcasting op of `dtype` (default: the first input's).
fn broadcasting(cx: &Cx<'_>, dtype: Option<i32>) -> Inferred {
    let n = cx.n;
    let vals = cx.need_all()?;
    let shapes: Vec<&[u64]> = vals.iter().map(|v| v.shape.as_slice()).collect();
    let shape = broadcast(&shapes).ok_or_else(|| {
        bad(format!(
            "{} `{}`: shapes {shapes:?} do not broadcast",
            n.op, n.name
        ))
    })?;
    let dtype = dtype.unwrap_or(vals[0].dtype);
    let ints = if vals.len() == 2 {
        int_binary(n.op, vals[0], vals[1], &shape)
    } else {
        None
    };
    one(Val::of(dtype, shape, ints))
}

/// Elementwise integer arithmetic on small constant tensors (shape computations).
fn int_binary(op: &str, a: &Val, b: &Val, shape: &[u64]) -> Option<Vec<i64>> {
    // Float division of integral values stays exact only when it divides evenly.
    let exact_div = is_float(a.dtype) || is_float(b.dtype);
    let (x, y) = (a.ints.as_ref()?, b.ints.as_ref()?);
    let n = numel(shape).ok()? as usize;
    if n > MAX_INTS || (x.len() != n && x.len() != 1) || (y.len() != n && y.len() != 1) {
        return None;
    }
    let get = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    (0..n)
        .map(|i| {
            let (p, q) = (get(x, i), get(y, i));
            Some(match op {
                "Add" => p.checked_add(q)?,
                "Sub" => p.checked_sub(q)?,
                "Mul" => p.checked_mul(q)?,
                "Div" if exact_div && p.checked_rem(q)? != 0 => return None,
                "Div" => p.checked_div_euclid(q).map(|_| p / q)?,
                "Pow" => p.checked_pow(u32::try_from(q).ok()?)?,
                "Mod" => p.checked_rem(q)?,
                "Max" => p.max(q),
                "Min" => p.min(q),
                "Equal" => i64::from(p == q),
                "Less" => i64::from(p < q),
                "Greater" => i64::from(p > q),
                "LessOrEqual" => i64::from(p <= q),
                "GreaterOrEqual" => i64::from(p >= q),
                "And" => i64::from(p != 0 && q != 0),
                "Or" => i64::from(p != 0 || q != 0),
                _ => return None,
            })
        })
        .collect()
}

fn where_(cx: &Cx<'_>) -> Inferred {
    let (c, a, b) = (cx.need(0)?, cx.need(1)?, cx.need(2)?);
    let shape = broadcast(&[&c.shape, &a.shape, &b.shape])
        .ok_or_else(|| bad(format!("Where `{}`: shapes do not broadcast", cx.n.name)))?;
    let ints = (|| {
        let (ci, ai, bi) = (c.ints.as_ref()?, a.ints.as_ref()?, b.ints.as_ref()?);
        // Never more values than a value may hold, whatever the broadcast shape.
        let k = usize::try_from(numel(&shape).ok()?)
            .ok()
            .filter(|&k| k <= MAX_INTS)?;
        let g = |v: &[i64], i: usize| v.get(if v.len() == 1 { 0 } else { i }).copied();
        (0..k)
            .map(|i| if g(ci, i)? != 0 { g(ai, i) } else { g(bi, i) })
            .collect()
    })();
    one(Val::of(a.dtype, shape, ints))
}

fn cast(cx: &Cx<'_>) -> Inferred {
    let v = cx.need(0)?;
    let to = if cx.n.op == "Cast" {
        cx.n.attr_i("to", 1) as i32
    } else {
        cx.need(1)?.dtype
    };
    // Integral values survive casts to ints and floats (shape arithmetic).
    let ints = match to {
        9 => v
            .ints
            .as_ref()
            .map(|x| x.iter().map(|&x| i64::from(x != 0)).collect::<Ints>()),
        t if is_int(t) || is_float(t) => v.ints.clone(),
        _ => None,
    };
    one(Val::with(to, v.shape.clone(), ints))
}
