//! Run the storage benchmark: `cargo run --release -p opsledger-storage --example bench_storage -- [--events N] [--json]`.

use opsledger_bench::storage::{run_storage_bench, StorageBenchOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = StorageBenchOptions::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--events" => opts.events = args.next().ok_or("--events needs a number")?.parse()?,
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let report = run_storage_bench(opts).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
