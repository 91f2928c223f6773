//! `sparkify-gen`: writes a Sparkify-shaped bucket and the counts the pipeline must report.

use sparkify_gen::{Spec, generate};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
sparkify-gen: deterministic Sparkify-shaped song files and event logs

usage: sparkify-gen --out DIR [--preset sample|full] [--songs-scale N] [--days-scale M] [--seed S]

  writes DIR/udacity-dend/ (song_data/, log_data/, log_json_path.json) and
  DIR/expected-counts.json (the rows each table must hold after one full run) and
  DIR/expected-counts-by-log-file.json (after a run on that one new log file)

  --preset sample   300 songs, 30 days of 40 events (default)
  --preset full     the real data set's shape: 14,896 songs, 30 days of 268 events
  --songs-scale N   songs x N;  --days-scale M   days and users x M
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sparkify-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return Ok(());
    }
    let mut out = None;
    let mut spec = Spec::sample();
    let (mut songs_scale, mut days_scale) = (1usize, 1u32);
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let number = |what: &str| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{what}: {value:?} is not a positive integer"))
        };
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value)),
            "--preset" => {
                spec = match value.as_str() {
                    "sample" => Spec::sample(),
                    "full" => Spec::full(),
                    other => return Err(format!("--preset: unknown preset {other:?}")),
                }
            }
            "--songs-scale" => songs_scale = number(flag)? as usize,
            "--days-scale" => days_scale = number(flag)? as u32,
            "--seed" => spec.seed = number(flag)?,
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    let spec = spec.scaled(songs_scale, days_scale);
    let generated = generate(&spec, &out.join("udacity-dend")).map_err(|e| e.to_string())?;
    let expected = generated.total;
    for (name, value) in [
        ("expected-counts.json", serde_json::to_value(expected)),
        (
            "expected-counts-by-log-file.json",
            serde_json::to_value(&generated.by_log_file),
        ),
    ] {
        let text = serde_json::to_string_pretty(&value.expect("json")).expect("json");
        let path = out.join(name);
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "{}: {} songs, {} days, {} events; expected {}",
        out.display(),
        spec.songs,
        spec.days,
        expected.staging_events,
        expected.to_pairs()
    );
    Ok(())
}
