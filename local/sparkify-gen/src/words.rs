//! Word lists for names, titles and places. About one name in fifteen carries a letter outside
//! ASCII, which the files carry as `\uXXXX` escapes, as the real data set does.

use crate::Rng;

const ADJECTIVES: &[&str] = &[
    "Blue", "Silent", "Electric", "Golden", "Broken", "Midnight", "Wild", "Lonely", "Burning",
    "Velvet", "Hollow", "Crimson", "Distant", "Gentle", "Restless", "Paper", "Northern", "Neon",
    "Sweet", "Empty", "Frozen", "Secret", "Little", "Holy", "Final", "Open", "Strange", "Lucky",
];
const NOUNS: &[&str] = &[
    "Heart", "River", "Morning", "Highway", "Dream", "Fire", "Rain", "Garden", "Shadow", "Train",
    "Summer", "Window", "Ocean", "City", "Mirror", "Letter", "Storm", "Dance", "Road", "Angel",
    "Machine", "Island", "Season", "Thunder", "Echo", "Winter", "Kiss", "Parade", "Lullaby",
];
const ACCENTED: &[&str] = &[
    "Café",
    "Señorita",
    "Noël",
    "Über",
    "Déjà Vu",
    "Mañana",
    "Ça Va",
    "Jalapeño",
    "Ångström",
    "Naïve",
    "Façade",
    "Smörgåsbord",
    "Björk",
    "Fiancée",
];
const BAND_WORDS: &[&str] = &[
    "Orchestra",
    "Brothers",
    "Collective",
    "Quartet",
    "Kids",
    "Club",
    "Machine",
    "Project",
    "Sisters",
    "Band",
    "Experience",
    "Society",
    "Crew",
    "Trio",
];
const FIRST_NAMES: &[(&str, &str)] = &[
    ("Walter", "M"),
    ("Kaylee", "F"),
    ("Ryan", "M"),
    ("Jacqueline", "F"),
    ("Jayden", "M"),
    ("Chloe", "F"),
    ("Aleena", "F"),
    ("Lily", "F"),
    ("Jordan", "F"),
    ("Theodore", "M"),
    ("Matthew", "M"),
    ("Tegan", "F"),
    ("Kevin", "M"),
    ("Mohammad", "M"),
    ("Zoé", "F"),
    ("Jesús", "M"),
    ("Anaïs", "F"),
    ("Sara", "F"),
    ("Cecilia", "F"),
    ("Harper", "M"),
];
const LAST_NAMES: &[&str] = &[
    "Frye",
    "Summers",
    "Smith",
    "Lynch",
    "Graves",
    "Cuevas",
    "Kirby",
    "Koch",
    "Harrell",
    "Rivers",
    "Jones",
    "Levine",
    "Arellano",
    "Rodriguez",
    "Núñez",
    "Müller",
    "Sørensen",
    "Cox",
    "Barrera",
];
const PLACES: &[&str] = &[
    "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Lansing-East Lansing, MI",
    "Portland-South Portland, ME",
    "New York, NY",
    "London, England",
    "Hamilton, Ontario, Canada",
    "Montréal, Québec",
    "São Paulo, Brazil",
    "Reykjavík, Iceland",
    "Nashville, TN",
    "Detroit, MI",
];
const AGENTS: &[&str] = &[
    "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36\"",
    "\"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36\"",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36\"",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)",
];

fn word(rng: &mut Rng, list: &[&'static str]) -> &'static str {
    if rng.below(15) == 0 {
        rng.pick(ACCENTED)
    } else {
        rng.pick(list)
    }
}

pub(crate) fn title(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("{} {}", word(rng, ADJECTIVES), word(rng, NOUNS)),
        1 => format!(
            "{} {} {}",
            word(rng, ADJECTIVES),
            word(rng, NOUNS),
            rng.below(1_000)
        ),
        _ => format!(
            "The {} of {} {}",
            word(rng, NOUNS),
            word(rng, ADJECTIVES),
            word(rng, NOUNS)
        ),
    }
}

/// A title of about 170 bytes, near the longest in the real set (173).
pub(crate) fn long_title(rng: &mut Rng) -> String {
    let mut out = String::from("Medley:");
    while out.len() < 165 {
        out.push(' ');
        out.push_str(rng.pick(NOUNS));
    }
    out
}

pub(crate) fn artist_name(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("{} {}", first_name(rng).0, word(rng, LAST_NAMES)),
        1 => format!("The {} {}", word(rng, ADJECTIVES), rng.pick(BAND_WORDS)),
        _ => format!(
            "{} {} {}",
            word(rng, NOUNS),
            rng.pick(BAND_WORDS),
            rng.below(100)
        ),
    }
}

pub(crate) fn place(rng: &mut Rng) -> String {
    rng.pick(PLACES).to_owned()
}

pub(crate) fn first_name(rng: &mut Rng) -> (String, &'static str) {
    let (name, gender) = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
    (name.to_owned(), gender)
}

pub(crate) fn last_name(rng: &mut Rng) -> String {
    rng.pick(LAST_NAMES).to_owned()
}

pub(crate) fn user_agent(rng: &mut Rng) -> String {
    rng.pick(AGENTS).to_owned()
}
