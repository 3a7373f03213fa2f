//! The plan of a scenario's first stage, for the tests that work plans out by hand.

pub fn first_plan(s: &shared::scenario::Scenario) -> shared::plan::StepPlan {
    shared::plan::plan(
        &shared::resolve::architecture(s).expect("architecture"),
        &s.stages[0].workload,
        s.software,
        "w",
    )
    .expect("plan")
}
