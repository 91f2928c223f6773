//! A deterministic generator of Sparkify-shaped data: one JSON file per song under `song_data/`,
//! one newline-delimited JSON event log per day under `log_data/`, and the JSONPaths file, laid out
//! as the `udacity-dend` bucket. It reproduces every quirk the real data set has (numbers in text
//! fields, empty-string user ids on logged-out events, float registration, `\uXXXX` escapes,
//! leading and trailing spaces, nulls, artists with conflicting attributes, users changing level)
//! and scales by songs and days for benchmarks.
//!
//! The generator also counts what the pipeline must report ([`Expected`]) from the records it
//! wrote, by the star schema's rules, not by running the project's SQL.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod words;

/// What to generate. Same spec, same bytes: every choice comes from a seeded SplitMix64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub songs: usize,
    /// Days of event logs, one file per day, from 2018-11-01 on.
    pub days: u32,
    pub events_per_day: usize,
    pub users: usize,
    /// Percent of NextSong events that play a song of the catalogue (the rest are unknown songs).
    pub match_percent: u64,
    pub seed: u64,
}

impl Spec {
    /// The bundled sample: a month of logs over a small catalogue, loaded in seconds.
    pub fn sample() -> Self {
        Self {
            songs: 300,
            days: 30,
            events_per_day: 40,
            users: 24,
            match_percent: 20,
            seed: 2018,
        }
    }

    /// The shape of the real data set: 14,896 songs, 30 days, ~8,000 events, ~100 users.
    pub fn full() -> Self {
        Self {
            songs: 14_896,
            days: 30,
            events_per_day: 268,
            users: 97,
            match_percent: 5,
            seed: 2018,
        }
    }

    /// A grown Sparkify: the Million Song Dataset's 1,000,000 songs and a year of logs of the
    /// real data set's daily shape (268 events a day), with a year's users (97 a month × 12).
    pub fn million() -> Self {
        Self {
            songs: 1_000_000,
            days: 365,
            users: 97 * 12,
            ..Self::full()
        }
    }

    /// Songs × `songs`, days (and users) × `days`.
    pub fn scaled(self, songs: usize, days: u32) -> Self {
        Self {
            songs: self.songs * songs,
            days: self.days * days,
            users: self.users * days as usize,
            ..self
        }
    }
}

/// The rows each table must hold after one pipeline run over the generated bucket, in the order
/// verify-counts reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub staging_events: usize,
    pub staging_songs: usize,
    pub songplays: usize,
    pub users: usize,
    pub songs: usize,
    pub artists: usize,
    pub time: usize,
}

impl Expected {
    /// `table=rows,...` as the project's scripts take expected counts.
    pub fn to_pairs(&self) -> String {
        format!(
            "staging_events={},staging_songs={},songplays={},users={},songs={},artists={},time={}",
            self.staging_events,
            self.staging_songs,
            self.songplays,
            self.users,
            self.songs,
            self.artists,
            self.time
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("invalid spec: {0}")]
    Spec(&'static str),
}

/// The JSONPaths file's paths, positional to `staging_events`' columns.
pub const EVENT_FIELDS: [&str; 18] = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
];

/// 2018-11-01T00:00:00Z in epoch milliseconds.
const FIRST_DAY_MS: i64 = 1_541_030_400_000;
const DAY_MS: i64 = 86_400_000;

/// What the pipeline must count after loading a generated bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generated {
    /// After a full load of every file.
    pub total: Expected,
    /// After loading only that log file (and every song) into empty tables, by object key.
    pub by_log_file: BTreeMap<String, Expected>,
}

/// Writes the bucket into `bucket_dir` (created; existing files with the same keys are replaced)
/// and returns what the pipeline must count.
pub fn generate(spec: &Spec, bucket_dir: &Path) -> Result<Generated, GenError> {
    if spec.songs == 0 || spec.days == 0 || spec.users == 0 || spec.events_per_day == 0 {
        return Err(GenError::Spec(
            "songs, days, users and events per day must be positive",
        ));
    }
    if spec.match_percent > 100 {
        return Err(GenError::Spec("match percent is at most 100"));
    }
    let mut rng = Rng(spec.seed);
    let catalogue = songs(spec, &mut rng);
    for song in &catalogue {
        write(bucket_dir, &song.key, ascii_json(&song.record).as_bytes())?;
    }
    let paths: Vec<String> = EVENT_FIELDS.iter().map(|f| format!("$['{f}']")).collect();
    let jsonpaths = serde_json::to_string_pretty(&json!({ "jsonpaths": paths })).expect("json");
    write(bucket_dir, "log_json_path.json", jsonpaths.as_bytes())?;

    let playable: Vec<&Song> = catalogue.iter().filter(|s| s.playable).collect();
    let known: HashSet<(String, String)> = catalogue
        .iter()
        .filter_map(|s| s.join_key.as_ref().map(|(t, a)| compared(t, a)))
        .collect();
    let mut users = people(spec, &mut rng);
    let mut tally = Tally::default();
    let mut by_log_file = BTreeMap::new();
    let mut session_id = 0u64;
    for day in 0..spec.days {
        let mut day_tally = Tally::default();
        let day_start = FIRST_DAY_MS + i64::from(day) * DAY_MS;
        let mut lines: Vec<(i64, u64, String)> = Vec::with_capacity(spec.events_per_day);
        while lines.len() < spec.events_per_day {
            session_id += 1;
            let logged_in = rng.below(100) >= 4;
            let user = rng.below(users.len() as u64) as usize;
            if logged_in && rng.below(40) == 0 {
                users[user].paid = !users[user].paid;
            }
            let mut ts = day_start + rng.below(DAY_MS as u64 - 4 * 3_600_000) as i64;
            let budget = 1 + rng.below(14) as usize;
            for item in 0..budget.min(spec.events_per_day - lines.len()) {
                let event = if logged_in {
                    let song = (rng.below(100) < 85).then(|| {
                        if rng.below(100) < spec.match_percent {
                            let song = playable[rng.below(playable.len() as u64) as usize];
                            let (title, artist) = song.join_key.clone().expect("playable");
                            (title, artist, song.duration)
                        } else {
                            unknown_song(&mut rng, &known)
                        }
                    });
                    logged_in_event(&users[user], session_id, item, ts, song, &mut rng)
                } else {
                    logged_out_event(session_id, item, ts, &mut rng)
                };
                tally.count(&event, &known);
                day_tally.count(&event, &known);
                lines.push((ts, session_id, ascii_json(&event).replace('/', "\\/")));
                ts += 1_000 * (20 + rng.below(280) as i64);
            }
        }
        lines.sort_by_key(|(ts, session, _)| (*ts, *session));
        let body: Vec<String> = lines.into_iter().map(|(_, _, line)| line).collect();
        let key = log_key(day_start);
        write(bucket_dir, &key, body.join("\n").as_bytes())?;
        by_log_file.insert(key, day_tally);
    }
    let artists = catalogue
        .iter()
        .map(|s| s.artist_id.as_str())
        .collect::<HashSet<_>>()
        .len();
    let expect = |tally: &Tally| Expected {
        staging_events: tally.events,
        staging_songs: catalogue.len(),
        songplays: tally.plays,
        users: tally.users.len(),
        songs: catalogue.len(),
        artists,
        time: tally.times.len(),
    };
    Ok(Generated {
        total: expect(&tally),
        by_log_file: by_log_file
            .iter()
            .map(|(key, tally)| (key.clone(), expect(tally)))
            .collect(),
    })
}

/// Counts by the schema's rules: a songplay is a logged-in NextSong event whose (song, artist)
/// equals a catalogue song's (title, artist_name); users are the logged-in users with a NextSong
/// event; time holds each songplay's distinct timestamp.
#[derive(Default)]
struct Tally {
    events: usize,
    plays: usize,
    users: HashSet<String>,
    times: BTreeSet<i64>,
}

impl Tally {
    fn count(&mut self, event: &Value, known: &HashSet<(String, String)>) {
        self.events += 1;
        let user = event["userId"].as_str().unwrap_or_default();
        if event["page"] != "NextSong" || user.is_empty() {
            return;
        }
        self.users.insert(user.to_owned());
        let key = compared(
            event["song"].as_str().unwrap_or_default(),
            event["artist"].as_str().unwrap_or_default(),
        );
        if known.contains(&key) {
            self.plays += 1;
            self.times.insert(event["ts"].as_i64().expect("ts"));
        }
    }
}

struct Song {
    key: String,
    record: Value,
    artist_id: String,
    duration: f64,
    /// (title, artist_name) as text once staged; None when the title is a float, whose text
    /// form a loader may spell differently, so no event refers to it.
    join_key: Option<(String, String)>,
    playable: bool,
}

struct Artist {
    id: String,
    name: Value,
    location: Value,
    coords: Option<(f64, f64)>,
}

fn songs(spec: &Spec, rng: &mut Rng) -> Vec<Song> {
    let artist_count = (spec.songs * 9_553).div_ceil(14_896).max(1);
    let artists: Vec<Artist> = (0..artist_count).map(|i| artist(i, rng)).collect();
    let mut pairs: HashSet<(String, String)> = HashSet::new();
    (0..spec.songs)
        .map(|i| {
            let artist = if i < artist_count {
                &artists[i]
            } else {
                &artists[rng.below(artist_count as u64) as usize]
            };
            // An artist's later songs sometimes disagree on where the artist is.
            let later = i >= artist_count;
            let (location, coords) = if later && rng.below(100) < 15 {
                (json!(words::place(rng)), None)
            } else {
                (artist.location.clone(), artist.coords)
            };
            let name = match &artist.name {
                Value::String(name) if later && rng.below(100) < 3 => {
                    json!(format!("{name} featuring {}", words::artist_name(rng)))
                }
                other => other.clone(),
            };
            let mut title = title(i, rng);
            let artist_text = text_of(&name);
            while let Some(text) = title.as_str().map(str::to_owned) {
                if pairs.insert(compared(&text, &artist_text)) {
                    break;
                }
                title = json!(format!("{text} II"));
            }
            if let Some(n) = title.as_i64() {
                // Integer titles must still be unique per artist once staged as text.
                while !pairs.insert(compared(&n.to_string(), &artist_text)) {
                    title = json!(title.as_i64().expect("int") + 1);
                }
            }
            let duration = round5(60.0 + rng.unit() * 540.0);
            let track = format!("TRA{}{}", base26(i, 4), rng.token(11));
            let song_id = format!("SO{}{}", base26(i, 6), rng.token(10));
            let year = if rng.below(100) < 32 {
                0
            } else {
                1955 + rng.below(56)
            };
            let record = json!({
                "artist_id": artist.id,
                "artist_latitude": coords.map(|c| c.0),
                "artist_location": location,
                "artist_longitude": coords.map(|c| c.1),
                "artist_name": name,
                "duration": duration,
                "num_songs": 1,
                "song_id": song_id,
                "title": title,
                "year": year,
            });
            let join_key = (!title.is_f64()).then(|| (text_of(&title), artist_text));
            Song {
                key: format!("song_data/A/{}/{}/{track}.json", &track[3..4], &track[4..5]),
                record,
                artist_id: artist.id.clone(),
                duration,
                playable: join_key.is_some(),
                join_key,
            }
        })
        .collect()
}

fn artist(i: usize, rng: &mut Rng) -> Artist {
    let name = if i % 455 == 11 {
        json!(1_000 + i as u64) // artist_name a JSON integer (21 in the real set)
    } else {
        json!(words::artist_name(rng))
    };
    let location = if i % 797 == 13 {
        json!(90_000 + i as u64) // artist_location a JSON integer (12 in the real set)
    } else if i == 17 {
        Value::Null // the one null location
    } else if rng.below(100) < 45 {
        json!("")
    } else {
        json!(words::place(rng))
    };
    let coords = (rng.below(100) >= 64).then(|| {
        (
            round5(rng.unit() * 120.0 - 50.0),
            round5(rng.unit() * 300.0 - 150.0),
        )
    });
    Artist {
        id: format!("AR{}{}", base26(i, 6), rng.token(10)),
        name,
        location,
        coords,
    }
}

fn title(i: usize, rng: &mut Rng) -> Value {
    match i {
        _ if i % 827 == 5 => json!(100 + (i / 827) as u64 * 7), // 18 integer titles in the real set
        _ if i % 14_896 == 7 => json!(4.6),                     // and one float
        _ if i % 1_146 == 19 => json!(format!(" {}", words::title(rng))), // 13 with spaces
        _ if i % 1_146 == 20 => json!(format!("{} ", words::title(rng))),
        _ if i % 14_896 == 23 => json!(words::long_title(rng)), // near the longest (173 bytes)
        _ => json!(words::title(rng)),
    }
}

/// A NextSong that matches no catalogue song.
/// A (title, artist name) pair as Redshift compares it with another: "Trailing spaces in VARCHAR
/// and CHAR values are treated as semantically insignificant when values are compared" (Redshift's
/// "Character types"), so `"Midnight "` plays the song `"Midnight"`.
fn compared(title: &str, artist: &str) -> (String, String) {
    (title.trim_end().to_owned(), artist.trim_end().to_owned())
}

fn unknown_song(rng: &mut Rng, known: &HashSet<(String, String)>) -> (String, String, f64) {
    loop {
        let pair = (words::title(rng), words::artist_name(rng));
        if !known.contains(&compared(&pair.0, &pair.1)) {
            return (pair.0, pair.1, round5(60.0 + rng.unit() * 540.0));
        }
    }
}

struct User {
    id: String,
    first: String,
    last: String,
    gender: &'static str,
    location: String,
    registration: f64,
    agent: String,
    paid: bool,
}

fn people(spec: &Spec, rng: &mut Rng) -> Vec<User> {
    (0..spec.users)
        .map(|i| {
            let (first, gender) = words::first_name(rng);
            User {
                id: (2 + i * 3 + rng.below(3) as usize).to_string(),
                first,
                last: words::last_name(rng),
                gender,
                location: words::place(rng),
                // Epoch ms written as a float, as in the real logs: 1540919166796.0.
                registration: (1_535_000_000_000 + rng.below(6_000_000_000) as i64) as f64,
                agent: words::user_agent(rng),
                paid: rng.below(100) < 30,
            }
        })
        .collect()
}

fn logged_in_event(
    user: &User,
    session: u64,
    item: usize,
    ts: i64,
    song: Option<(String, String, f64)>,
    rng: &mut Rng,
) -> Value {
    let page = if song.is_some() {
        "NextSong"
    } else {
        ["Home", "Settings", "Help", "About", "Upgrade", "Logout"][rng.below(6) as usize]
    };
    let (title, artist, length) = match song {
        Some((t, a, l)) => (json!(t), json!(a), json!(l)),
        None => (Value::Null, Value::Null, Value::Null),
    };
    let level = if user.paid { "paid" } else { "free" };
    let method = if page == "NextSong" { "PUT" } else { "GET" };
    json!({
        "artist": artist,
        "auth": "Logged In",
        "firstName": user.first,
        "gender": user.gender,
        "itemInSession": item,
        "lastName": user.last,
        "length": length,
        "level": level,
        "location": user.location,
        "method": method,
        "page": page,
        "registration": user.registration,
        "sessionId": session,
        "song": title,
        "status": 200,
        "ts": ts,
        "userAgent": user.agent,
        "userId": user.id,
    })
}

fn logged_out_event(session: u64, item: usize, ts: i64, rng: &mut Rng) -> Value {
    let page = ["Home", "Login", "About", "Help"][rng.below(4) as usize];
    let level = if rng.below(2) == 0 { "free" } else { "paid" };
    json!({
        "artist": null,
        "auth": "Logged Out",
        "firstName": null,
        "gender": null,
        "itemInSession": item,
        "lastName": null,
        "length": null,
        "level": level,
        "location": null,
        "method": "GET",
        "page": page,
        "registration": null,
        "sessionId": session,
        "song": null,
        "status": 200,
        "ts": ts,
        "userAgent": null,
        "userId": "",
    })
}

/// The text a JSON scalar stages as in a VARCHAR column.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compact JSON, everything outside ASCII written as `\uXXXX` (surrogate pairs beyond the BMP).
fn ascii_json(value: &Value) -> String {
    let text = serde_json::to_string(value).expect("serialisable");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn log_key(day_start_ms: i64) -> String {
    let (y, m, d) = civil_from_days(day_start_ms / DAY_MS);
    format!("log_data/{y:04}/{m:02}/{y:04}-{m:02}-{d:02}-events.json")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn base26(mut n: usize, width: usize) -> String {
    let mut out = vec![b'A'; width];
    for slot in out.iter_mut().rev() {
        *slot = b'A' + (n % 26) as u8;
        n /= 26;
    }
    String::from_utf8(out).expect("ascii")
}

fn round5(x: f64) -> f64 {
    (x * 100_000.0).round() / 100_000.0
}

fn write(root: &Path, key: &str, bytes: &[u8]) -> Result<(), GenError> {
    let path = root.join(key);
    let wrap = |source| GenError::Write {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(wrap)?;
    }
    fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(wrap)
}

/// SplitMix64: tiny, seedable and stable across versions, so a spec always gives the same bytes.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Counts of each quirk in a generated bucket, read back from its files: the tests check that
/// every quirk of the real data set is present.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    pub integer_titles: usize,
    pub float_titles: usize,
    pub integer_artist_names: usize,
    pub integer_locations: usize,
    pub empty_locations: usize,
    pub null_locations: usize,
    pub null_coordinates: usize,
    pub year_zero: usize,
    pub padded_titles: usize,
    pub escaped_song_files: usize,
    pub conflicting_artists: usize,
    pub logged_out_events: usize,
    pub float_registrations: usize,
    pub quoted_user_agents: usize,
    pub escaped_log_lines: usize,
    pub users_changing_level: usize,
    pub non_ascii_bytes: usize,
}

/// Reads a generated (or the real) bucket back and counts its quirks.
pub fn quirks(bucket_dir: &Path) -> io::Result<Quirks> {
    let mut q = Quirks::default();
    let mut artists: HashMap<String, String> = HashMap::new();
    let mut conflicting: HashSet<String> = HashSet::new();
    for path in files_under(&bucket_dir.join("song_data"))? {
        let text = fs::read_to_string(&path)?;
        q.non_ascii_bytes += text.bytes().filter(|b| !b.is_ascii()).count();
        q.escaped_song_files += usize::from(text.contains("\\u"));
        let song: Value = serde_json::from_str(&text).map_err(io::Error::other)?;
        let title = &song["title"];
        q.integer_titles += usize::from(title.is_i64() || title.is_u64());
        q.float_titles += usize::from(title.is_f64());
        q.padded_titles += usize::from(
            title
                .as_str()
                .is_some_and(|t| t.trim() != t && !t.trim().is_empty()),
        );
        q.integer_artist_names += usize::from(song["artist_name"].is_number());
        q.integer_locations += usize::from(song["artist_location"].is_number());
        q.empty_locations += usize::from(song["artist_location"] == "");
        q.null_locations += usize::from(song["artist_location"].is_null());
        q.null_coordinates +=
            usize::from(song["artist_latitude"].is_null() && song["artist_longitude"].is_null());
        q.year_zero += usize::from(song["year"] == 0);
        let id = song["artist_id"].as_str().unwrap_or_default().to_owned();
        let attributes = format!(
            "{}|{}|{}|{}",
            song["artist_name"],
            song["artist_location"],
            song["artist_latitude"],
            song["artist_longitude"]
        );
        if let Some(seen) = artists.get(&id) {
            if *seen != attributes {
                conflicting.insert(id);
            }
        } else {
            artists.insert(id, attributes);
        }
    }
    q.conflicting_artists = conflicting.len();
    let mut levels: HashMap<String, HashSet<String>> = HashMap::new();
    for path in files_under(&bucket_dir.join("log_data"))? {
        let text = fs::read_to_string(&path)?;
        q.non_ascii_bytes += text.bytes().filter(|b| !b.is_ascii()).count();
        for line in text.lines() {
            q.escaped_log_lines += usize::from(line.contains("\\u"));
            let event: Value = serde_json::from_str(line).map_err(io::Error::other)?;
            q.logged_out_events += usize::from(event["userId"] == "");
            q.float_registrations += usize::from(event["registration"].is_f64());
            q.quoted_user_agents += usize::from(
                event["userAgent"]
                    .as_str()
                    .is_some_and(|a| a.starts_with('"')),
            );
            if let (Some(user), Some(level)) = (event["userId"].as_str(), event["level"].as_str())
                && !user.is_empty()
            {
                levels
                    .entry(user.to_owned())
                    .or_default()
                    .insert(level.to_owned());
            }
        }
    }
    q.users_changing_level = levels.values().filter(|l| l.len() > 1).count();
    Ok(q)
}

fn files_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_cross_months_and_leap_years() {
        assert_eq!(civil_from_days(FIRST_DAY_MS / DAY_MS), (2018, 11, 1));
        assert_eq!(civil_from_days(FIRST_DAY_MS / DAY_MS + 30), (2018, 12, 1));
        assert_eq!(civil_from_days(FIRST_DAY_MS / DAY_MS + 61), (2019, 1, 1));
        assert_eq!(civil_from_days(18_321), (2020, 2, 29));
    }

    #[test]
    fn non_ascii_is_escaped_with_surrogate_pairs() {
        assert_eq!(
            ascii_json(&json!("Beyoncé 🎵")),
            r#""Beyonc\u00e9 \ud83c\udfb5""#
        );
    }

    #[test]
    fn ids_encode_their_index() {
        assert_eq!(base26(0, 4), "AAAA");
        assert_eq!(base26(27, 4), "AABB");
    }
}
