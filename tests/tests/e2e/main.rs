//! The end-to-end tests of opsledger as one test binary (one link of the world
//! instead of one per file), sharing `opsledger_tests::spawn_app`. Each module is
//! one subject; run one with `cargo test -p opsledger-tests --test e2e <module>::`.

mod alertmanager_routing;
mod app_service;
mod architecture;
mod as_of_truth;
mod audit_cli;
mod backup_online;
mod backup_restore;
mod browser_status;
mod cli_tools;
mod client_compat;
mod crash_generating_snapshot;
mod crash_kill;
mod crash_server_kill;
mod e2e_domain;
mod event_payloads;
mod fault_disk;
mod fuzz_replay;
mod gql_read;
mod hostile_graphql;
mod idempotency_keys;
mod input_bounds;
mod kpi_http;
mod metrics_scrape;
mod readme_tour;
mod record_limit_http;
mod server_http;
mod transparency_proofs;
mod workflow_crash;
mod ws_graphql;
