//! Serving at scale (issue 11), worked out by hand: the KV cache's bound on
//! concurrency, Little's law, a tensor-parallel replica's all-reduces per
//! token, and the idle energy of an always-on replica.

use shared::estimate::{estimate_core, parse_scenario};

fn served(extra: &str, rpd: f64, tensor: Option<u64>) -> String {
    let par = tensor.map_or(String::new(), |t| {
        format!(r#","parallelism":{{"tensor":{t}}}"#)
    });
    format!(
        r#"{{"version":1,"model":{{"preset":"llama-2-7b"}},"stages":[{{"kind":"deployment","workload":{{"phase":"decode","precision":"bf16","batch":256,"prompt":512,"new_tokens":512}},"requests_per_day":{rpd},"days":1,"serving":{{{extra}}}{par}}}],"hardware":{{"device":"h100-sxm","count":{}}},"software":"serving","infrastructure":{{"pue":1.0,"host_watts_per_device":0}}}}"#,
        tensor.unwrap_or(1)
    )
}

#[test]
fn the_kv_cache_bounds_the_concurrency() {
    let s =
        parse_scenario(&served(r#""replicas":1,"saturated":true"#, 1e5, None)).expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    let sv = e.stages[0].serving.expect("serving");
    // Llama-2-7B: 32 layers x 32 KV heads x 128 x (k, v) x 2 bytes = 0.5 MiB per token;
    // a request holds its 512-token prompt and half its 512 tokens: 768 tokens
    let kv_per_request = 32.0 * 32.0 * 128.0 * 2.0 * 2.0 * 768.0;
    let weights = e.params * 2.0;
    let room = 80e9 * 0.9 - weights;
    let bound = (room / kv_per_request).floor() as u64;
    // the plan's activations of one sequence take a little more room
    assert!(
        sv.kv_limit <= bound && sv.kv_limit + 2 >= bound,
        "{} vs {bound}",
        sv.kv_limit
    );
    assert_eq!(sv.max_concurrency, sv.kv_limit.min(256));
}

#[test]
fn littles_law_sets_the_mean_concurrency() {
    let rpd = 200_000.0;
    let s = parse_scenario(&served(r#""replicas":2"#, rpd, None)).expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    let sv = e.stages[0].serving.expect("serving");
    // N = lambda x time in the system, per replica
    let lambda = rpd / 86_400.0 / 2.0;
    let time_in_system = e.stages[0].seconds_per_step.expected;
    assert!(
        (sv.concurrency - lambda * time_in_system).abs() < 1e-3 * sv.concurrency.max(1.0),
        "{} vs {}",
        sv.concurrency,
        lambda * time_in_system
    );
    assert!(sv.concurrency > 1.0 && sv.concurrency < sv.max_concurrency as f64);
}

#[test]
fn an_always_on_replica_draws_idle_power_all_day() {
    // one request a day: the replica idles the whole day
    let s = parse_scenario(&served(r#""replicas":1"#, 1.0, None)).expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    let st = &e.stages[0];
    let sv = st.serving.expect("serving");
    let idle_kwh = e.resolved.device.idle_w * 86_400.0 / 3.6e6;
    assert!(
        (sv.idle_kwh / idle_kwh - 1.0).abs() < 1e-3,
        "{} vs {idle_kwh}",
        sv.idle_kwh
    );
    assert!(sv.busy_kwh < 0.01 * sv.idle_kwh);
    assert!((st.device_hours.expected - 24.0).abs() < 1e-9);
    // scaled to zero when idle: only the busy energy remains
    let s =
        parse_scenario(&served(r#""replicas":1,"always_on":false"#, 1.0, None)).expect("scenario");
    let e2 = estimate_core(&s, &[]).expect("estimate");
    let sv2 = e2.stages[0].serving.expect("serving");
    assert_eq!(sv2.idle_kwh, 0.0);
    assert!(e2.stages[0].device_kwh.expected < 0.01 * st.device_kwh.expected);
}

#[test]
fn a_tensor_parallel_replica_all_reduces_twice_per_layer_and_token() {
    use shared::schedule::{allreduce_seconds, stage_step, Strategy};
    let s = parse_scenario(&served(r#""replicas":1,"saturated":true"#, 1e5, Some(4)))
        .expect("scenario");
    let arch = shared::resolve::architecture(&s).expect("arch");
    let dev = shared::resolve::resolve_device(&s, &[]).expect("device");
    let mut w = s.stages[0].workload.clone();
    w.batch = 16;
    let st = Strategy {
        tensor: 4,
        data: 1,
        ..Strategy::data_parallel(4, 16)
    };
    let step = stage_step(
        &arch,
        &w,
        s.software,
        "stages[0]",
        &st,
        &dev,
        &Default::default(),
    )
    .expect("step");
    // per token and layer: 2 all-reduces of batch x hidden x 2 bytes over 4 devices
    let links = dev.links.expect("links");
    let tok = allreduce_seconds(16.0 * 4096.0 * 2.0, 4.0, links.intra_gbs, links.nvls);
    let prompt = allreduce_seconds(
        16.0 * 512.0 * 4096.0 * 2.0,
        4.0,
        links.intra_gbs,
        links.nvls,
    );
    let want = 32.0 * 2.0 * (prompt + 511.0 * tok);
    assert!(
        (step.comm_seconds / want - 1.0).abs() < 1e-9,
        "{} vs {want}",
        step.comm_seconds
    );
}

#[test]
fn right_sizing_drops_the_idle_replicas() {
    // four replicas kept up for a load one replica carries
    let s = parse_scenario(&served(r#""replicas":4"#, 10_000.0, None)).expect("scenario");
    let e = shared::estimate::estimate(&s, &[]).expect("estimate");
    let sv = e.stages[0].serving.expect("serving");
    let w = e
        .what_ifs
        .iter()
        .find(|w| w.id == "right-size")
        .expect("row");
    assert!(w.applies, "{w:?}");
    let (t, _) = shared::what_if::apply(
        shared::what_if::Kind::RightSize,
        &Default::default(),
        &s,
        &[],
    )
    .expect("applies");
    let e1 = estimate_core(&t, &[]).expect("estimate");
    let sv1 = e1.stages[0].serving.expect("serving");
    assert_eq!(sv1.replicas, 1);
    // the three idle replicas' day of idle power is saved
    let idle_day = e.resolved.device.idle_w * 86_400.0 / 3.6e6;
    let saved = e.stages[0].device_kwh.expected - e1.stages[0].device_kwh.expected;
    assert!(
        saved > 2.9 * idle_day * (1.0 - sv.utilisation),
        "{saved} vs {idle_day}"
    );
    assert!(w.saving.expect("saving").energy > 0.5);
}

/// A deployment served alone still checks memory per device (the weights'
/// shard plus the engine's KV cache, below the memory the engine may use) and
/// says when its device has no measured calibration, as a batch stage does.
#[test]
fn a_served_stage_checks_memory_and_names_a_datasheet_device() {
    let s = parse_scenario(
        &served(r#""replicas":1"#, 50_000.0, None).replace("h100-sxm", "a100-sxm-80gb"),
    )
    .expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    // Llama-2-7B's bf16 weights alone: 2 bytes x parameters
    let weights_gb = e.params * 2.0 / 1e9;
    assert!(
        e.memory.required_gb > weights_gb && e.memory.required_gb <= 80.0 * 0.9,
        "{:?}",
        e.memory
    );
    assert!(e.memory.fits);
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("A100") && w.contains("datasheet")),
        "{:?}",
        e.warnings
    );
}

/// The memory an engine's device reports is what the engine holds: paged KV
/// at the sequences' mean length. With the KV bound binding, that is the
/// weights plus `kv_limit` requests of 512 + 256 tokens, inside the 90% the
/// engine may use. Counting every sequence at its full 1,024 tokens, as a
/// static batch would, adds 145 x 256 tokens x 0.5 MiB = 19.5 GB and reads
/// "does not fit" (91.3 GB against 72).
#[test]
fn an_engines_memory_is_its_paged_kv_cache() {
    let s =
        parse_scenario(&served(r#""replicas":1,"saturated":true"#, 1e5, None)).expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    let sv = e.stages[0].serving.expect("serving");
    assert!(sv.kv_limit < 256, "the KV cache binds: {}", sv.kv_limit);
    let per_token = 32.0 * 32.0 * 128.0 * 2.0 * 2.0;
    let expected = e.params * 2.0 + sv.kv_limit as f64 * 768.0 * per_token;
    let got = e.memory.required_gb * 1e9;
    // activations of a decode step are a few MB
    assert!(
        got >= expected && got <= expected + 0.2e9,
        "{got} vs {expected}"
    );
    assert!(e.memory.fits, "{:?}", e.memory);
}

/// A saturated benchmark's hours follow its step time, so they carry the
/// time range; an always-on deployment's wall hours are the calendar's.
#[test]
fn a_benchmark_has_a_range_on_its_hours() {
    let s =
        parse_scenario(&served(r#""replicas":1,"saturated":true"#, 1e5, None)).expect("scenario");
    let e = estimate_core(&s, &[]).expect("estimate");
    let (w, t) = (e.stages[0].wall_hours, e.stages[0].seconds_per_step);
    assert!(w.low < w.expected && w.expected < w.high, "{w:?}");
    assert!(((w.high / w.low) / (t.high / t.low) - 1.0).abs() < 1e-9);
    let day = parse_scenario(&served(r#""replicas":1"#, 1e5, None)).expect("scenario");
    let e = estimate_core(&day, &[]).expect("estimate");
    assert_eq!(e.stages[0].wall_hours.low, 24.0);
    assert_eq!(e.stages[0].wall_hours.high, 24.0);
}

/// An engine whose host work the GPU waits for (`host_ms_per_sequence` = c):
/// each step generates one token per running sequence and waits c x N, so a
/// saturated replica's time per token grows by exactly c, and its energy per
/// token by c x the power of its waiting devices (idle + the fitted share of
/// the active floor). The vllm-0.5 engine waits a + c' x N per step: a / N + c'
/// per token.
#[test]
fn host_time_per_sequence_adds_to_each_token() {
    let at = |extra: &str| {
        let s = parse_scenario(&served(
            &format!(r#""replicas":1,"saturated":true{extra}"#),
            1e5,
            None,
        ))
        .expect("scenario");
        let e = estimate_core(&s, &[]).expect("estimate");
        let st = &e.stages[0];
        let sv = st.serving.expect("serving");
        let tokens = sv.max_concurrency as f64 * 512.0;
        let s_per_token = st.seconds_per_step.expected / tokens;
        let j_per_token = st.wh_per_token.expect("wh/token").expected * 3600.0;
        // a waiting device: idle plus the fitted share of its active floor
        let d = &e.resolved.device;
        let wait_w = d.idle_w + shared::serving::WAIT_FLOOR_SHARE * d.active_floor_w;
        (s_per_token, j_per_token, wait_w, sv.max_concurrency as f64)
    };
    let (t0, j0, wait_w, n) = at("");
    let (t1, j1, _, _) = at(r#","host_ms_per_sequence":2.0"#);
    assert!(((t1 - t0) - 2e-3).abs() < 1e-9, "{} s", t1 - t0);
    assert!(
        ((j1 - j0) - 2e-3 * wait_w).abs() < 1e-6 * j1,
        "{} J",
        j1 - j0
    );
    // the vllm-0.5 engine: its fitted host time on one device
    let (t2, _, _, _) = at(r#","engine":"vllm-0.5""#);
    use shared::serving::VLLM05_HOST;
    let want = (VLLM05_HOST.per_step / n + VLLM05_HOST.per_sequence) * 1e-3;
    assert!(((t2 - t0) - want).abs() < 1e-9, "{} vs {want}", t2 - t0);
    // bounds
    let bad = parse_scenario(&served(r#""host_ms_per_sequence":-1"#, 1e5, None));
    let msg = match bad {
        Ok(_) => panic!("a negative host time was accepted"),
        Err(e) => format!("{e:?}"),
    };
    assert!(
        msg.contains("stages[0].serving.host_ms_per_sequence"),
        "{msg}"
    );
}

/// The vLLM 0.5 constants are the least-squares fit on the serving set.
#[test]
fn vllm05_host_time_is_the_fit() {
    use shared::validate::fit::{engine_cases, fit_engine, published_sets};
    let set = engine_cases(published_sets()[1]);
    assert_eq!(set.len(), 10);
    let all: Vec<usize> = (0..set.len()).collect();
    let h = fit_engine(&set, &all);
    assert!(
        (h.per_step - shared::serving::VLLM05_HOST.per_step).abs() < 5e-3,
        "{h:?}"
    );
    assert!(
        (h.per_sequence - shared::serving::VLLM05_HOST.per_sequence).abs() < 5e-4,
        "{h:?}"
    );
    assert!(
        (h.per_extra_device - shared::serving::VLLM05_HOST.per_extra_device).abs() < 5e-5,
        "{h:?}"
    );
    let k = shared::validate::fit::fit_wait_share(&set, published_sets()[1], &all, h);
    assert!((k - shared::serving::WAIT_FLOOR_SHARE).abs() < 5e-4, "{k}");
    // a waiting device draws between its idle power and idle plus its whole floor
    assert!((0.0..=1.0).contains(&k), "{k}");
}

/// The engine fit recovers a host time built by hand: cases whose implied
/// time per sequence is exactly 5 / N + 0.3 + 0.1 (devices - 1) ms give back
/// 5, 0.3 and 0.1; without a spread in devices the last is 0.
#[test]
fn the_engine_fit_recovers_a_hand_built_host_time() {
    use shared::validate::fit::{fit_engine, EngineCase};
    let case = |n: f64, d: u64| {
        let ms = 5.0 / n + 0.3 + 0.1 * (d - 1) as f64;
        EngineCase {
            name: format!("n{n}_d{d}"),
            published_s_per_token: 0.010 + ms * 1e-3,
            gpu_s_per_token: 0.010,
            devices: d,
            sequences: n,
        }
    };
    let set = vec![case(32.0, 1), case(256.0, 1), case(64.0, 4), case(128.0, 8)];
    let h = fit_engine(&set, &[0, 1, 2, 3]);
    assert!((h.per_step - 5.0).abs() < 1e-9, "{h:?}");
    assert!((h.per_sequence - 0.3).abs() < 1e-9, "{h:?}");
    assert!((h.per_extra_device - 0.1).abs() < 1e-9, "{h:?}");
    let one = fit_engine(&set, &[0, 1]);
    assert!(
        (one.per_step - 5.0).abs() < 1e-9 && one.per_extra_device == 0.0,
        "{one:?}"
    );
}
