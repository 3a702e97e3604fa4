//! CSV cells for exports opened in spreadsheets: RFC 4180 quoting, and
//! formula injection neutralised as OWASP advises. A cell that starts with
//! `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula
//! by Excel, LibreOffice or Sheets (`=HYPERLINK(...)`, DDE), so it is
//! prefixed with `'`, which spreadsheets read as "text" and hide. A plain
//! signed number (`+447911123456`, `-3`) is left as it is: it cannot call
//! anything, and phone numbers stay exactly as stored.

use std::borrow::Cow;

/// One cell as written to a CSV line: neutralised, then quoted when needed.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    let neutralised: Cow<'_, str> = if starts_formula(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    };
    if neutralised.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", neutralised.replace('"', "\"\"")))
    } else {
        neutralised
    }
}

/// True when a spreadsheet would read the cell as a formula.
fn starts_formula(value: &str) -> bool {
    let mut chars = value.chars();
    match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => {
            let rest = chars.as_str();
            rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+=1+1<script>"), "'+=1+1<script>");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("\tcmd"), "'\tcmd");
        assert_eq!(csv_cell("\r=cmd"), "\"'\r=cmd\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("+"), "'+");
    }

    #[test]
    fn plain_cells_and_signed_numbers_are_kept() {
        assert!(matches!(
            csv_cell("+447911123456"),
            Cow::Borrowed("+447911123456")
        ));
        assert_eq!(csv_cell("-3"), "-3");
        assert_eq!(csv_cell("opted_in"), "opted_in");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell(""), "");
    }
}
