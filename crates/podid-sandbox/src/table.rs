//! Output that reads like kubectl's: aligned columns under upper-case headers, and ages in
//! kubectl's short form.

/// Rows under a header, each column as wide as its widest cell, three spaces apart.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if index < last {
                let pad = width - cell.chars().count() + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// An age as kubectl shows it: `45s`, `3m20s`, `12m`, `5h10m`, `20h`, `3d4h`, `12d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (minutes, hours, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if minutes < 10 && s % 60 != 0 => format!("{minutes}m{}s", s % 60),
        _ if hours < 3 => format!("{minutes}m"),
        _ if hours < 8 && minutes % 60 != 0 => format!("{hours}h{}m", minutes % 60),
        _ if days < 2 => format!("{hours}h"),
        _ if days < 8 && hours % 24 != 0 => format!("{days}d{}h", hours % 24),
        _ => format!("{days}d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_like_kubectl() {
        let rows = vec![
            vec!["aws-cli".into(), "1/1".into(), "Running".into()],
            vec!["a-much-longer-name".into(), "0/1".into(), "Pending".into()],
        ];
        assert_eq!(
            render(&["NAME", "READY", "STATUS"], &rows),
            "NAME                 READY   STATUS\n\
             aws-cli              1/1     Running\n\
             a-much-longer-name   0/1     Pending\n"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        for (seconds, shown) in [
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (600, "10m"),
            (4 * 3600 + 600, "4h10m"),
            (20 * 3600, "20h"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (12 * 86_400, "12d"),
            (-3, "0s"),
        ] {
            assert_eq!(age(seconds), shown, "{seconds}");
        }
    }
}
