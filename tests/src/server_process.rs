//! The real `opsledger serve` as a child process over a data directory, for
//! crash tests: start it (optionally with an `OPSLEDGER_CRASH_AT` crash point),
//! talk GraphQL to it over HTTP, SIGKILL it or wait for it to abort.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The admin token every server process accepts.
pub const PROCESS_TOKEN: &str = "crash-admin-secret";

/// A running server process.
pub struct ServerProcess {
    /// The child.
    pub child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// A client with a timeout.
    pub client: reqwest::Client,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl ServerProcess {
    /// Starts `bin serve --data dir` (with `crash_at` as the crash point) and
    /// waits until it is ready.
    pub async fn start(bin: &str, dir: &Path, crash_at: Option<&str>) -> ServerProcess {
        ServerProcess::start_with(bin, dir, crash_at, &[]).await
    }

    /// [`ServerProcess::start`] with more `serve` arguments.
    pub async fn start_with(
        bin: &str,
        dir: &Path,
        crash_at: Option<&str>,
        args: &[&str],
    ) -> ServerProcess {
        let port = free_port();
        let mut command = Command::new(bin);
        command
            .args(["serve", "--data"])
            .arg(dir)
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("OPSLEDGER_TOKENS", format!("{PROCESS_TOKEN}:root:admin"))
            .env_remove("OPSLEDGER_CRASH_AT")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(point) = crash_at {
            command.env("OPSLEDGER_CRASH_AT", point);
        }
        let mut child = command.spawn().expect("spawn the server");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
                if r.status().as_u16() == 200 {
                    return ServerProcess {
                        child,
                        base,
                        client,
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not become ready");
    }

    /// POSTs a GraphQL request; the body, or `None` if the connection failed
    /// (the process died while answering).
    pub async fn graphql(&self, query: &str, variables: Value) -> Option<Value> {
        let response = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(PROCESS_TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// [`ServerProcess::graphql`] that must succeed without errors; its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self
            .graphql(query, variables)
            .await
            .expect("the server answers");
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// Waits (up to 20 s) for the process to end by itself; its status.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        panic!("the server did not end by itself");
    }

    /// SIGTERMs the process (a graceful shutdown) and waits for it to end.
    pub async fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY-free: kill(2) through the `kill` command keeps this crate free of unsafe.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        self.wait_exit().await
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One metric's value from `/metrics`.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|value| value.trim().parse().ok())
    }

    /// Waits until the workflow policies reacted to every event in the log.
    pub async fn wait_workflows_caught_up(&self) {
        for _ in 0..400 {
            if self.metric("opsledger_workflow_lag_events").await == Some(0.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the workflow policies did not catch up");
    }

    /// How many events of type `type_name` the log holds (through the API).
    pub async fn count_events(&self, type_name: &str) -> usize {
        let data = self
            .ok(
                "query($t: String!) { events(type: $t, first: 1000) { edges { node { position } } } }",
                json!({"t": type_name}),
            )
            .await;
        data["events"]["edges"].as_array().map_or(0, Vec::len)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
