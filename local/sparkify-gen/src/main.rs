//! `sparkify-gen`: writes a Sparkify-shaped bucket and the counts the pipeline must report.

use clap::{Parser, ValueEnum};
use sparkify_gen::{Spec, generate};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

/// Printed after the options by `--help`.
const AFTER_HELP: &str = "\
Writes DIR/udacity-dend/ (song_data/, log_data/, log_json_path.json) and
DIR/expected-counts.json (the rows each table must hold after one full run) and
DIR/expected-counts-by-log-file.json (after a run on that one new log file).";

/// sparkify-gen: deterministic Sparkify-shaped song files and event logs
#[derive(Debug, Parser)]
#[command(name = "sparkify-gen", after_help = AFTER_HELP)]
struct Args {
    /// The folder to write to
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The shape of the data set
    #[arg(long, value_enum, default_value_t = Preset::Sample)]
    preset: Preset,
    /// Songs x N
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = positive::<usize>)]
    songs_scale: usize,
    /// Days and users x M
    #[arg(long, value_name = "M", default_value_t = 1, value_parser = positive::<u32>)]
    days_scale: u32,
    /// The random seed (default: the preset's)
    #[arg(long, value_name = "S", value_parser = positive::<u64>)]
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// 300 songs, 30 days of 40 events
    Sample,
    /// The real data set's shape: 14,896 songs, 30 days of 268 events
    Full,
    /// A grown Sparkify: 1,000,000 songs, 365 days of 268 events
    Million,
}

/// A positive integer, as the scales and the seed must be.
fn positive<T: FromStr + Default + PartialOrd>(text: &str) -> Result<T, String> {
    text.parse()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("{text:?} is not a positive integer"))
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            // `--help` goes to stdout and succeeds; a bad option fails with 1, as before clap.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sparkify-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let mut spec = match args.preset {
        Preset::Sample => Spec::sample(),
        Preset::Full => Spec::full(),
        Preset::Million => Spec::million(),
    };
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    let out = args.out;
    let spec = spec.scaled(args.songs_scale, args.days_scale);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("sparkify-gen").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_invocations_of_the_tools_parse() {
        // tools/sparkify_local.py's generate_sample, as tools/bench/endtoend.py calls it.
        let args = parse(&[
            "--out",
            "x1",
            "--preset",
            "full",
            "--songs-scale",
            "2",
            "--days-scale",
            "3",
        ])
        .unwrap();
        assert_eq!(args.out, PathBuf::from("x1"));
        assert_eq!(args.preset, Preset::Full);
        assert_eq!((args.songs_scale, args.days_scale, args.seed), (2, 3, None));
        let args = parse(&["--out", "sample", "--seed", "7"]).unwrap();
        assert_eq!(args.preset, Preset::Sample);
        assert_eq!(
            (args.songs_scale, args.days_scale, args.seed),
            (1, 1, Some(7))
        );
    }

    #[test]
    fn an_unknown_option_is_refused() {
        let err = parse(&["--out", "x", "--song-scale", "2"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        assert!(err.to_string().contains("--songs-scale"), "{err}");
    }

    #[test]
    fn out_is_required_and_values_are_checked() {
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        for args in [
            ["--songs-scale", "0"],
            ["--days-scale", "1.5"],
            ["--seed", "x"],
        ] {
            let err = parse(&[&["--out", "x"], &args[..]].concat()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{args:?}");
            assert!(
                err.to_string().contains("is not a positive integer"),
                "{args:?}: {err}"
            );
        }
        let err = parse(&["--out", "x", "--preset", "huge"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn help_describes_the_presets_and_what_is_written() {
        let err = parse(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp);
        let help = err.to_string();
        for text in [
            "--out <DIR>",
            "300 songs, 30 days of 40 events",
            "14,896 songs",
            "--songs-scale <N>",
            "--days-scale <M>",
            "--seed <S>",
            "expected-counts-by-log-file.json",
        ] {
            assert!(help.contains(text), "{text} missing from:\n{help}");
        }
    }
}
