#!/usr/bin/env python3
"""Turn what the serving cases' `setup` records about each engine run into
the scenario fields the estimator reads since issue 11 (run after build.py):
a continuous-batching engine at full load (`request_rate: inf` in the
ML.ENERGY benchmark) is a deployment with `serving: {saturated: true,
replicas: 1}`, the engine's maximum of concurrent sequences as the
workload's batch, and its tensor degree as `parallelism.tensor` on that many
devices. Plain Hugging Face `generate` cases are left as they are.
Usage: python3 tools/validation/apply_serving.py shared/data/validation/serving.jsonl
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
        stage = s["stages"][c.get("stage", 0)]
        if st.get("engine") == "vllm" and st.get("request_rate") == "inf" and st.get("max_concurrency"):
            tp = st.get("tp") or 1
            stage["workload"]["batch"] = st["max_concurrency"]
            stage["serving"] = {"saturated": True, "replicas": 1}
            if tp > 1:
                stage["parallelism"] = {"tensor": tp}
            s["hardware"]["count"] = tp
        out.append(json.dumps(c, ensure_ascii=False))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
