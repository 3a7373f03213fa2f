//! Attention: the `com.microsoft` Attention and MultiHeadAttention contrib ops,
//! the opset-23 Attention op, rotary embeddings. Both batched products count
//! over the full score matrix (a causal mask does not halve them).

use super::{
    bad, invalid, one, op, same_shape, Cost, CostCx, CostRule::*, Cx, Fail, Inferred, Node, OpDef,
    Val,
};
use crate::model::graph::OpKind;
use crate::InputError;

pub(super) const OPS: &[OpDef] = &[
    OpDef {
        domain: Some("com.microsoft"),
        ..op(
            &["Attention"],
            packed_attention,
            Custom(packed_attention_cost),
        )
    },
    op(
        &["MultiHeadAttention"],
        multi_head_attention,
        Custom(attention_cost),
    ),
    op(&["Attention"], attention, Custom(attention_cost)),
    op(&["RotaryEmbedding"], same_shape, PerOut(3.0)),
];

/// A fused attention kernel; `other`: its softmax, 5 per score.
fn fused(cx: &CostCx<'_>, flops: f64, mnk: [f64; 3], other: f64) -> Cost {
    Cost {
        kind: OpKind::Attention,
        flops,
        other,
        mnk: Some(mnk),
        ..cx.moved()
    }
}

/// A head-count attribute: absent is 1 (as before), present must be at least 1.
fn heads(n: &Node<'_>, name: &str) -> Result<u64, Fail> {
    let h = n.attr_i(name, 1);
    u64::try_from(h).ok().filter(|&h| h >= 1).ok_or_else(|| {
        invalid(
            &format!("attribute `{name}`"),
            format!("= {h}: must be at least 1"),
        )
    })
}

/// `qkv_hidden_sizes` (Q, K, V widths), or the packed weight's width in thirds.
/// Given, they are non-negative, Q and K match (Q x K^T) and they sum to the width.
fn qkv_sizes(n: &Node<'_>, width: u64) -> Result<[u64; 3], Fail> {
    let Some(s) = n.attr_ints("qkv_hidden_sizes") else {
        return Ok([width / 3; 3]);
    };
    let what = "attribute `qkv_hidden_sizes`";
    let sizes: [u64; 3] = s
        .iter()
        .map(|&x| u64::try_from(x).ok())
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            invalid(
                what,
                format!("= {s:?}: must be three non-negative widths (Q, K, V)"),
            )
        })?;
    let sum = sizes.iter().try_fold(0u64, |a, &x| a.checked_add(x));
    if sum != Some(width) {
        return Err(invalid(
            what,
            format!("= {s:?} does not sum to the weight's width {width}"),
        ));
    }
    if sizes[0] != sizes[1] {
        return Err(invalid(
            what,
            format!("= {s:?}: the Q and K widths must be equal"),
        ));
    }
    Ok(sizes)
}

/// `com.microsoft` Attention: input (B, S, H) with the packed QKV weight (H, 3H).
fn packed_attention(cx: &Cx<'_>) -> Inferred {
    let (v, w) = (cx.need(0)?, cx.need(1)?);
    if v.rank() != 3 || w.rank() != 2 {
        return Err(bad("Attention: expects input (B,S,H) and weights (H, 3H)").into());
    }
    heads(cx.n, "num_heads")?;
    let [_, _, vh] = qkv_sizes(cx.n, w.shape[1])?;
    one(Val::new(v.dtype, vec![v.shape[0], v.shape[1], vh]))
}

/// The QKV projection, then both products against the past and present keys.
fn packed_attention_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let n = cx.n;
    let (x, w) = (cx.operand(0, "Attention")?, cx.operand(1, "Attention")?);
    let (b, s, h) = (x.shape[0] as f64, x.shape[1] as f64, x.shape[2] as f64);
    let qkv = w.shape[1] as f64;
    // Validated by `packed_attention`, which ran first.
    let sizes = n.attr_ints("qkv_hidden_sizes").filter(|s| s.len() == 3);
    let (qh, vh) = sizes.map_or((qkv / 3.0, qkv / 3.0), |s| (s[0] as f64, s[2] as f64));
    let heads = n.attr_i("num_heads", 1).max(1) as f64;
    let past = cx
        .ins
        .get(4)
        .copied()
        .flatten()
        .map_or(0.0, |p| p.shape.get(3).copied().unwrap_or(0) as f64);
    let l = s + past;
    let flops = 2.0 * b * s * h * qkv + 2.0 * b * s * l * qh + 2.0 * b * s * l * vh;
    Ok(fused(cx, flops, [b * s, qkv, h], 5.0 * b * heads * s * l))
}

fn multi_head_attention(cx: &Cx<'_>) -> Inferred {
    let q = cx.need(0)?;
    heads(cx.n, "num_heads")?;
    let ok = |v: Option<&Val>| v.is_none_or(|v| matches!(v.rank(), 3 | 4));
    if q.rank() != 3 || !ok(cx.inp(1)) || !ok(cx.inp(2)) {
        return Err(bad(
            "MultiHeadAttention: expects rank-3 query and rank-3 or rank-4 key and value",
        )
        .into());
    }
    let vdim = match cx.inp(2) {
        Some(v) if v.rank() == 3 => v.shape[2],
        Some(v) if v.rank() == 4 => v.shape[1] * v.shape[3],
        _ => *q.shape.last().unwrap_or(&0),
    };
    one(Val::new(
        q.dtype,
        vec![q.shape[0], q.shape.get(1).copied().unwrap_or(1), vdim],
    ))
}

/// Opset-23 Attention: Q, K, V of rank 4 (B, heads, S, head size) or 3 (B, S, width).
fn attention(cx: &Cx<'_>) -> Inferred {
    let (q, k, v) = (cx.need(0)?, cx.need(1)?, cx.need(2)?);
    if k.rank() != q.rank() {
        return Err(bad("Attention: Q and K ranks differ").into());
    }
    let mut shape = q.shape.clone();
    if q.rank() == 4 && v.rank() == 4 {
        shape[3] = v.shape[3];
    } else if q.rank() == 3 && v.rank() == 3 {
        // 3-D inputs pack the heads into the last axis: the head counts must split it.
        let (qh, kvh) = (heads(cx.n, "q_num_heads")?, heads(cx.n, "kv_num_heads")?);
        let split = |attr: &str, h: u64, what: &str, width: u64| {
            if width.is_multiple_of(h) {
                Ok(width / h)
            } else {
                Err(invalid(
                    &format!("attribute `{attr}`"),
                    format!("= {h} does not divide the {what} width {width}"),
                ))
            }
        };
        let qd = split("q_num_heads", qh, "query", q.shape[2])?;
        let kd = split("kv_num_heads", kvh, "key", k.shape[2])?;
        split("kv_num_heads", kvh, "value", v.shape[2])?;
        if !qh.is_multiple_of(kvh) {
            return Err(invalid(
                "attribute `kv_num_heads`",
                format!("= {kvh} does not divide q_num_heads = {qh} (grouped-query attention)"),
            ));
        }
        if qd != kd {
            return Err(invalid(
                "attribute `q_num_heads`",
                format!(
                    "= {qh} and kv_num_heads = {kvh} give query heads of {qd} and key heads of {kd}: they must be equal"
                ),
            ));
        }
        shape[2] = v.shape[2] / kvh * qh;
    } else {
        return Err(bad("Attention: expects rank-3 or rank-4 Q and V").into());
    }
    one(Val::new(q.dtype, shape))
}

/// MultiHeadAttention and opset-23 Attention: Q x K^T and scores x V.
fn attention_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let n = cx.n;
    let (q, k, v) = (
        cx.operand(0, "Attention")?,
        cx.operand(1, "Attention: key unknown")?,
        cx.operand(2, "Attention: value unknown")?,
    );
    let seq_axis = |v: &Val| if v.rank() == 4 { v.shape[2] } else { v.shape[1] } as f64;
    let (b, s, l) = (q.shape[0] as f64, seq_axis(q), seq_axis(k));
    // Total query width (heads x head size) and value width.
    let heads_attr = if n.op == "Attention" {
        "q_num_heads"
    } else {
        "num_heads"
    };
    let heads = n.attr_i(heads_attr, 1).max(1) as f64;
    let (qw, hq) = if q.rank() == 4 {
        (q.shape[1] as f64 * q.shape[3] as f64, q.shape[1] as f64)
    } else {
        (q.shape[2] as f64, heads)
    };
    let vw = if v.rank() == 4 {
        hq * v.shape[3] as f64
    } else {
        let kvh = n.attr_i("kv_num_heads", 0);
        if n.op == "Attention" && kvh > 0 {
            v.shape[2] as f64 / kvh as f64 * hq
        } else {
            v.shape[2] as f64
        }
    };
    let flops = 2.0 * b * s * l * qw + 2.0 * b * s * l * vw;
    Ok(fused(cx, flops, [s, l, qw / hq], 5.0 * b * hq * s * l))
}
