//! Runs the projections benchmark: `cargo run --release -p opsledger-projections
//! --example bench_projections -- [events] [--json]`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let events = args
        .iter()
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(opsledger_projections::bench::DEFAULT_BENCH_EVENTS);
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(opsledger_projections::bench::run_projection_bench(events))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
