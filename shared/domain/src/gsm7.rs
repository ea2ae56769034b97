//! SMS text in the GSM 7-bit default alphabet (3GPP TS 23.038, formerly GSM 03.38).
//!
//! A message can go out as GSM 7-bit only when every character is encodable; one stray character forces
//! the whole message into UCS-2 (70 characters per segment). So text is mapped into the alphabet first:
//! characters of the default alphabet and its extension table are kept, others get a faithful
//! transliteration, and '?' only stands for what has none (emoji, CJK, Cyrillic, lowercase Greek...).

use std::fmt;

/// Septets in one non-concatenated SMS (140 octets).
const SINGLE_SMS_SEPTETS: usize = 160;
/// Septets per part of a concatenated SMS: the 6-octet user data header plus fill bit takes 7 septets.
const PART_SEPTETS: usize = 153;

/// Text made only of characters of the GSM 7-bit default alphabet and its extension table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Gsm7Text(String);

impl Gsm7Text {
    /// Keeps alphabet and extension characters, transliterates the others where that is faithful and puts
    /// '?' where it is not. Idempotent: `from_text(t.as_str()) == t`.
    #[must_use]
    pub fn from_text(text: &str) -> Self {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            push_char(&mut out, c);
        }
        Self(out)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Septets needed: 1 per default-alphabet character, 2 per extension character (ESC + code).
    #[must_use]
    pub fn septets(&self) -> usize {
        self.0.chars().map(cost).sum()
    }

    /// SMS segments. An empty text still counts as one message. In a concatenated SMS an escape pair
    /// must not straddle two parts, so a part may end one septet short.
    #[must_use]
    pub fn segments(&self) -> usize {
        if self.septets() <= SINGLE_SMS_SEPTETS {
            return 1;
        }
        let (mut parts, mut used) = (1, 0);
        for c in self.0.chars().map(cost) {
            if used + c > PART_SEPTETS {
                parts += 1;
                used = 0;
            }
            used += c;
        }
        parts
    }

    /// The longest prefix, on character boundaries, that fits in `septets`, and whether anything was cut.
    /// An extension character is kept whole or dropped whole.
    #[must_use]
    pub fn truncate_to(&self, septets: usize) -> (Gsm7Text, bool) {
        let mut used = 0;
        for (i, c) in self.0.char_indices() {
            used += cost(c);
            if used > septets {
                // `i` comes from char_indices, so it is a char boundary.
                return (Self(self.0[..i].to_owned()), true);
            }
        }
        (self.clone(), false)
    }
}

impl fmt::Display for Gsm7Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Gsm7Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether `c` is one of the 127 characters of the default alphabet (every code but ESC, 0x1B).
#[must_use]
pub fn is_default(c: char) -> bool {
    matches!(c,
        '\n' | '\r' | ' '..='?' | '@'..='Z' | '_' | 'a'..='z'
        | '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Æ' | 'æ' | 'ß' | 'É'
        | '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à'
        // Greek capitals Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ, as escapes so that no look-alike Latin letter slips in.
        | '\u{394}' | '\u{3A6}' | '\u{393}' | '\u{39B}' | '\u{3A9}' | '\u{3A0}' | '\u{3A8}' | '\u{3A3}' | '\u{398}'
        | '\u{39E}')
}

/// Whether `c` is in the extension table (sent as ESC + code, 2 septets). Form feed is its page break.
#[must_use]
pub fn is_extension(c: char) -> bool {
    matches!(c, '\x0C' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€')
}

fn cost(c: char) -> usize {
    if is_extension(c) { 2 } else { 1 }
}

/// Base letters for U+00C0..=U+017F; '?' marks letters kept as they are or mapped in `transliterate`.
const LATIN: &str = concat!(
    "AAAA????E?EEIIII",
    "D?OOOO?x?UUU?Y??",
    "?aaa???c??ee?iii",
    "d??ooo?/??uu?y?y",
    "AaAaAaCcCcCcCcDd",
    "DdEeEeEeEeEeGgGg",
    "GgGgHhHhIiIiIiIi",
    "Ii??JjKkkLlLlLlL",
    "lLlNnNnNn?NnOoOo",
    "????RrRrRrSsSsSs",
    "SsTtTtTtUuUuUuUu",
    "??UuWwYyYZzZzZzs",
);
/// Latin look-alikes of Greek capitals U+0391..=U+03A9 (the same glyphs on a phone); '?' for none.
const GREEK: &str = "AB??EZH?IK?MN?O?P??TY?X??";

/// Letters of the alphabet as base letter + combining mark, to recompose decomposed (NFD) input.
const COMPOSED: [(char, char, char); 18] = [
    ('è', 'e', '\u{300}'),
    ('ù', 'u', '\u{300}'),
    ('ì', 'i', '\u{300}'),
    ('ò', 'o', '\u{300}'),
    ('à', 'a', '\u{300}'),
    ('é', 'e', '\u{301}'),
    ('É', 'E', '\u{301}'),
    ('Ñ', 'N', '\u{303}'),
    ('ñ', 'n', '\u{303}'),
    ('Ä', 'A', '\u{308}'),
    ('Ö', 'O', '\u{308}'),
    ('Ü', 'U', '\u{308}'),
    ('ä', 'a', '\u{308}'),
    ('ö', 'o', '\u{308}'),
    ('ü', 'u', '\u{308}'),
    ('Å', 'A', '\u{30A}'),
    ('å', 'a', '\u{30A}'),
    ('Ç', 'C', '\u{327}'),
];

fn push_char(out: &mut String, c: char) {
    if is_default(c) || is_extension(c) {
        out.push(c);
    } else if let Some(&(composed, ..)) = COMPOSED.iter().find(|&&(_, base, mark)| mark == c && out.ends_with(base)) {
        out.pop();
        out.push(composed);
    } else if let Some(ascii) =
        ('\u{FF01}'..='\u{FF5E}').contains(&c).then(|| char::from_u32(c as u32 - 0xFEE0)).flatten()
    {
        // Fullwidth forms are plain ASCII drawn wide.
        push_char(out, ascii);
    } else {
        out.push_str(transliterate(c).unwrap_or("?"));
    }
}

/// A faithful replacement made of alphabet characters ("" drops an invisible character), or None.
fn transliterate(c: char) -> Option<&'static str> {
    let table = |table: &'static str, first: char| {
        let i = c as usize - first as usize;
        table.get(i..=i).filter(|s| *s != "?")
    };
    Some(match c {
        '\t' => " ",
        '\u{B}' | '\u{85}' | '\u{2028}' | '\u{2029}' => "\n",
        '`' | '´' | '\u{2BC}' | '\u{2018}'..='\u{201B}' | '\u{2032}' | '\u{2039}' | '\u{203A}' => "'",
        '«' | '»' | '\u{201C}'..='\u{201F}' | '\u{2033}' => "\"",
        '\u{2010}'..='\u{2015}' | '\u{2043}' | '\u{2212}' | '•' => "-",
        '…' => "...",
        '·' => ".",
        '¸' => ",",
        '¦' => "|",
        '⁄' => "/",
        '©' => "(c)",
        '®' => "(R)",
        '™' => "TM",
        '№' => "No",
        // '°' is mostly "n°" and "°C"; 'o' keeps both readable ("no 12", "-5oC").
        'º' | '°' => "o",
        'ª' => "a",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        '¼' => "1/4",
        '½' => "1/2",
        '¾' => "3/4",
        '±' => "+/-",
        'µ' => "u",
        '→' => "->",
        '←' => "<-",
        '⇒' => "=>",
        'Þ' => "Th",
        'þ' => "th",
        'Œ' => "OE",
        'œ' => "oe",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "'n",
        // Hungarian double acute is a long umlaut; ö/ü are closer than o/u.
        'Ő' => "Ö",
        'ő' => "ö",
        'Ű' => "Ü",
        'ű' => "ü",
        'Ș' => "S",
        'ș' => "s",
        'Ț' => "T",
        'ț' => "t",
        'ƒ' => "f",
        '\u{FB00}' => "ff",
        '\u{FB01}' => "fi",
        '\u{FB02}' => "fl",
        '\u{FB03}' => "ffi",
        '\u{FB04}' => "ffl",
        '\u{FB05}' | '\u{FB06}' => "st",
        '\u{2126}' => "\u{3A9}", // OHM SIGN is the same glyph as Greek Omega.
        '\u{2206}' => "\u{394}", // INCREMENT is the same glyph as Greek Delta.
        '\u{C0}'..='\u{17F}' => return table(LATIN, '\u{C0}'),
        '\u{391}'..='\u{3A9}' => return table(GREEK, '\u{391}'),
        // Invisible: soft hyphen, zero-width and bidi controls, BOM, variation selectors, skin tones,
        // and combining marks that did not compose (the base letter alone is the faithful reading).
        '\u{AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{300}'..='\u{36F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}' => "",
        _ if c.is_control() => "",
        _ if c.is_whitespace() => " ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gsm(s: &str) -> String {
        Gsm7Text::from_text(s).as_str().to_owned()
    }

    #[test]
    fn weather_reason_keeps_accents() {
        assert_eq!(gsm("Météo: neige à Zürich – vol annulé…"), "Météo: neige à Zürich - vol annulé...");
    }

    #[test]
    fn alphabet_matches_the_standard() {
        let all = || (0..=0x10_FFFF).filter_map(char::from_u32);
        assert_eq!(all().filter(|&c| is_default(c)).count(), 127);
        assert_eq!(all().filter(|&c| is_extension(c)).count(), 10);
        assert!(all().all(|c| !(is_default(c) && is_extension(c))));
        let greek = [0x394, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E];
        assert!(greek.iter().filter_map(|&u| char::from_u32(u)).all(is_default));
        assert!(!is_default('ç') && !is_default('`') && !is_default('\x1B') && !is_default('\t'));
    }

    #[test]
    fn transliterations() {
        let cases = [
            ("Ça reçu garçon", "Ça recu garcon"),
            ("á ł ß œ Œ Æ", "a l ß oe OE Æ"),
            ("l’avion “AF12” — gate", "l'avion \"AF12\" - gate"),
            ("10\u{A0}h\u{202F}!\tok", "10 h ! ok"),
            ("Győr Kraków Dvořák Ísland", "Györ Krakow Dvorak Island"),
            ("\u{1F600}✈\u{FE0F} Москва 東京", "?? ?????? ??"),
            ("Ａｂｃ｀", "Abc'"),
            ("a\u{0}b\u{7}c\u{9F}\u{200B}d", "abcd"),
            ("Ae\u{301}e\u{302}c\u{327}", "Aéec"),
            ("\u{391}\u{398}\u{397}\u{39D}\u{391} \u{3B1}", "AΘHNA ?"),
            ("{[~^|\\]}€\x0C", "{[~^|\\]}€\x0C"),
            ("n° 5, -5°C, → CDG", "no 5, -5oC, -> CDG"),
        ];
        for (input, expected) in cases {
            assert_eq!(gsm(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn latin_tables_leave_no_gap() {
        for c in ('\u{C0}'..='\u{17F}').chain('\u{218}'..='\u{21B}') {
            assert!(!gsm(&c.to_string()).contains('?'), "{c:?} U+{:04X}", c as u32);
        }
    }

    #[test]
    fn septets_count_escape_pairs() {
        assert_eq!(Gsm7Text::from_text("€").septets(), 2);
        assert_eq!(Gsm7Text::from_text("a€{é\n").septets(), 7);
        assert_eq!(Gsm7Text::from_text("").septets(), 0);
    }

    #[test]
    fn segment_boundaries() {
        let segs = |s: String| Gsm7Text::from_text(&s).segments();
        assert_eq!(segs(String::new()), 1);
        for (n, expected) in [(160, 1), (161, 2), (306, 2), (307, 3)] {
            assert_eq!(segs("a".repeat(n)), expected, "{n} septets");
        }
        assert_eq!(segs(format!("{}€", "a".repeat(158))), 1);
        assert_eq!(segs(format!("{}€", "a".repeat(159))), 2);
        // 306 septets either way; the pair at septet 153 would straddle parts 1 and 2, so it moves.
        assert_eq!(segs(format!("{}€{}", "a".repeat(151), "a".repeat(153))), 2);
        assert_eq!(segs(format!("{}€{}", "a".repeat(152), "a".repeat(152))), 3);
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let t = Gsm7Text::from_text("ab€é");
        let cut = |n| {
            let (t, cut) = t.truncate_to(n);
            (t.as_str().to_owned(), cut)
        };
        assert_eq!(cut(0), (String::new(), true));
        assert_eq!(cut(3), ("ab".to_owned(), true));
        assert_eq!(cut(4), ("ab€".to_owned(), true));
        assert_eq!(cut(5), ("ab€é".to_owned(), false));
        assert_eq!(cut(99), ("ab€é".to_owned(), false));
    }

    /// Mostly characters this module treats specially, so long strings cross segment boundaries.
    fn tricky() -> impl Strategy<Value = String> {
        let chars: Vec<char> = "aé€{\\\x0Cç–…\u{301}\u{308}\u{A0}\t\r\n\u{1F600}Жő’ＡΩ\u{0}".chars().collect();
        prop::collection::vec(prop::sample::select(chars), 0..400).prop_map(|v| v.into_iter().collect())
    }

    fn check(s: &str, n: usize) -> Result<(), TestCaseError> {
        let t = Gsm7Text::from_text(s);
        prop_assert!(t.as_str().chars().all(|c| is_default(c) || is_extension(c)));
        let septets = t.septets();
        let by_char = t.as_str().chars().map(|c| if is_extension(c) { 2 } else { 1 }).sum::<usize>();
        prop_assert_eq!(septets, by_char);
        prop_assert_eq!(&Gsm7Text::from_text(t.as_str()), &t);
        let segs = t.segments();
        if septets <= 160 {
            prop_assert_eq!(segs, 1);
        } else {
            // Each part carries 153 septets, or 152 when an escape pair was pushed to the next one.
            prop_assert!(segs >= septets.div_ceil(153) && segs <= septets.div_ceil(152));
        }
        let (short, cut) = t.truncate_to(n);
        prop_assert!(short.septets() <= n);
        prop_assert!(t.as_str().starts_with(short.as_str()));
        prop_assert_eq!(cut, short != t);
        if let Some(next) = t.as_str()[short.as_str().len()..].chars().next() {
            prop_assert!(short.septets() + cost(next) > n, "prefix is not the longest");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_string(s in any::<String>(), n in 0usize..50) {
            check(&s, n)?;
        }

        #[test]
        fn tricky_string(s in tricky(), n in 0usize..500) {
            check(&s, n)?;
        }
    }
}
