#!/usr/bin/env python3
"""Turn what the pre-training cases' `setup` records about each run into
scenario fields the estimator reads (run after build.py):

- software `megatron`: every run used a large-scale training framework with
  fused kernels and FlashAttention-style attention (each case's
  `setup.framework` names it);
- `parallelism`, where the tensor and pipeline degrees are published: tensor,
  pipeline, expert (and whether its all-to-all is overlapped), ZeRO stage,
  recomputation and micro-batches, with the workload's
  batch per data-parallel replica (global batch / data degree; where the
  global batch is not published, the scenario's batch x device count);
- FSDP runs (`setup.fsdp`): ZeRO-3 with the published micro-batch.
- runs whose published hours are logged iteration time x iterations x GPUs
  (`setup.hours_from == "iteration_time"`, Pythia): `goodput` 1, since such
  hours leave out the campaign's time outside productive steps.

Where the strategy is not published, the estimator chooses one; nothing else
is changed. Usage: python3 tools/validation/apply_setup.py shared/data/validation/pretraining.jsonl
"""
import json
import sys


def main(path):
    out = []
    for line in open(path):
        if not line.strip():
            continue
        c = json.loads(line)
        st = c.get("setup") or {}
        s = c["scenario"]
        s["software"] = "megatron"
        stage = s["stages"][c.get("stage", 0)]
        w = stage["workload"]
        seq = st.get("seq") or w.get("seq")
        count = s["hardware"]["count"]
        if "tp" in st and "pp" in st:
            tp, pp = st["tp"], st["pp"]
            dp = st.get("dp") or count // (tp * pp)
            if st.get("global_batch_tokens") and seq:
                per_replica = round(st["global_batch_tokens"] / seq / dp)
            else:
                # the scenario's data-parallel view: batch per device x devices
                per_replica = max(1, w["batch"] * count // dp)
            par = {"tensor": tp, "pipeline": pp}
            if st.get("ep", 1) > 1:
                par["expert"] = st["ep"]
            if st.get("overlap_expert_comm"):
                par["overlap_expert_comm"] = True
            if "zero" in st:
                par["zero"] = st["zero"]
            if st.get("recompute"):
                par["recompute"] = st["recompute"]
            mb = st.get("micro_batch")
            if pp > 1:
                par["micro_batches"] = per_replica // (mb or 1)
            elif mb and per_replica % mb == 0 and per_replica // mb > 1:
                par["micro_batches"] = per_replica // mb
            w["batch"] = per_replica
            stage["parallelism"] = par
        elif st.get("fsdp") and st.get("micro_batch") and st.get("global_batch_tokens") and seq:
            dp = st.get("dp") or count
            per_replica = round(st["global_batch_tokens"] / seq / dp)
            par = {"zero": 3, "micro_batches": max(1, per_replica // st["micro_batch"])}
            if st.get("recompute"):
                par["recompute"] = st["recompute"]
            w["batch"] = per_replica
            stage["parallelism"] = par
        if st.get("hours_from") == "iteration_time":
            stage["goodput"] = 1.0
        out.append(json.dumps(c, ensure_ascii=False))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
