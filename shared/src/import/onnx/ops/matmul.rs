//! Matrix products: MatMul, Gemm, Einsum. 2 FLOPs per multiply-add.

use super::{
    bad, broadcast, invalid, numel, one, op, Cost, CostCx, CostRule::*, Cx, Fail, Inferred, Node,
    OpDef, Val,
};
use crate::model::graph::OpKind;
use crate::InputError;
use std::collections::{BTreeSet, HashMap};

pub(super) const OPS: &[OpDef] = &[
    op(&["MatMul"], matmul, Custom(matmul_cost)),
    op(&["Gemm"], gemm, Custom(gemm_cost)),
    op(&["Einsum"], einsum, Custom(einsum_cost)),
];

/// A counted matrix product of `flops`, `mnk` the shape of one product.
fn product(cx: &CostCx<'_>, flops: f64, mnk: [f64; 3]) -> Cost {
    Cost {
        kind: OpKind::Matmul,
        flops,
        mnk: Some(mnk),
        ..cx.moved()
    }
}

fn matmul(cx: &Cx<'_>) -> Inferred {
    let (a, b) = (cx.need(0)?, cx.need(1)?);
    one(Val::new(a.dtype, matmul_shape(cx.n, a, b)?.0))
}

fn matmul_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let (a, b) = (cx.operand(0, "MatMul")?, cx.operand(1, "MatMul")?);
    let (_, [batch, m, nn, k]) = matmul_shape(cx.n, a, b)?;
    let (batch, m, nn, k) = (batch as f64, m as f64, nn as f64, k as f64);
    // A weight (2-D right operand) folds the left operand's batch into m.
    let mnk = if b.rank() <= 2 {
        [batch * m, nn, k]
    } else {
        [m, nn, k]
    };
    Ok(product(cx, 2.0 * batch * m * nn * k, mnk))
}

/// MatMul's output shape and `[batch, m, n, k]`.
fn matmul_shape(n: &Node<'_>, a: &Val, b: &Val) -> Result<(Vec<u64>, [u64; 4]), InputError> {
    if a.rank() == 0 || b.rank() == 0 {
        return Err(bad(format!("MatMul `{}`: scalar operand", n.name)));
    }
    let (m, k) = if a.rank() == 1 {
        (1, a.shape[0])
    } else {
        (a.shape[a.rank() - 2], a.shape[a.rank() - 1])
    };
    let (k2, nn) = if b.rank() == 1 {
        (b.shape[0], 1)
    } else {
        (b.shape[b.rank() - 2], b.shape[b.rank() - 1])
    };
    if k != k2 {
        return Err(bad(format!(
            "MatMul `{}`: inner dims {:?} x {:?} differ",
            n.name, a.shape, b.shape
        )));
    }
    let batch_dims = |v: &Val| {
        if v.rank() > 2 {
            v.shape[..v.rank() - 2].to_vec()
        } else {
            Vec::new()
        }
    };
    let (ab, bb) = (batch_dims(a), batch_dims(b));
    let batch = broadcast(&[&ab, &bb]).unwrap_or_default();
    if ab.len().max(bb.len()) > 0 && broadcast(&[&ab, &bb]).is_none() {
        return Err(bad(format!(
            "MatMul `{}`: batch dims do not broadcast",
            n.name
        )));
    }
    let mut out = batch.clone();
    if a.rank() > 1 {
        out.push(m);
    }
    if b.rank() > 1 {
        out.push(nn);
    }
    Ok((out, [numel(&batch)?, m, nn, k]))
}

fn gemm(cx: &Cx<'_>) -> Inferred {
    let (a, b) = (cx.need(0)?, cx.need(1)?);
    let (m, _, nn) = gemm_dims(cx.n, a, b)?;
    one(Val::new(a.dtype, vec![m, nn]))
}

/// Bias not counted.
fn gemm_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let (a, b) = (cx.operand(0, "Gemm")?, cx.operand(1, "Gemm")?);
    let (m, k, nn) = gemm_dims(cx.n, a, b)?;
    let (m, nn, k) = (m as f64, nn as f64, k as f64);
    Ok(product(cx, 2.0 * m * nn * k, [m, nn, k]))
}

/// Gemm's `(m, k, n)` after transA/transB.
fn gemm_dims(n: &Node<'_>, a: &Val, b: &Val) -> Result<(u64, u64, u64), InputError> {
    if a.rank() != 2 || b.rank() != 2 {
        return Err(bad(format!("Gemm `{}`: operands must be matrices", n.name)));
    }
    let (m, k) = if n.attr_i("transA", 0) != 0 {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, nn) = if n.attr_i("transB", 0) != 0 {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return Err(bad(format!("Gemm `{}`: inner dims differ", n.name)));
    }
    Ok((m, k, nn))
}

fn einsum(cx: &Cx<'_>) -> Inferred {
    let e = einsum_dims(cx.n, cx.ins)?;
    one(Val::new(cx.need(0)?.dtype, e.out_shape))
}

/// Two or more operands: contracted pairwise left to right (as `numpy.einsum`
/// without `optimize`), each pair a product over the union of its indices;
/// one operand: element-wise.
fn einsum_cost(cx: &CostCx<'_>) -> Result<Cost, InputError> {
    let es = einsum_dims(cx.n, cx.ins).map_err(Fail::into_error)?;
    if cx.ins.len() >= 2 {
        Ok(product(cx, 2.0 * es.macs, es.mnk))
    } else {
        Ok(Cost {
            other: cx.in_el,
            ..cx.moved()
        })
    }
}

struct Einsum {
    out_shape: Vec<u64>,
    /// Multiply-adds of the pairwise contractions (two operands: the product of every index size).
    macs: f64,
    /// `(m, n, k)` of the largest pairwise contraction.
    mnk: [f64; 3],
}

/// The pseudo-letter of the `i`-th dim under an ellipsis: a private-use
/// character, so no two dims (up to rank 64) and no real letter collide.
fn ell_char(i: usize) -> char {
    char::from_u32(0xE000 + i as u32).unwrap_or('\u{E000}')
}

fn einsum_dims(n: &Node<'_>, ins: &[Option<&Val>]) -> Result<Einsum, Fail> {
    let eq: String = n
        .attr_s("equation")
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ins.len() || ins.iter().any(Option::is_none) {
        return Err(bad(format!(
            "Einsum `{}`: equation {eq:?} does not match its inputs",
            n.name
        ))
        .into());
    }
    let mut sizes: HashMap<char, u64> = HashMap::new();
    let mut ell: Vec<u64> = Vec::new();
    // Sizes of one index in two operands must agree (1 broadcasts).
    let mismatch = |what: String, a: u64, b: u64| {
        invalid(
            &what,
            format!(
                "is {a} in one operand and {b} in another (equation {eq:?}); the sizes must agree"
            ),
        )
    };
    let mut expand = |t: &str, v: &Val| -> Result<Vec<char>, Fail> {
        let letters: Vec<char> = t.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        let has_ell = t.contains("...");
        let ne = if has_ell {
            v.rank()
                .checked_sub(letters.len())
                .ok_or_else(|| bad("Einsum: rank too small"))?
        } else {
            0
        };
        if !has_ell && letters.len() != v.rank() {
            return Err(bad(format!(
                "Einsum `{}`: term {t:?} does not match rank {}",
                n.name,
                v.rank()
            ))
            .into());
        }
        let mut out = Vec::new();
        let mut dim = 0;
        let mut it = t.chars().peekable();
        while let Some(c) = it.next() {
            if c == '.' {
                it.next();
                it.next();
                // Ellipsis dims align on the right, as in broadcasting.
                let base = ell.len().saturating_sub(ne);
                if ell.len() < ne {
                    ell.resize(ne, 1);
                }
                for j in 0..ne {
                    let d = *v
                        .shape
                        .get(dim)
                        .ok_or_else(|| bad("Einsum: bad ellipsis"))?;
                    let e = &mut ell[base + j];
                    if *e != 1 && d != 1 && *e != d {
                        return Err(mismatch("the dims under `...`".into(), *e, d));
                    }
                    *e = (*e).max(d);
                    out.push(ell_char(base + j));
                    dim += 1;
                }
            } else {
                let d = *v
                    .shape
                    .get(dim)
                    .ok_or_else(|| bad("Einsum: term longer than its input's rank"))?;
                let e = sizes.entry(c).or_insert(d);
                if *e == 1 {
                    *e = d;
                } else if d != 1 && *e != d {
                    return Err(mismatch(format!("index `{c}`"), *e, d));
                }
                out.push(c);
                dim += 1;
            }
        }
        Ok(out)
    };
    let mut in_letters = Vec::new();
    for (t, v) in terms.iter().zip(ins) {
        in_letters.push(expand(t, v.ok_or_else(|| bad("Einsum input unknown"))?)?);
    }
    for (i, e) in ell.iter().enumerate() {
        sizes.insert(ell_char(i), *e);
    }
    let out_letters: Vec<char> = match rhs {
        Some(r) => {
            let mut o = Vec::new();
            let mut it = r.chars();
            while let Some(c) = it.next() {
                if c == '.' {
                    it.next();
                    it.next();
                    o.extend((0..ell.len()).map(ell_char));
                } else {
                    o.push(c);
                }
            }
            o
        }
        None => {
            let mut o: Vec<char> = (0..ell.len()).map(ell_char).collect();
            let mut once: Vec<char> = sizes
                .keys()
                .filter(|c| {
                    c.is_ascii_alphabetic()
                        && in_letters.iter().flatten().filter(|x| x == c).count() == 1
                })
                .copied()
                .collect();
            once.sort_unstable();
            o.extend(once);
            o
        }
    };
    let out_shape = out_letters
        .iter()
        .map(|c| sizes.get(c).copied())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            bad(format!(
                "Einsum `{}`: output index not in the inputs",
                n.name
            ))
        })?;
    // Pairwise left to right: each step multiplies over the union of the two
    // operands' indices and keeps those the output or a later operand needs.
    let size = |c: &char| sizes[c] as f64;
    let mut macs = 0.0;
    let mut mnk = [1.0f64; 3];
    let mut best = -1.0;
    let mut cur: Vec<char> = in_letters.first().cloned().unwrap_or_default();
    for (j, b) in in_letters.iter().enumerate().skip(1) {
        let mut union: BTreeSet<char> = cur.iter().copied().collect();
        union.extend(b.iter().copied());
        let step: f64 = union.iter().map(size).product();
        macs += step;
        let keep: Vec<char> = union
            .iter()
            .copied()
            .filter(|c| {
                out_letters.contains(c) || in_letters[j + 1..].iter().any(|t| t.contains(c))
            })
            .collect();
        if step > best {
            best = step;
            mnk = [1.0; 3];
            for c in &union {
                let (ia, ib, io) = (cur.contains(c), b.contains(c), keep.contains(c));
                match (ia, ib, io) {
                    (true, false, true) => mnk[0] *= size(c),
                    (false, true, true) => mnk[1] *= size(c),
                    (true, true, false) => mnk[2] *= size(c),
                    _ => {}
                }
            }
        }
        cur = keep;
    }
    Ok(Einsum {
        out_shape,
        macs,
        mnk,
    })
}
