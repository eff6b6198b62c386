//! Times as ISO 8601: PostgreSQL's commit timestamps (microseconds since
//! 2000-01-01 UTC) and its ISO-style text output of `timestamp`/`timestamptz`.

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// `2026-12-02T12:42:10.123456Z` for a PostgreSQL timestamp (µs since 2000-01-01 UTC).
pub fn pg_micros_to_iso(micros: i64) -> String {
    let unix = micros.saturating_add(PG_EPOCH_UNIX_MICROS);
    let secs = unix.div_euclid(1_000_000);
    let frac = unix.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", tod / 3600, tod / 60 % 60, tod % 60)
}

/// Milliseconds since the Unix epoch of a PostgreSQL timestamp.
pub fn pg_micros_to_unix_ms(micros: i64) -> i64 {
    micros.saturating_add(PG_EPOCH_UNIX_MICROS).div_euclid(1000)
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// PostgreSQL's ISO text output of a `timestamp` or `timestamptz`
/// (`2024-01-02 03:04:05.5+00`, `… +05:30`) as ISO 8601
/// (`2024-01-02T03:04:05.5+00:00`). `infinity`, BC dates and anything
/// unexpected pass through unchanged.
pub fn pg_timestamp_text_to_iso(text: &str) -> String {
    let b = text.as_bytes();
    if b.len() < 19 || b[10] != b' ' || !b[..4].iter().all(u8::is_ascii_digit) || text.ends_with(" BC") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str(&text[..10]);
    out.push('T');
    let rest = &text[11..];
    // The zone, if any, starts at the first '+' or '-' after the time.
    match rest.find(['+', '-']) {
        Some(i) => {
            out.push_str(&rest[..i]);
            let zone = &rest[i..];
            out.push_str(zone);
            if zone.len() == 3 {
                out.push_str(":00");
            }
        }
        None => out.push_str(rest),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_times_are_utc_iso() {
        assert_eq!(pg_micros_to_iso(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(pg_micros_to_iso(-1), "1999-12-31T23:59:59.999999Z");
        // 2024-02-29T12:34:56.789012Z
        let micros = (1_709_210_096_789_012i64) - PG_EPOCH_UNIX_MICROS;
        assert_eq!(pg_micros_to_iso(micros), "2024-02-29T12:34:56.789012Z");
        assert_eq!(pg_micros_to_unix_ms(micros), 1_709_210_096_789);
    }

    #[test]
    fn timestamp_text_becomes_iso_8601() {
        assert_eq!(pg_timestamp_text_to_iso("2024-01-02 03:04:05"), "2024-01-02T03:04:05");
        assert_eq!(pg_timestamp_text_to_iso("2024-01-02 03:04:05.5+00"), "2024-01-02T03:04:05.5+00:00");
        assert_eq!(pg_timestamp_text_to_iso("2024-01-02 03:04:05-07"), "2024-01-02T03:04:05-07:00");
        assert_eq!(pg_timestamp_text_to_iso("2024-01-02 03:04:05+05:30"), "2024-01-02T03:04:05+05:30");
        assert_eq!(pg_timestamp_text_to_iso("infinity"), "infinity");
        assert_eq!(pg_timestamp_text_to_iso("0044-03-15 12:00:00 BC"), "0044-03-15 12:00:00 BC");
    }
}
