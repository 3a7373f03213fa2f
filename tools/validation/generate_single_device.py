import json, collections

DLE = "729963dd47e7c8bd462ad10bfac7a7b0b604e6dd"
DLE_RN50 = f"https://github.com/NVIDIA/DeepLearningExamples/blob/{DLE}/PyTorch/Classification/ConvNets/resnet50v1.5/README.md"
DLE_RN50_2020 = "https://github.com/NVIDIA/DeepLearningExamples/blob/46ff3707e04683e41b79af0f94a74e45f8016786/PyTorch/Classification/ConvNets/resnet50v1.5/README.md"
DLE_CFG = f"https://github.com/NVIDIA/DeepLearningExamples/blob/{DLE}/PyTorch/Classification/ConvNets/configs.yml"
DLE_BERT = f"https://github.com/NVIDIA/DeepLearningExamples/blob/{DLE}/PyTorch/LanguageModeling/BERT/README.md"
LBD = "aa5addb6a53675a649a80036dad548f1c27cbcc4"
LB = f"https://github.com/lambdal/deeplearning-benchmark/blob/{LBD}/pytorch"
TIMM = "aa4b5850c1543fa488abf260f18390eda46cf85d"
TM = f"https://github.com/huggingface/pytorch-image-models/blob/{TIMM}/results"
GF = "https://github.com/pytorch-labs/gpt-fast/blob/32971d3129541c5bfb4f715abc33d1c5f408d204/README.md"
TRT = "https://github.com/NVIDIA/TensorRT-LLM/blob/138f96d45f90b9667426f7c47297d8c06bafac73/docs/source/performance.md"
MLP = "https://github.com/mlcommons/inference_results_v3.1/blob/eaf622a25c00f2b4b1d2c4f5b4f430570429d24a/closed/NVIDIA/results"

cases = []

def scen(model, phase, precision, batch, device, software="pytorch-eager", count=1, **w):
    work = {"phase": phase, "precision": precision, "batch": batch}
    work.update(w)
    kind = "final_training" if phase == "train" else "evaluation"
    return {"version": 1, "model": model, "stages": [{"kind": kind, "workload": work, "steps": 1}],
            "hardware": {"device": device, "count": count}, "software": software,
            "infrastructure": {"pue": 1.0}}

def add(name, scenario, quantity, value, unit, published, derivation, source, uncertain, setup):
    c = collections.OrderedDict()
    c["name"] = name; c["group"] = "single-device"; c["scenario"] = scenario
    c["quantity"] = quantity; c["stage"] = 0
    c["value"] = float(f"{value:.6g}"); c["unit"] = unit
    c["published"] = published; c["derivation"] = derivation
    c["source"] = source; c["uncertain"] = uncertain; c["setup"] = setup
    cases.append(c)

RN = {"preset": "resnet50"}

# ---------------- DLE ResNet-50 training ----------------
dle_train_unc = ("DLE ConvNets with DALI (dali-cpu) data loading on real ImageNet, cudnn.benchmark; throughput "
                 "averaged over the benchmark's iterations; per-device batch from configs.yml (the table itself "
                 "prints no batch); label smoothing/mixup off in benchmark mode is not stated")
def dle_rn50_train(name, dev, devname, prec, prec_word, batch, thr, gpus, table, extra_unc, setup):
    count = gpus
    value = batch * gpus / thr
    deriv = (f"seconds_per_step = per-device batch {batch} / ({thr} img/s / {gpus} GPUs)" if gpus > 1
             else f"seconds_per_step = batch {batch} / {thr} img/s")
    add(name, scen(RN, "train", prec, batch, dev, count=count, optimizer="sgd-momentum"),
        "seconds_per_step", value, "s", f"{thr:g} img/s",
        deriv,
        f"NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md, '{table}' table, row {gpus} GPU{'s' if gpus>1 else ''}, column 'Throughput - {prec_word}' ({DLE_RN50}); batch from configs.yml resnet50 entry ({DLE_CFG})",
        dle_train_unc + "; " + extra_unc, setup)

amp_unc_a100 = "'mixed precision' is torch.cuda.amp fp16 autocast with NHWC (channels_last) memory format; mapped to bf16-amp (same tensor-core rate on A100)"
amp_unc_v100 = "'mixed precision' is torch.cuda.amp fp16 autocast with NHWC memory format; mapped to bf16-amp, which on a V100 runs fp16 math"
setup_amp = {"framework": "PyTorch (NGC pytorch 21.03) + DALI", "channels_last": True, "amp_dtype": "fp16", "static_loss_scale": 128, "data": "ImageNet via DALI (dali-cpu)"}
setup_fp = {"framework": "PyTorch (NGC pytorch 21.03) + DALI", "channels_last": False, "data": "ImageNet via DALI (dali-cpu)"}
dle_rn50_train("resnet50_train_a100-80gb_amp_b256_dle", "a100-sxm-80gb", "A100 80GB", "bf16-amp", "mixed precision", 256, 2470, 1,
               "Training performance: NVIDIA DGX A100 (8x A100 80GB)", amp_unc_a100, setup_amp)
dle_rn50_train("resnet50_train_a100-80gb_tf32_b256_dle", "a100-sxm-80gb", "A100 80GB", "tf32", "TF32", 256, 938, 1,
               "Training performance: NVIDIA DGX A100 (8x A100 80GB)", "TF32 row runs NCHW (no memory_format in the TF32 config)", setup_fp)
dle_rn50_train("resnet50_train_a100-80gb_amp_b256_8gpu_dle", "a100-sxm-80gb", "A100 80GB", "bf16-amp", "mixed precision", 256, 16621, 8,
               "Training performance: NVIDIA DGX A100 (8x A100 80GB)", amp_unc_a100 + "; 8-GPU DDP row: allreduce over NVLink included in the step, 6.72x strong scaling vs 1 GPU", dict(setup_amp, dp=8))
dle_rn50_train("resnet50_train_v100-16gb_amp_b256_dle", "v100-sxm2-16gb", "V100 16GB", "bf16-amp", "mixed precision", 256, 1200, 1,
               "Training performance: NVIDIA DGX-1 16GB (8x V100 16GB)", amp_unc_v100, setup_amp)
dle_rn50_train("resnet50_train_v100-16gb_fp32_b112_dle", "v100-sxm2-16gb", "V100 16GB", "fp32", "FP32", 112, 367, 1,
               "Training performance: NVIDIA DGX-1 16GB (8x V100 16GB)", "FP32 batch 112 is the DGX1V FP32 config batch", setup_fp)

# 2020 (20.06 container, apex AMP, A100 40GB)
for name, prec, word, thr, unc in [
    ("resnet50_train_a100-40gb_amp_b256_dle2020", "bf16-amp", "Mixed Precision", 1240.81,
     "older software: NGC pytorch 20.06, apex AMP (--amp --static-loss-scale), NCHW layout; the same README two releases later reports 2470 img/s on A100 80GB, so software (channels_last, native AMP) moves this number about 2x; fp16 autocast mapped to bf16-amp"),
    ("resnet50_train_a100-40gb_tf32_b256_dle2020", "tf32", "TF32", 680.15,
     "older software: NGC pytorch 20.06; the 2021 table reports 938 img/s for the same model and batch on A100 80GB")]:
    add(name, scen(RN, "train", prec, 256, "a100-sxm-40gb", optimizer="sgd-momentum"), "seconds_per_step", 256 / thr, "s",
        f"{thr} img/s", f"seconds_per_step = batch 256 / {thr} img/s",
        f"NVIDIA DeepLearningExamples at commit 46ff3707 (2020-06-27), PyTorch/Classification/ConvNets/resnet50v1.5/README.md, 'Training performance: NVIDIA DGX A100 (8x A100 40GB)' table, row 1 GPU, column '{word}'; batch 256 from the same README's 'Batch size should be picked...' table (DGXA100 {('AMP' if prec=='bf16-amp' else 'TF32')} 256) ({DLE_RN50_2020})",
        "DALI (dali-cpu) on ImageNet; " + unc,
        {"framework": "PyTorch (NGC pytorch 20.06) + DALI", "channels_last": False, "amp": "apex" if prec == "bf16-amp" else None, "data": "ImageNet via DALI"} if prec == "bf16-amp" else
        {"framework": "PyTorch (NGC pytorch 20.06) + DALI", "channels_last": False, "data": "ImageNet via DALI"})

# ---------------- DLE ResNet-50 inference (latency tables) ----------------
def dle_rn50_inf(name, dev, prec, batch, lat_ms, thr, table, sub, extra):
    add(name, scen(RN, "inference", prec, batch, dev), "seconds_per_step", lat_ms / 1000, "s",
        f"{lat_ms} ms", f"seconds_per_step = 'Latency Avg' (mean) {lat_ms} ms / 1000 (the row's 'Throughput Avg' is {thr} img/s, i.e. {batch/thr*1000:.2f} ms per batch)",
        f"NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md, '{table}' / '{sub}' table, row batch size {batch}, column 'Latency Avg' ({DLE_RN50})",
        "DLE benchmark_inference mode (evaluation over ImageNet val with DALI, 100 iterations), NGC pytorch 21.03; mean latency of one batch's forward, host-side dispatch included; " + extra,
        {"framework": "PyTorch (NGC pytorch 21.03) + DALI", "channels_last": prec != "fp32", "latency_statistic": "mean"})
v100amp = "AMP is fp16 autocast (NHWC), mapped to bf16-amp (fp16 math on V100/T4)"
dle_rn50_inf("resnet50_infer_v100-16gb_amp_b1_dle", "v100-sxm2-16gb", "bf16-amp", 1, 12.78, 78, "Inference performance: NVIDIA DGX-1 (1x V100 16GB)", "Mixed Precision Inference Latency",
             v100amp + "; batch 1 is host-bound (slower than the FP32 row's 10.37 ms): per-op CPU dispatch and autocast casts dominate")
dle_rn50_inf("resnet50_infer_v100-16gb_amp_b256_dle", "v100-sxm2-16gb", "bf16-amp", 256, 84.14, 3382, "Inference performance: NVIDIA DGX-1 (1x V100 16GB)", "Mixed Precision Inference Latency", v100amp)
dle_rn50_inf("resnet50_infer_t4_amp_b1_dle", "t4", "bf16-amp", 1, 12.96, 79, "Inference performance: NVIDIA T4", "Mixed Precision Inference Latency",
             v100amp + "; host-bound at batch 1; the T4's host system and clocks are not stated (T4 throttles under sustained load)")
dle_rn50_inf("resnet50_infer_t4_amp_b256_dle", "t4", "bf16-amp", 256, 225.95, 1198, "Inference performance: NVIDIA T4", "Mixed Precision Inference Latency",
             v100amp + "; the T4's host system and clocks are not stated (70 W card, clocks drop under sustained load)")
dle_rn50_inf("resnet50_infer_t4_fp32_b256_dle", "t4", "fp32", 256, 635.98, 415, "Inference performance: NVIDIA T4", "FP32 Inference Latency",
             "FP32 on Turing has no TF32, so convolutions run plain FP32; the T4's host system and clocks are not stated")

# ---------------- DLE BERT ----------------
BL = {"preset": "bert-large"}
bert_pre_unc = ("BERT-large pre-training (BertForPreTraining: MLM head computed on the <=20 masked positions, NSP head) vs the preset's encoder with pooler; "
                "LAMB optimizer (FusedLAMBAMP) mapped to adamw (same two moment buffers); the optimizer runs once per accumulated batch, not every micro-batch step; "
                "TorchScript + NVFuser fusions on; NGC pytorch 21.11; LDDL data loader")
def bert_pre(name, dev, prec, word, batch, seq, thr, acc, table, extra, deriv_extra=""):
    add(name, scen(BL, "train", prec, batch, dev, seq=seq, optimizer="adamw"), "seconds_per_step", batch / thr, "s",
        f"{thr:g}", f"seconds_per_step = per-GPU micro-batch {batch} / {thr:g} sequences/s (unit from the column header){deriv_extra}",
        f"NVIDIA DeepLearningExamples, PyTorch/LanguageModeling/BERT/README.md, '{table}' table, row 1 GPU, sequence length {seq}, column 'Throughput - {word}(sequences/sec)' ({DLE_BERT})",
        bert_pre_unc + "; " + extra,
        {"framework": "PyTorch (NGC pytorch 21.11)", "jit": "TorchScript+NVFuser", "optimizer": "LAMB", "grad_accumulation_steps": acc, "seq": seq})
fp16pre = "'mixed precision' here is model.half() (allreduce_post_accumulation_fp16 is on by default) with fp32 master weights in the LAMB optimizer: mapped to fp16"
bert_pre("bert-large_pretrain_a100-80gb_fp16_b256_s128_dle", "a100-sxm-80gb", "fp16", "mixed precision", 256, 128, 580, 32,
         "Pre-training NVIDIA DGX A100 (8x A100 80GB)", fp16pre)
bert_pre("bert-large_pretrain_a100-80gb_tf32_b128_s128_dle", "a100-sxm-80gb", "tf32", "TF32", 128, 128, 317, 64,
         "Pre-training NVIDIA DGX A100 (8x A100 80GB)", "TF32 row")
bert_pre("bert-large_pretrain_a100-80gb_fp16_b32_s512_dle", "a100-sxm-80gb", "fp16", "mixed precision", 32, 512, 210, 128,
         "Pre-training NVIDIA DGX A100 (8x A100 80GB)", fp16pre + "; phase-2 sequence length 512")
bert_pre("bert-large_pretrain_v100-32gb_fp16_b64_s128_dle", "v100-sxm2-32gb", "fp16", "mixed precision", 64, 128, 224, 64,
         "Pre-training NVIDIA DGX-1 With 32G", fp16pre + "; the V100 table's 'Batch size / GPU' column prints 4096 (the accumulated batch): the micro-batch 64 is derived as 4096 / 64 accumulation steps",
         " (micro-batch = 4096 accumulated / 64 accumulation steps, both printed in the row)")
squad_unc = "SQuAD v1.1 fine-tuning with run_squad.py (BertForQuestionAnswering: 2-logit QA head, no pooler) at max_seq_length 384, all sequences padded to 384; apex AMP O2 for FP16 (model cast to fp16, fp32 master weights): mapped to fp16; FusedAdam/BertAdam mapped to adamw; NGC pytorch 21.11"
add("bert-large_squad_train_a100-80gb_fp16_b32_s384_dle", scen(BL, "train", "fp16", 32, "a100-sxm-80gb", seq=384, optimizer="adamw"), "seconds_per_step", 32 / 110.5, "s",
    "110.5", "seconds_per_step = batch 32 / 110.5 sequences/s (unit from the column header)",
    f"NVIDIA DeepLearningExamples, PyTorch/LanguageModeling/BERT/README.md, 'Fine-tuning NVIDIA DGX A100 (8x A100 80GB)' SQuAD table, row 1 GPU, column 'Throughput - mixed precision(sequences/sec)' ({DLE_BERT})",
    squad_unc + "; sequence length 384 is run_squad.py's default, not printed in the table", {"framework": "PyTorch (NGC pytorch 21.11) + apex AMP O2", "seq": 384, "task": "SQuAD v1.1"})
add("bert-large_squad_train_v100-32gb_fp32_b8_s384_dle", scen(BL, "train", "fp32", 8, "v100-sxm2-32gb", seq=384, optimizer="adamw"), "seconds_per_step", 8 / 12, "s",
    "12", "seconds_per_step = batch 8 / 12 sequences/s (unit from the column header)",
    f"NVIDIA DeepLearningExamples, PyTorch/LanguageModeling/BERT/README.md, 'Fine-tuning NVIDIA DGX-1 With 32G' SQuAD table, row 1 GPU, column 'Throughput - FP32(sequences/sec)' ({DLE_BERT})",
    squad_unc + "; published to 2 significant figures only (12), so +-4% rounding", {"framework": "PyTorch (NGC pytorch 21.11)", "seq": 384, "task": "SQuAD v1.1"})
add("bert-large_squad_infer_a100-80gb_fp16_b32_s384_dle", scen(BL, "inference", "fp16", 32, "a100-sxm-80gb", seq=384), "seconds_per_step", 32 / 312, "s",
    "312", "seconds_per_step = batch 32 / 312 sequences/s (unit from the column header)",
    f"NVIDIA DeepLearningExamples, PyTorch/LanguageModeling/BERT/README.md, 'Fine-tuning inference on NVIDIA DGX A100 (1x A100 80GB)' SQuAD table, column 'Throughput - Mixed Precision(sequences/sec)', batch 32/32, sequence length 384 ({DLE_BERT})",
    "run_squad.py predict over SQuAD dev (eval_time includes the host-side loop, not post-processing as far as the README says); FP16 via apex O2 / model.half(); NGC pytorch 21.11",
    {"framework": "PyTorch (NGC pytorch 21.11)", "seq": 384, "task": "SQuAD v1.1 inference"})

# ---------------- Lambda deeplearning-benchmark ----------------
lam_rn_unc = ("Lambda's fork of DLE ConvNets (main.py) with --data-backend synthetic, NCHW memory format (memory_format nchw in the run logs), SGD momentum 0.9, "
              "100 profiled iterations x 3 runs, images/s = DLE 'train.total_ips'; very large per-GPU batch chosen to fill memory")
def lam_rn(name, dev, prec, batch, thr, row, csvfile, bsfile, extra, container):
    add(name, scen(RN, "train", prec, batch, dev, optimizer="sgd-momentum"), "seconds_per_step", batch / thr, "s",
        f"{thr:.1f}", f"seconds_per_step = batch {batch} / {thr:g} images/s (the CSV column 'resnet50' holds images/s)",
        f"Lambda Labs deeplearning-benchmark, pytorch/{csvfile}, row '{row}', column resnet50 ({LB}/{csvfile}); batch from {bsfile}",
        lam_rn_unc + "; " + extra, {"framework": f"PyTorch (NGC {container}), DLE ConvNets fork", "channels_last": False, "data": "synthetic", "amp": "torch.cuda.amp fp16, static loss scale 256" if prec == "bf16-amp" else None} if prec == "bf16-amp" else
        {"framework": f"PyTorch (NGC {container}), DLE ConvNets fork", "channels_last": False, "data": "synthetic"})
amp_l = "'fp16' column is torch.cuda.amp fp16 autocast: mapped to bf16-amp"
lam_rn("resnet50_train_h100-sxm_amp_b1280_lambda", "h100-sxm", "bf16-amp", 1280, 2616, "H100 80GB SXM5", "pytorch-train-throughput-fp16.csv", "pytorch/pytorch-train-bs-fp16.csv (1280)",
       amp_l + "; other H100 SXM5 rows of the same CSV range 2616-2791 img/s (host/system differences); container 22.10-23.06 (setup.sh / Makefile defaults)", "pytorch 22.10 or 23.06")
lam_rn("resnet50_train_h100-sxm_tf32_b640_lambda", "h100-sxm", "tf32", 640, 1753, "H100 80GB SXM5", "pytorch-train-throughput-fp32.csv", "pytorch/pytorch-train-bs-fp32.csv (640)",
       "'fp32' column: convolutions use TF32 by default in PyTorch (cudnn.allow_tf32), mapped to tf32; other H100 SXM5 rows range 1753-1898 img/s", "pytorch 22.10 or 23.06")
lam_rn("resnet50_train_a10_amp_b448_lambda", "a10", "bf16-amp", 448, 638, "LambdaCloud A10", "pytorch-train-throughput-fp16.csv", "pytorch/pytorch-train-bs-fp16.csv (448)",
       amp_l + "; cloud VM (Lambda Cloud), host CPU share unknown", "pytorch 22.10 or 23.06")
lam_rn("resnet50_train_a100-pcie-40gb_amp_b720_lambda", "a100-pcie-40gb", "bf16-amp", 720, 1396, "LambdaCloud A100 40GB PCIe", "pytorch-train-throughput-fp16.csv", "pytorch/pytorch-train-bs-fp16.csv (720)",
       amp_l + "; cloud VM (Lambda Cloud)", "pytorch 22.10 or 23.06")
lam_rn("resnet50_train_h200_amp_b2560_lambda", "h200-sxm", "bf16-amp", 2560, 3079, "LambdaBM_ENG04_1xH200_140GB_SXM_h200_v2", "pytorch-train-throughput-v2-fp16.csv",
       "pytorch/scripts/config_v2/config_pytorch_140GB.sh (--batch-size 2560) and the run log results_v2/LambdaBM_ENG04_1xH200_140GB_SXM_h200_v2/PyTorch_resnet50_AMP (batch_size : 2560)",
       amp_l + "; v2 suite, NGC pytorch 24.10 per the README (the run log does not print the tag)", "pytorch 24.10")
lam_rn("resnet50_train_b200_amp_b3328_lambda", "b200", "bf16-amp", 3328, 3076, "LambdaOD_test_1xB200_192GB_129-213-83-251_v2", "pytorch-train-throughput-v2-fp16.csv",
       "pytorch/scripts/config_v2/config_pytorch_192GB.sh via config_pytorch_1xB200_192GB_v2.sh (--batch-size 3328)",
       amp_l + "; a single 'test' run on one B200 node, throughput barely above H200 (3079) so likely host- or software-limited (NCHW, eager); container tag not in the CSV", "pytorch 24.10 (assumed)")

lam_bert_unc = ("Lambda's patched run_squad.py (DLE BERT) fine-tuning on SQuAD v1.1, max_seq_length 384 (all padded), 100 steps: "
                "sequences/s = batch x 100 steps / e2e_train_time, so warm-up of the first steps is inside the average; "
                "'fp16' is apex AMP O2 (model cast to fp16, fp32 master weights): mapped to fp16; FusedAdam mapped to adamw")
def lam_bert(name, preset, dev, prec, batch, thr, row, csvfile, bsfile, extra, container):
    add(name, scen({"preset": preset}, "train", prec, batch, dev, seq=384, optimizer="adamw"), "seconds_per_step", batch / thr, "s",
        f"{thr:.1f}", f"seconds_per_step = batch {batch} / {thr:g} sequences/s (the CSV column holds training_sequences_per_second)",
        f"Lambda Labs deeplearning-benchmark, pytorch/{csvfile}, row '{row}', column {preset.replace('-', '_')}_squad ({LB}/{csvfile}); batch from {bsfile}",
        lam_bert_unc + "; " + extra, {"framework": f"PyTorch (NGC {container}) + apex AMP O2", "seq": 384, "task": "SQuAD v1.1", "steps_timed": 100})
lam_bert("bert-base_squad_train_h100-sxm_fp16_b320_lambda", "bert-base", "h100-sxm", "fp16", 320, 812, "H100 80GB SXM5", "pytorch-train-throughput-fp16.csv", "pytorch/pytorch-train-bs-fp16.csv (320)",
         "other H100 SXM5 rows range 812-877 sequences/s", "pytorch 22.10 or 23.06")
lam_bert("bert-large_squad_train_h200_fp16_b192_lambda", "bert-large", "h200-sxm", "fp16", 192, 350, "LambdaBM_ENG04_1xH200_140GB_SXM_h200_v2", "pytorch-train-throughput-v2-fp16.csv",
         "pytorch/scripts/config_v2/config_pytorch_140GB.sh and the run log (--train_batch_size=192)", "one of the three runs logs 352.0 sequences/s", "pytorch 24.10")

# ---------------- timm benchmark CSVs ----------------
def timm_inf(name, preset, dev, batch, step_ms, thr, csvfile, row, img, extra):
    w = {}
    if img != 224: w["image_size"] = img
    add(name, scen({"preset": preset}, "inference", "bf16-amp", batch, dev, **w), "seconds_per_step", step_ms / 1000, "s",
        f"{step_ms}", f"seconds_per_step = infer_step_time {step_ms} (ms) / 1000 (infer_samples_per_sec {thr} at batch {batch})",
        f"timm (huggingface/pytorch-image-models), results/{csvfile}, row '{row}', column infer_step_time ({TM}/{csvfile})",
        "timm benchmark.py: synthetic input, 10 warm-up + 50 timed steps, mean step time; 'amp' = torch.autocast fp16 mapped to bf16-amp (GeForce: fp16 tensor-core rate with fp32 accumulate is half the fp16-accumulate rate); cudnn.benchmark; " + extra,
        {"framework": "timm benchmark.py, PyTorch eager", "channels_last": "nhwc" in csvfile, "amp_dtype": "fp16", "data": "synthetic", "image_size": img})
timm_inf("resnet50_infer_rtx4090_amp_b1024_timm", "resnet50", "rtx-4090", 1024, 242.763, 4217.6, "benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv", "resnet50,224",
         224, "PyTorch 2.4.0 + CUDA 12.4, NCHW; timm resnet50 has the torchvision v1.5 layout (stride in the 3x3 conv)")
timm_inf("vit_b_16_infer_rtx4090_amp_b1024_timm", "vit_b_16", "rtx-4090", 1024, 367.372, 2787.15, "benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv", "vit_base_patch16_224,224",
         224, "PyTorch 2.4.0 + CUDA 12.4; timm vit_base_patch16_224 (86.57M params) matches torchvision vit_b_16's shapes; attention via F.scaled_dot_product_attention (fused kernel)")
timm_inf("vit_l_16_infer_rtx3090_amp_b1024_timm", "vit_l_16", "rtx-3090", 1024, 2103.941, 486.7, "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv", "vit_large_patch16_224,224",
         224, "PyTorch 2.4.0 + CUDA 12.4; timm vit_large_patch16_224 (304.33M params) matches torchvision vit_l_16's shapes; fused SDPA attention")
timm_inf("resnet50_infer_rtx3090_amp_b1024_288px_timm", "resnet50", "rtx-3090", 1024, 527.881, 1939.79, "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv", "resnet50,288",
         288, "PyTorch 2.4.0 + CUDA 12.4, NCHW, image size 288")
def timm_train(name, preset, batch, step_ms, thr, csvfile, row, extra):
    add(name, scen({"preset": preset}, "train", "bf16-amp", batch, "rtx-3090", optimizer="sgd-momentum"), "seconds_per_step", step_ms / 1000, "s",
        f"{step_ms}", f"seconds_per_step = train_step_time {step_ms} (ms) / 1000 (train_samples_per_sec {thr} at batch {batch})",
        f"timm (huggingface/pytorch-image-models), results/{csvfile}, row '{row}', column train_step_time ({TM}/{csvfile}, last changed at commit c865028c)",
        "timm benchmark.py train mode: synthetic input, fwd+bwd+optimizer step, default optimizer 'sgd' = SGD with Nesterov momentum 0.9 (mapped to sgd-momentum); torch.autocast fp16 with GradScaler mapped to bf16-amp; PyTorch 1.12 + CUDA 11.3, NCHW; timm 0.6.x model code; " + extra,
        {"framework": "timm benchmark.py, PyTorch 1.12 eager", "channels_last": False, "amp_dtype": "fp16", "data": "synthetic"})
timm_train("resnet50_train_rtx3090_amp_b512_timm", "resnet50", 512, 618.983, 826.06, "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv", "resnet50", "")
timm_train("vit_b_16_train_rtx3090_amp_b192_timm", "vit_b_16", 192, 490.391, 390.86, "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv", "vit_base_patch16_224",
           "PyTorch 1.12 attention is unfused (matmul-softmax-matmul)")

# ---------------- LLM decode: gpt-fast ----------------
gf_unc = ("gpt-fast generate.py --compile (torch.compile mode reduce-overhead, CUDA graphs, static KV cache): compiled class; batch 1, "
          "prompt 'just 5 tokens' (the default prompt), max_new_tokens 200 (generate.py default); tokens/s = new tokens / wall time of the whole generate call "
          "(prefill included), averaged over 5 samples; A100-80GB in an 8xA100 HGX (SXM4) power-limited to 330 W (the catalog assumes 400 W)")
def gf(name, preset, prec, tps, row, tech, extra, setup_extra):
    add(name, scen({"preset": preset}, "decode", prec, 1, "a100-sxm-80gb", software="compiled", prompt=5, new_tokens=200),
        "tokens_per_second", tps, "tokens/s", f"{tps}", "tokens_per_second = batch 1 x new_tokens / seconds of one decode step (prompt pass included); published value used as is",
        f"pytorch-labs/gpt-fast README.md, 'Benchmarks' table, row {row}, Technique '{tech}', column Tokens/Second ({GF})",
        gf_unc + "; " + extra, dict({"framework": "gpt-fast (PyTorch nightly, late 2023-2024)", "power_limit_w": 330, "prompt_tokens": 5, "new_tokens": 200, "compile": "reduce-overhead"}, **setup_extra))
gf("llama-2-7b_decode_a100-80gb_bf16_b1_gptfast", "llama-2-7b", "bf16", 104.9, "Llama-2-7B", "Base", "bf16 weights (gpt-fast default precision)", {})
gf("llama-2-7b_decode_a100-80gb_int8_b1_gptfast", "llama-2-7b", "int8", 155.58, "Llama-2-7B", "8-bit",
   "int8 weight-only quantization with bf16 activations (dequantized in the fused matmul): the estimator's int8 means 8-bit matmuls; decode is bound by reading weights, so the 1-byte weights are what matters", {"quantization": "int8 weight-only"})
gf("llama-2-70b_decode_a100-80gb_int8_b1_gptfast", "llama-2-70b", "int8", 19.13, "Llama-2-70B", "8-bit",
   "int8 weight-only (bf16 activations); ~69 GB of int8 weights on one 80 GB GPU", {"quantization": "int8 weight-only"})

add("llama-2-7b_decode_a100-80gb_bf16_b1_eager_ptblog", scen({"preset": "llama-2-7b"}, "decode", "bf16", 1, "a100-sxm-80gb", software="pytorch-eager", prompt=5, new_tokens=200),
    "tokens_per_second", 25.5, "tokens/s", "25.5 tok/s", "tokens_per_second = batch 1 x new_tokens / seconds of one decode step; published value used as is",
    "PyTorch blog, 'Accelerating Generative AI with PyTorch II: GPT, Fast' (Team PyTorch, 2023-11-30), section 'Starting Point (25.5 tok/s)' (https://pytorch.org/blog/accelerating-generative-ai-2/)",
    "the 'extremely basic and simple implementation' before torch.compile: eager PyTorch, dynamic KV cache, CPU-overhead bound per the blog's trace; precision, prompt length and number of generated tokens are not stated in the text I could read: bf16 and gpt-fast's defaults (5-token prompt, 200 new tokens) are assumptions (at a CPU-bound 39 ms per token they barely matter); 'LLaMA-7B' taken as Llama-2-7B; A100-80GB power-limited to 330 W",
    {"framework": "PyTorch eager (2023)", "power_limit_w": 330, "prompt_tokens_assumed": 5, "new_tokens_assumed": 200})

# ---------------- TensorRT-LLM static-batch generation ----------------
trt_unc = ("TensorRT-LLM gptSessionBenchmark (static batch, whole generation timed: context phase + all generation steps; throughput = batch x output length / latency), "
           "engine built with GPT attention plugin, context FMHA, CUDA graphs not stated; 'LLaMA 7B' = Llama-2-7b per the methodology section")
def trt(name, dev, prec, batch, inp, out, tps, table, ver, extra, setup_extra):
    add(name, scen({"preset": "llama-2-7b"}, "decode", prec, batch, dev, software="compiled", prompt=inp, new_tokens=out),
        "tokens_per_second", tps, "tokens/s", f"{tps:,}", "tokens_per_second = batch x new_tokens / seconds of one decode step (context phase included); published per-GPU output tokens/s used as is",
        f"NVIDIA TensorRT-LLM, docs/source/performance.md, 'Peak Throughput' / '{table}' table, row LLaMA 7B, batch {batch}, TP 1, input {inp}, output {out} ({TRT})",
        trt_unc + f"; TensorRT-LLM {ver}; " + extra, dict({"framework": f"TensorRT-LLM {ver}", "tp": 1, "prompt_tokens": inp, "new_tokens": out}, **setup_extra))
trt("llama-2-7b_decode_h100_fp8_b768_i128_o128_trtllm", "h100-sxm", "fp8", 768, 128, 128, 19694, "H100 GPUs (FP8)", "v0.6.1",
    "FP8 weights/activations and FP8 KV cache (--enable_fp8 --fp8_kv_cache); 'H100-HBM3-80GB system' = H100 SXM", {"kv_cache_dtype": "fp8"})
trt("llama-2-7b_decode_a100_fp16_b384_i128_o128_trtllm", "a100-sxm-80gb", "fp16", 384, 128, 128, 5586, "A100 GPUs (FP16)", "v0.6.1",
    "A100 variant not stated: SXM 80GB assumed (batch 384 x 256 tokens of fp16 KV cache ~ 51 GB + 13 GB weights needs an 80 GB card)", {"kv_cache_dtype": "fp16"})
trt("llama-2-7b_decode_a100_fp16_b52_i2048_o128_trtllm", "a100-sxm-80gb", "fp16", 52, 2048, 128, 591, "A100 GPUs (FP16)", "v0.6.1",
    "A100 variant not stated (80 GB SXM assumed); long-prompt row: the context phase of 52 x 2048 tokens is a large share of the time", {"kv_cache_dtype": "fp16"})
trt("llama-2-7b_decode_l40s_fp8_b64_i128_o128_trtllm", "l40s", "fp8", 64, 128, 128, 3240, "L40S GPUs (FP8)", "v0.5 (marked in the table)",
    "FP8 with FP8 KV cache assumed as for H100 (the A100 note says only to drop the fp8 flags there)", {"kv_cache_dtype": "fp8"})
def trt_pre(name, dev, prec, ms, table, extra):
    add(name, scen({"preset": "llama-2-7b"}, "prefill", prec, 1, dev, software="compiled", seq=2048), "seconds_per_step", ms / 1000, "s",
        f"{ms}", f"seconds_per_step = 1st Token Latency {ms} (ms) / 1000",
        f"NVIDIA TensorRT-LLM, docs/source/performance.md, 'Low Latency' / '{table}' table, row LLaMA 7B, batch 1, TP 1, input length 2048, column '1st Token Latency (ms)' ({TRT})",
        "time to first token = one context (prefill) pass over 2048 tokens plus sampling of one token; the estimator's prefill applies the LM head to every position (~2% more FLOPs than TRT-LLM's last-position head); published in whole milliseconds; TensorRT-LLM v0.5; " + extra,
        {"framework": "TensorRT-LLM v0.5", "tp": 1, "prompt_tokens": 2048})
trt_pre("llama-2-7b_prefill_h100_fp8_b1_s2048_trtllm", "h100-sxm", "fp8", 36, "H100 GPUs (FP8)", "FP8 engine")
trt_pre("llama-2-7b_prefill_a100_fp16_b1_s2048_trtllm", "a100-sxm-80gb", "fp16", 133, "A100 GPUs (FP16)", "A100 variant not stated (80 GB SXM assumed)")

# ---------------- MLPerf Inference v3.1 (NVIDIA, closed, Offline) ----------------
mlp_unc = ("MLPerf Inference v3.1 closed division, NVIDIA submission, Offline scenario: TensorRT engine (compiled), INT8, CUDA streams overlap copies with compute; "
           "per-engine batch (gpu_batch_size) from NVIDIA's harness config configs/<bench>/Offline/__init__.py (2023 release) for the system whose offline_expected_qps equals the log's target_qps; that config file is not in the indexed v3.1 snapshot, so the batch is taken from the same-era harness code")
add("resnet50_infer_h100_int8_b2048_mlperf31", scen(RN, "inference", "int8", 2048, "h100-sxm", software="compiled"), "seconds_per_step", 2048 / 88526, "s",
    "Samples per second: 88526", "seconds_per_step = gpu_batch_size 2048 / 88526 samples/s",
    f"MLCommons inference_results_v3.1, closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx1_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt ({MLP}/DGX-H100_H100-SXM-80GBx1_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt); batch: H100_SXM_80GBx1 gpu_batch_size 2048, offline_expected_qps 90000 (= target_qps in the log)",
    mlp_unc + "; input already on the GPU (start_from_device), preprocessing excluded; INT8 convolutions with fused BN/ReLU; MLPerf ResNet-50 v1.5 (1000/1001-class head)",
    {"framework": "TensorRT (NVIDIA MLPerf harness LWIS)", "start_from_device": True, "scenario": "Offline"})
add("resnet50_infer_l4_int8_b32_mlperf31", scen(RN, "inference", "int8", 32, "l4", software="compiled"), "seconds_per_step", 32 / 12881.7, "s",
    "Samples per second: 12881.7", "seconds_per_step = gpu_batch_size 32 / 12881.7 samples/s",
    f"MLCommons inference_results_v3.1, closed/NVIDIA/results/L4x1_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt ({MLP}/L4x1_TRT/resnet50/Offline/performance/run_1/mlperf_log_summary.txt); batch: L4x1 gpu_batch_size 32, offline_expected_qps 13000 (= target_qps in the log), use_graphs True",
    mlp_unc + "; CUDA graphs on; L4 is a 72 W card whose clocks drop under load; preprocessing excluded",
    {"framework": "TensorRT (NVIDIA MLPerf harness LWIS)", "cuda_graphs": True, "scenario": "Offline"})
add("bert-large_infer_h100_int8_b1280_s384_mlperf31", scen(BL, "inference", "int8", 1280, "h100-sxm", software="compiled", seq=384), "seconds_per_step", 1280 / 9102.26, "s",
    "Samples per second: 9102.26", "seconds_per_step = gpu_batch_size 1280 / 9102.26 samples/s",
    f"MLCommons inference_results_v3.1, closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx1_TRT/bert-99/Offline/performance/run_1/mlperf_log_summary.txt ({MLP}/DGX-H100_H100-SXM-80GBx1_TRT/bert-99/Offline/performance/run_1/mlperf_log_summary.txt); batch: bert H100_SXM_80GBx1 gpu_batch_size 1280, offline_expected_qps 9400 (= target_qps)",
    mlp_unc + "; BERT-99 uses INT8 (the fp16+FP8 settings are for the 99.9 target); SQuAD v1.1 sequences are at most 384 tokens but NVIDIA's kernels skip padding (variable sequence length), so real work is below the estimator's 384-token count; QA head instead of pooler",
    {"framework": "TensorRT (NVIDIA MLPerf harness, BERT custom plugins)", "variable_seq_len": True, "max_seq": 384, "scenario": "Offline"})

# strip None values from setup
for c in cases:
    c["setup"] = {k: v for k, v in c["setup"].items() if v is not None}
names = [c["name"] for c in cases]
assert len(names) == len(set(names)), "duplicate names"
with open("single-device.jsonl", "w") as f:
    for c in cases:
        f.write(json.dumps(c) + "\n")
print(len(cases))
