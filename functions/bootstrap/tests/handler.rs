//! The built bootstrap, started as Lambda starts it: a `_HANDLER` that names no function ends the
//! process at init, before any Runtime API call, with the names it serves (Lambda then reports
//! `Runtime.ExitError`, and the message is in the function's log).

use std::process::Command;

fn start(handler: Option<&str>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command.env_remove("_HANDLER");
    if let Some(handler) = handler {
        command.env("_HANDLER", handler);
    }
    // A Runtime API nobody serves: reaching it would be a different failure, after init.
    command.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_handler_the_bootstrap_does_not_serve_ends_it_at_init_naming_the_ones_it_does() {
    for (handler, said) in [
        (Some("bootstrap"), "_HANDLER is \"bootstrap\""),
        (Some("copy_staging"), "_HANDLER is \"copy_staging\""),
        (None, "_HANDLER is not set"),
    ] {
        let (succeeded, stderr) = start(handler);
        assert!(!succeeded, "{handler:?}");
        assert!(stderr.contains(said), "{handler:?}: {stderr}");
        assert!(
            stderr.contains("one of create-tables, copy-staging, load-facts"),
            "{stderr}"
        );
    }
}
