//! Normalisations: softmax and the norm layers (same shape out as in).

use super::{op, same_shape, CostRule::*, OpDef};

pub(super) const OPS: &[OpDef] = &[
    op(&["Softmax", "LogSoftmax"], same_shape, PerOut(5.0)),
    // Inference form: a scale and a shift per element.
    op(&["BatchNormalization"], same_shape, PerOut(2.0)),
    op(
        &[
            "LayerNormalization",
            "InstanceNormalization",
            "GroupNormalization",
            "SimplifiedLayerNormalization",
            "SkipLayerNormalization",
            "RMSNormalization",
            "SkipSimplifiedLayerNormalization",
            "LpNormalization",
        ],
        same_shape,
        PerOut(8.0),
    ),
];
