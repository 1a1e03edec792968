//! Durations as people write them in a config: `90s`, `10m`, `1h30m`, `500ms`.

use std::time::Duration;

/// Examples shown in every duration error message.
pub const DURATION_EXAMPLES: &str = "examples: 90s, 10m, 1h30m";

/// Parses a duration made of one or more `<integer><unit>` parts, units
/// `ms`, `s`, `m`, `h`, `d`, optionally separated by spaces: `"90s"`,
/// `"10m"`, `"1h30m"`, `"1h 30m"`, `"500ms"`. A number without a unit is an
/// error (is `90` seconds or minutes?), as is an empty string.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |hint: &str| {
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!(": {hint}")
        };
        Err(format!(
            "invalid duration {:?}{hint} ({DURATION_EXAMPLES})",
            text
        ))
    };
    let s = text.trim();
    if s.is_empty() {
        return bad("empty");
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0; // milliseconds
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return bad("");
        }
        let Ok(number) = s[start..i].parse::<u64>() else {
            return bad("number too large");
        };
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let factor: u128 = match &s[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return bad("missing unit"),
            _ => return bad("unknown unit"),
        };
        total += u128::from(number) * factor;
        if total > u128::from(u64::MAX) {
            return bad("too large");
        }
    }
    Ok(Duration::from_millis(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_the_rest() {
        for bad in [
            "",
            "  ",
            "90",
            "ten minutes",
            "10 m",
            "1.5h",
            "-5s",
            "5x",
            "h",
            "99999999999999999999s",
            "18446744073709551615d",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("examples: 90s, 10m, 1h30m"), "{bad:?}: {err}");
            assert!(err.starts_with("invalid duration"), "{bad:?}: {err}");
        }
    }
}
