//! Columns for the human form of stage views: one row per host or stage,
//! each column as wide as its widest cell.

/// Appends `rows` (the first is the header) as aligned columns, each row
/// behind its `marks` cell (`!` for a row that drifts, else a space).
pub fn write(out: &mut String, rows: &[(char, Vec<String>)]) {
    let columns = rows.iter().map(|(_, cells)| cells.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|(_, cells)| cells.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (mark, cells) in rows {
        let mut line = format!("{mark} ");
        for (cell, width) in cells.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut out = String::new();
        let row = |mark, cells: &[&str]| (mark, cells.iter().map(|c| c.to_string()).collect());
        super::write(
            &mut out,
            &[row(' ', &["host", "live"]), row('!', &["web10", "R1"])],
        );
        assert_eq!(out, "  host   live\n! web10  R1\n");
    }
}
