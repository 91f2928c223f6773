//! The generator reproduces every quirk of the real data set, and always the same bytes.

use sparkify_gen::{Quirks, Spec, generate, quirks};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, as (relative path, bytes), sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

/// The counter agrees with the facts measured on the real set (../shared/data/README.md), so
/// what it finds in generated data means the same thing.
#[test]
fn quirk_counter_agrees_with_the_real_data_set() {
    // SPARKIFY_DATA names the folder holding the data set (`./dev test` sets it from DATA).
    let real = std::env::var_os("SPARKIFY_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../../shared/data"))
        .join("udacity-dend");
    assert!(
        real.is_dir(),
        "the Sparkify data set is missing at {} (required, not optional)",
        real.display()
    );
    let q = quirks(&real).unwrap();
    assert_eq!(
        q,
        Quirks {
            integer_titles: 18,
            float_titles: 1,
            integer_artist_names: 21,
            integer_locations: 12,
            empty_locations: 6_694,
            null_locations: 1,
            null_coordinates: 9_619,
            year_zero: 4_762,
            padded_titles: 13,
            escaped_song_files: 889,
            conflicting_artists: 426,
            logged_out_events: 286,
            float_registrations: 8_056 - 286,
            quoted_user_agents: 5_917,
            escaped_log_lines: 342,
            users_changing_level: 8,
            non_ascii_bytes: 0,
        }
    );
}

#[test]
fn the_sample_has_every_quirk_and_only_ascii() {
    let dir = scratch("sample-quirks");
    generate(&Spec::sample(), &dir).unwrap();
    let q = quirks(&dir).unwrap();
    let present = [
        ("integer titles", q.integer_titles),
        ("float titles", q.float_titles),
        ("integer artist names", q.integer_artist_names),
        ("integer locations", q.integer_locations),
        ("empty locations", q.empty_locations),
        ("null locations", q.null_locations),
        ("null coordinates", q.null_coordinates),
        ("year 0", q.year_zero),
        ("padded titles", q.padded_titles),
        ("escaped song files", q.escaped_song_files),
        ("conflicting artists", q.conflicting_artists),
        ("logged-out events", q.logged_out_events),
        ("float registrations", q.float_registrations),
        ("quoted user agents", q.quoted_user_agents),
        ("escaped log lines", q.escaped_log_lines),
        ("users changing level", q.users_changing_level),
    ];
    let missing: Vec<_> = present.iter().filter(|(_, n)| *n == 0).collect();
    assert!(
        missing.is_empty(),
        "quirks missing from the sample: {missing:?} in {q:?}"
    );
    assert_eq!(q.non_ascii_bytes, 0, "non-ASCII is written as \\u escapes");
}

#[test]
fn same_spec_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (scratch("seed-a"), scratch("seed-b"), scratch("seed-c"));
    let spec = Spec::sample();
    let first = generate(&spec, &a).unwrap();
    assert_eq!(generate(&spec, &b).unwrap(), first);
    assert_eq!(snapshot(&a), snapshot(&b));
    generate(&Spec { seed: 7, ..spec }, &c).unwrap();
    assert_ne!(snapshot(&a), snapshot(&c));
}

#[test]
fn scaling_multiplies_songs_days_and_files() {
    let dir = scratch("scaled");
    let spec = Spec::sample().scaled(2, 3);
    let generated = generate(&spec, &dir).unwrap();
    assert_eq!(generated.total.staging_songs, 600);
    assert_eq!(generated.total.staging_events, 90 * 40);
    assert_eq!(generated.by_log_file.len(), 90);
    let per_file: usize = generated
        .by_log_file
        .values()
        .map(|e| e.staging_events)
        .sum();
    let plays: usize = generated.by_log_file.values().map(|e| e.songplays).sum();
    assert_eq!(per_file, generated.total.staging_events);
    assert_eq!(plays, generated.total.songplays);
    let logs = snapshot(&dir.join("log_data"));
    assert_eq!(logs.len(), 90);
    // 90 days from 2018-11-01 run to 2019-01-29, one file per UTC day.
    assert_eq!(
        logs.first().unwrap().0,
        Path::new("2018/11/2018-11-01-events.json")
    );
    assert_eq!(
        logs.last().unwrap().0,
        Path::new("2019/01/2019-01-29-events.json")
    );
}

/// This package's folder, read when the test runs (cargo sets it for every test process): a test
/// binary reused from a build in another checkout keeps that checkout's path in
/// `env!("CARGO_MANIFEST_DIR")`, and would read the other checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR")
            .expect("tests are run by cargo, which sets CARGO_MANIFEST_DIR"),
    )
}
