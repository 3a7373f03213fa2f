#!/usr/bin/env python3
"""Make the ONNX import fixtures of jouleprint (shared/tests/fixtures/).

For each model: build it with random weights (no download of pretrained
weights), export it to ONNX with torch.onnx.export (dynamo exporter), then save
the graph with every initializer moved to external data, so the committed
`.onnx` file is structure only (names, dtypes, dims); the `.onnx.data` weight
file is ignored by git. The reference counts in `reference.json` come from
torch.utils.flop_counter.FlopCounterMode on a forward pass of the same model
built on the `meta` device (the fused-attention trap: see
shared/reference/README.md), and the parameter count from model.parameters().

    pip install torch torchvision transformers onnx onnxscript
    python3 tools/make-fixtures.py                 # fixtures + reference.json
    python3 tools/make-fixtures.py --inline-resnet target/fixtures/resnet50-inline.onnx
        # also the ~100 MB ResNet-50 with weights inline, for the benchmark (not committed)
"""
import argparse
import json
import os
import sys

import onnx
import torch
from torch.utils.flop_counter import FlopCounterMode

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "shared", "tests", "fixtures")
BATCH = 1
SEQ = 128
IMAGE = 224


def vision(name):
    import torchvision

    def build():
        return getattr(torchvision.models, name)(weights=None)

    def inputs(device, batch=BATCH):
        return (torch.randn(batch, 3, IMAGE, IMAGE, device=device),)

    dyn = {"x": {0: torch.export.Dim("batch", min=1, max=4096)}}
    return build, inputs, dyn, {"batch": BATCH, "image": IMAGE}


def hf(kind):
    import transformers as tf

    def build():
        if kind == "bert-base":
            return tf.BertModel(tf.BertConfig(attn_implementation="eager"), add_pooling_layer=True)
        if kind == "gpt2":
            return tf.GPT2LMHeadModel(tf.GPT2Config(attn_implementation="eager"))
        if kind == "llama-small":
            cfg = tf.LlamaConfig(
                hidden_size=512,
                intermediate_size=1376,
                num_hidden_layers=4,
                num_attention_heads=8,
                num_key_value_heads=2,
                vocab_size=32000,
                max_position_embeddings=2048,
                attn_implementation="eager",
                use_cache=False,
            )
            return tf.LlamaForCausalLM(cfg)
        raise ValueError(kind)

    def inputs(device, batch=BATCH):
        return (torch.randint(0, 1000, (batch, SEQ), device=device),)

    batch = torch.export.Dim("batch", min=1, max=1024)
    seq = torch.export.Dim("seq", min=2, max=512)
    dyn = {"input_ids": {0: batch, 1: seq}}
    return build, inputs, dyn, {"batch": BATCH, "seq": SEQ}


MODELS = {
    "resnet50": vision("resnet50"),
    "vit_b_16": vision("vit_b_16"),
    "bert-base": hf("bert-base"),
    "gpt2": hf("gpt2"),
    "llama-small": hf("llama-small"),
}


class Wrap(torch.nn.Module):
    """Calls the model with one positional input and returns its first output."""

    def __init__(self, m, key):
        super().__init__()
        self.m = m
        self.key = key

    def forward(self, x):
        out = self.m(**{self.key: x}) if self.key == "input_ids" else self.m(x)
        if isinstance(out, torch.Tensor):
            return out
        return out[0]


def reference(build, inputs):
    """FlopCounterMode on meta tensors: counts the unfused attention products.

    Models whose forward needs a value on the host (HF masks call .item()) are
    counted on CPU instead; they are built with eager attention, so no fused
    kernel hides products from the counter either way."""
    try:
        with torch.device("meta"):
            m = build().eval()
            x = inputs("meta")
        where = "meta tensors"
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            m(*x)
    except RuntimeError:
        torch.manual_seed(0)
        m = build().eval()
        x = inputs("cpu")
        where = "CPU tensors (eager attention; meta tensors fail in this model's forward)"
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            m(*x)
    params = sum(p.numel() for p in m.parameters())
    return counter.get_total_flops(), params, where


def export(name, build, inputs, dyn, path, external):
    torch.manual_seed(0)
    m = build().eval()
    key = "x" if "x" in dyn else "input_ids"
    w = Wrap(m, key).eval()
    # An example batch of 2: torch.export specialises a dimension of size 1.
    x = inputs("cpu", 2)
    try:
        prog = torch.onnx.export(w, x, dynamo=True, dynamic_shapes=({k: v for k, v in dyn[key].items()},), optimize=True)
    except Exception as e:  # noqa: BLE001 - fall back to a static export
        print(f"{name}: dynamic export failed ({type(e).__name__}: {str(e)[:200]}), exporting static shapes", file=sys.stderr)
        prog = torch.onnx.export(w, inputs("cpu"), dynamo=True, optimize=True)
    model = prog.model_proto
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dynamic = any(d.dim_param for d in dims)
    # Structure only: drop the exporter's per-node stack traces and doc strings.
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        del vi.metadata_props[:]
    for t in model.graph.initializer:
        del t.metadata_props[:]
    if external:
        data = os.path.basename(path) + ".data"
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)
    else:
        onnx.save_model(model, path)
    return dynamic


def llama_7b(path):
    """Llama-2-7B's structure, exported from the meta device (no weights exist):
    every initializer is written as an external-data stub, so the file is the
    graph only. FlopCounterMode cannot run this model on meta tensors (its mask
    code calls .item()) and 27 GB of fp32 weights do not fit here, so the
    reference is the closed form of the same forward pass: 2 FLOPs per
    multiply-add of every linear layer (the output head included) at each of
    the SEQ positions, plus the two attention products (4 * SEQ^2 * hidden per layer)."""
    import onnx_ir as ir
    import transformers as tf

    L, h, i, v = 32, 4096, 11008, 32000
    cfg = tf.LlamaConfig(hidden_size=h, intermediate_size=i, num_hidden_layers=L, num_attention_heads=32,
                         num_key_value_heads=32, vocab_size=v, attn_implementation="eager", use_cache=False)
    with torch.device("meta"):
        m = tf.LlamaForCausalLM(cfg).eval()
        params = sum(p.numel() for p in m.parameters())
        x = torch.randint(0, 1000, (2, SEQ))
    batch = torch.export.Dim("batch", min=1, max=1024)
    seq = torch.export.Dim("seq", min=2, max=512)
    prog = torch.onnx.export(Wrap(m, "input_ids"), (x,), dynamo=True, optimize=False,
                             dynamic_shapes=({0: batch, 1: seq},))
    model = prog.model
    offset = 0
    data = os.path.basename(path) + ".data"
    for name, value in list(model.graph.initializers.items()):
        n = 1
        for d in value.shape:
            n *= int(d)
        nbytes = n * value.dtype.itemsize
        value.const_value = ir.ExternalTensor(data, offset, nbytes, value.dtype, shape=value.shape, name=name,
                                              base_dir=os.path.dirname(path))
        offset += nbytes
    proto = ir.serde.serialize_model(model)
    for node in proto.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    onnx.save_model(proto, path)
    flops = 2 * SEQ * (L * (4 * h * h + 3 * h * i) + v * h) + L * 4 * SEQ * SEQ * h
    return flops, params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="models to make (default: all)")
    ap.add_argument("--inline-resnet", help="also write ResNet-50 with its weights inline to this path")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    ref_path = os.path.join(OUT, "reference.json")
    refs = json.load(open(ref_path)) if os.path.exists(ref_path) else {}
    for name, (build, inputs, dyn, shape) in MODELS.items():
        if a.only and name not in a.only:
            continue
        flops, params, where = reference(build, inputs)
        path = os.path.join(OUT, name + ".onnx")
        dynamic = export(name, build, inputs, dyn, path, external=True)
        refs[name] = {
            "file": name + ".onnx",
            **shape,
            "flops": int(flops),
            "params": int(params),
            "dynamic_shapes": dynamic,
            "counted_with": f"torch {torch.__version__} FlopCounterMode on {where}, forward, no_grad",
        }
        print(name, refs[name], os.path.getsize(path), "bytes", file=sys.stderr)
    if not a.only or "llama-7b" in a.only:
        flops, params = llama_7b(os.path.join(OUT, "llama-7b.onnx"))
        refs["llama-7b"] = {
            "file": "llama-7b.onnx",
            "batch": BATCH,
            "seq": SEQ,
            "flops": int(flops),
            "params": int(params),
            "dynamic_shapes": True,
            "counted_with": "closed form (see llama_7b in tools/make-fixtures.py); structure exported from the meta device",
        }
        print("llama-7b", refs["llama-7b"], file=sys.stderr)
    with open(ref_path, "w") as f:
        json.dump(refs, f, indent=2, sort_keys=True)
        f.write("\n")
    if a.inline_resnet:
        build, inputs, dyn, _ = MODELS["resnet50"]
        os.makedirs(os.path.dirname(os.path.abspath(a.inline_resnet)), exist_ok=True)
        export("resnet50-inline", build, inputs, dyn, a.inline_resnet, external=False)
        print("wrote", a.inline_resnet, os.path.getsize(a.inline_resnet), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
