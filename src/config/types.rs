//! Value types written as text in the config: durations (`"30s"`, `"15m"`, `"1h30m"`,
//! `"90d"`) and byte sizes (`"64MiB"`, `"16GiB"`, `"100kB"`, `"1024"`).

use std::time::Duration;

/// Parse a duration: one or more `<number><unit>` parts, units `s`, `m`, `h`, `d`, `w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "write durations like \"30s\", \"15m\", \"1h30m\" or \"90d\"";
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("empty duration: {hint}"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("{text:?} has an unknown unit {c:?}: {hint}")),
        };
        if digits.is_empty() {
            return Err(format!("{text:?} has a unit without a number: {hint}"));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("{text:?} has a number without a unit: {hint}"));
    }
    Ok(Duration::from_secs(total))
}

/// Parse a size: a number with an optional unit (`B`, `kB`/`KB`, `MB`, `GB`, `TB` in
/// powers of 1000, `KiB`, `MiB`, `GiB`, `TiB` in powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let hint = "write sizes like \"64MiB\", \"16GiB\" or \"512KiB\"";
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!("{text:?} has no number: {hint}"));
    }
    let n: u64 = num.parse().map_err(|_| format!("{text:?} is too large"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" => 1000,
        "MB" => 1000_u64.pow(2),
        "GB" => 1000_u64.pow(3),
        "TB" => 1000_u64.pow(4),
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => return Err(format!("{text:?} has an unknown unit {other:?}: {hint}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        for bad in [
            "",
            "15",
            "m",
            "15x",
            "-5m",
            "1.5h",
            "99999999999999999999s",
            "18446744073709551615w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("16GiB"), Ok(16 << 30));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        for bad in ["", "MiB", "12XB", "-1", "99999999999TiB", "1.5GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
