//! Hostile inputs through `sanitize::{line, text}`: nothing a terminal would
//! act on survives, and the visible text around it does.

use loopdeck::sanitize::{ansi_free, is_clean, line, text};

/// Characters that must never reach the terminal.
fn forbidden(c: char, newline_ok: bool) -> bool {
    let u = c as u32;
    (c == '\n' && !newline_ok)
        || (u < 0x20 && c != '\n')
        || u == 0x7F
        || (0x80..=0x9F).contains(&u)
        || (0x202A..=0x202E).contains(&u)
        || (0x2066..=0x2069).contains(&u)
        || (0x200B..=0x200F).contains(&u)
        || (0x2028..=0x2029).contains(&u)
        || u == 0xFEFF
        || u == 0xAD
        || (0xE0000..=0xE007F).contains(&u)
}

fn is_emoji(c: Option<&char>) -> bool {
    c.is_some_and(|&c| matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF))
}

/// The first forbidden character; a zero-width joiner is allowed only
/// between two emoji (`👨\u{200D}👩`).
fn first_forbidden(s: &str, newline_ok: bool) -> Option<char> {
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().find_map(|(i, &c)| {
        let joiner_ok =
            c == '\u{200D}' && i > 0 && is_emoji(chars.get(i - 1)) && is_emoji(chars.get(i + 1));
        (forbidden(c, newline_ok) && !joiner_ok).then_some(c)
    })
}

fn assert_safe(input: &str) {
    let t = text(input);
    if let Some(c) = first_forbidden(&t, true) {
        panic!("text({input:?}) = {t:?} contains U+{:04X}", c as u32);
    }
    let l = line(input);
    if let Some(c) = first_forbidden(&l, false) {
        panic!("line({input:?}) = {l:?} contains U+{:04X}", c as u32);
    }
    assert_eq!(text(&t), t, "text is idempotent for {input:?}");
    assert_eq!(line(&l), l, "line is idempotent for {input:?}");
    // `is_clean` is conservative about kept emoji joiners only.
    assert!(
        t.contains('\u{200D}') || is_clean(&t, true),
        "{t:?} is clean"
    );
    assert!(
        l.contains('\u{200D}') || is_clean(&l, false),
        "{l:?} is clean"
    );
}

/// (input, text() output)
const CASES: &[(&str, &str)] = &[
    // CSI: clear screen, cursor moves, SGR colours, private modes.
    ("before\x1b[2Jafter", "beforeafter"),
    ("\x1b[1;31mFAILED\x1b[0m test_x", "FAILED test_x"),
    ("a\x1b[?1049hb\x1b[10;20Hc", "abc"),
    ("x\x1b[38;2;255;0;0mred\x1b[39;49;00m", "xred"),
    // OSC 52 clipboard write, BEL and ST terminated.
    ("copy\x1b]52;c;aGVsbG8=\x07done", "copydone"),
    ("copy\x1b]52;c;aGVsbG8=\x1b\\done", "copydone"),
    // OSC 0 title, unterminated: it swallows the rest of its own line only.
    ("ok \x1b]0;title", "ok "),
    (
        "ok \x1b]0;title\nnext line survives",
        "ok \nnext line survives",
    ),
    // OSC 8 hyperlink: the link text stays, the target goes.
    (
        "see \x1b]8;;https://evil.example/\x1b\\the docs\x1b]8;;\x1b\\ here",
        "see the docs here",
    ),
    // 8-bit CSI / OSC / DCS (C1 controls as UTF-8 characters).
    ("red:\u{9b}31mtext\u{9b}0m", "red:text"),
    ("t\u{9d}0;title\u{9c}x", "tx"),
    ("p\u{90}1$r\u{9c}q", "pq"),
    ("nel\u{85}x", "nelx"),
    // DCS, APC, PM, SOS strings.
    ("a\x1bP1$tx\x1b\\b", "ab"),
    ("a\x1b_apc payload\x1b\\b", "ab"),
    ("a\x1b^pm payload\x1b\\b", "ab"),
    ("a\x1bXsos payload\x1b\\b", "ab"),
    // Lone ESC, ESC at the end, other ESC sequences (charset, keypad).
    ("a\x1b", "a"),
    ("a\x1bcb", "ab"),
    ("a\x1b(0b", "ab"),
    ("a\x1b=b", "ab"),
    // BEL, backspace, NUL, DEL dropped.
    ("ding\x07 dong", "ding dong"),
    ("ab\x08\x08cd", "abcd"),
    ("nul\0byte", "nulbyte"),
    ("del\x7fete", "delete"),
    // Other C0 controls made visible.
    ("vt\x0bff\x0c", "vt<U+000B>ff<U+000C>"),
    // Bidi override (Trojan Source) and isolates.
    ("admin\u{202E}txt.exe", "admin<U+202E>txt.exe"),
    ("a\u{2066}b\u{2069}c", "a<U+2066>b<U+2069>c"),
    (
        "\u{202A}\u{202B}\u{202C}\u{202D}",
        "<U+202A><U+202B><U+202C><U+202D>",
    ),
    // Zero-width and invisible characters.
    ("test\u{200B}_login", "test<U+200B>_login"),
    ("\u{FEFF}bom", "<U+FEFF>bom"),
    ("soft\u{AD}hyphen", "soft<U+00AD>hyphen"),
    ("rtl\u{200F}mark\u{200E}", "rtl<U+200F>mark<U+200E>"),
    ("para\u{2029}line\u{2028}", "para<U+2029>line<U+2028>"),
    ("tag\u{E0041}\u{E0042}", "tag<U+E0041><U+E0042>"),
    // Printable Unicode passes unchanged.
    ("café naïve 東京 🎉 Ωμέγα", "café naïve 東京 🎉 Ωμέγα"),
    // Tabs: a Go trace with tab indentation keeps its shape.
    (
        "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:12 +0x1d\nexit status 2",
        "goroutine 1 [running]:\nmain.main()\n        /src/main.go:12 +0x1d\nexit status 2",
    ),
    ("a\tbc\tdefghijk\tl", "a       bc      defghijk        l"),
    // CRLF becomes LF.
    ("one\r\ntwo\r\n", "one\ntwo\n"),
    // Progress bars: a lone CR keeps what was written after it.
    ("10%\r50%\r100%\ndone", "100%\ndone"),
    ("Downloading [=====>    ]\rDownloaded", "Downloaded"),
    ("trailing cr\r", "trailing cr"),
    // Mixed: SGR inside a CR-overwritten progress line.
    ("\x1b[32m 5%\x1b[0m\r\x1b[32m99%\x1b[0m", "99%"),
];

#[test]
fn hostile_table() {
    for (input, want) in CASES {
        assert_eq!(&text(input), want, "text({input:?})");
        assert_safe(input);
    }
}

#[test]
fn line_shows_newlines() {
    assert_eq!(line("a\nb"), "a ⏎ b");
    assert_eq!(line("a\r\nb\r\n"), "a ⏎ b");
    assert_eq!(
        line("assert x\n  where x = 1\n"),
        "assert x ⏎   where x = 1"
    );
    assert_eq!(line("10%\r100%\nok"), "100% ⏎ ok");
    assert_eq!(line("\x1b]0;unterminated\nvisible"), " ⏎ visible");
    assert_eq!(line("tests/test_a.py::test_b"), "tests/test_a.py::test_b");
}

#[test]
fn ansi_free_is_text() {
    let s = "\x1b[31merror\x1b[0m:\tboom\r\n";
    assert_eq!(ansi_free(s), text(s));
    assert_eq!(ansi_free(s), "error:  boom\n");
}

/// A small deterministic LCG (Numerical Recipes constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

#[test]
fn random_bytes_keep_the_invariants() {
    let mut rng = Lcg(0x5eed);
    for _ in 0..5_000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert_safe(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_hostile_mixtures_keep_the_invariants() {
    // Pieces that start, continue or end escape sequences, mixed with text.
    const PIECES: &[&str] = &[
        "\x1b",
        "[",
        "]",
        "P",
        "_",
        "^",
        "X",
        "\\",
        "\x07",
        "\x1b\\",
        "\x1b[",
        "\x1b]",
        "\x1bP",
        "0",
        "1;",
        "52;c;",
        "8;;",
        "m",
        "H",
        "J",
        "?",
        "\u{9b}",
        "\u{9c}",
        "\u{9d}",
        "\u{90}",
        "\u{85}",
        "\r",
        "\n",
        "\r\n",
        "\t",
        "\0",
        "\x08",
        "\x7f",
        "\x0b",
        "\u{202E}",
        "\u{2066}",
        "\u{200B}",
        "\u{200D}",
        "\u{FEFF}",
        "\u{AD}",
        "\u{2028}",
        "\u{E0041}",
        "\u{FE0F}",
        "👨",
        "東",
        "é",
        "text",
        " ",
        "ok",
    ];
    let mut rng = Lcg(42);
    for _ in 0..20_000 {
        let n = rng.below(24);
        let s: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        assert_safe(&s);
    }
}

#[test]
fn text_between_sequences_survives() {
    let mut rng = Lcg(7);
    const SEQS: &[&str] = &[
        "\x1b[2J",
        "\x1b]52;c;aGVsbG8=\x07",
        "\u{9b}31m",
        "\x1bP1$tx\x1b\\",
        "\x1b[0m",
        "\x07",
        "\x1b]8;;http://x\x1b\\",
    ];
    for i in 0..2_000 {
        let words: Vec<String> = (0..1 + rng.below(6)).map(|j| format!("w{i}x{j}")).collect();
        let mut s = String::new();
        for w in &words {
            s.push_str(SEQS[rng.below(SEQS.len())]);
            s.push_str(w);
        }
        assert_eq!(text(&s), words.concat(), "input {s:?}");
    }
}
