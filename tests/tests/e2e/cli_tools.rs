//! The `demo`, `export`, `import`, `backup`, `restore` and `rebuild` subcommands, run in-process.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use opsledger_api::cli::{run, Cli, Command};
use opsledger_api::cli_tools::{
    BackupArgs, DemoArgs, ExportArgs, ImportArgs, RebuildArgs, RestoreArgs,
};

async fn opsledger(command: Command) -> anyhow::Result<ExitCode> {
    run(Cli { command }).await
}

fn demo(data: &Path) -> Command {
    Command::Demo(DemoArgs {
        data: data.to_path_buf(),
        seed: 7,
        services: 6,
        days: 6,
        scale: 1.0,
    })
}

fn import(data: &Path, file: &Path) -> Command {
    Command::Import(ImportArgs {
        data: data.to_path_buf(),
        file: file.to_path_buf(),
    })
}

fn error_line(result: anyhow::Result<ExitCode>) -> String {
    format!("{:#}", result.expect_err("the command should fail"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_export_import_backup_restore_rebuild_succeed_and_refuse_bad_targets() {
    let root = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { root.path().join(name) };
    assert_eq!(
        opsledger(demo(&path("a"))).await.unwrap(),
        ExitCode::SUCCESS
    );
    assert!(error_line(opsledger(demo(&path("a"))).await).contains("already holds"));

    let file = path("a.jsonl");
    let export = Command::Export(ExportArgs {
        data: path("a"),
        from: 0,
        out: Some(file.clone()),
    });
    assert_eq!(opsledger(export).await.unwrap(), ExitCode::SUCCESS);
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    assert!(lines > 20, "{lines} lines");

    assert_eq!(
        opsledger(import(&path("b"), &file)).await.unwrap(),
        ExitCode::SUCCESS
    );
    assert!(error_line(opsledger(import(&path("b"), &file)).await).contains("is not empty"));

    let text = std::fs::read_to_string(&file).unwrap();
    let tampered: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                l.replacen("\"stream_version\":", "\"stream_version\":1", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    let bad = path("bad.jsonl");
    std::fs::write(&bad, tampered.join("\n")).unwrap();
    let message = error_line(opsledger(import(&path("c"), &bad)).await);
    // Line 1 is the header: line 3 holds position 1.
    assert!(message.contains("line 3 (position 1)"), "{message}");
    assert!(!path("c").join("log").exists());

    let backup = Command::Backup(BackupArgs {
        data: path("b"),
        out: path("backup"),
    });
    assert_eq!(opsledger(backup).await.unwrap(), ExitCode::SUCCESS);
    let restore = |data: PathBuf| {
        Command::Restore(RestoreArgs {
            from: path("backup"),
            data,
        })
    };
    assert_eq!(
        opsledger(restore(path("d"))).await.unwrap(),
        ExitCode::SUCCESS
    );
    assert!(error_line(opsledger(restore(path("a"))).await).contains("is not empty"));
    let rebuild = Command::Rebuild(RebuildArgs { data: path("d") });
    assert_eq!(opsledger(rebuild).await.unwrap(), ExitCode::SUCCESS);
}
