//! Charts drawn on the server as SVG, so a page needs no script to show them: a bar a day.
//! Small enough to write here rather than take a plotting crate (and its fonts and image
//! stack) for rectangles; each bar carries a `<title>`, the browser's own tooltip.

/// One bar: what its tooltip says, and its height's value.
pub struct Bar {
    pub label: String,
    pub value: i64,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The bars as an `<svg>` named `name` for assistive technology, scaled to the largest
/// value (an empty or all-zero series draws only its baseline).
pub fn bars(name: &str, bars: &[Bar]) -> String {
    const HEIGHT: i64 = 100;
    let step: i64 = 10;
    let width = (bars.len() as i64 * step).max(step);
    let top = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {}\" preserveAspectRatio=\"none\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(name),
        HEIGHT + 1
    );
    for (i, b) in bars.iter().enumerate() {
        let v = b.value.max(0);
        // Integer arithmetic in i128: no value overflows it, none is rounded to nothing.
        let h = i128::from(v) * i128::from(HEIGHT) / i128::from(top);
        let h = if v > 0 { h.max(1) } else { 0 };
        let x = i as i64 * step + 1;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{}</title></rect>",
            i128::from(HEIGHT) - h,
            step - 2,
            escape(&b.label)
        ));
    }
    svg.push_str(&format!(
        "<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{width}\" y2=\"{HEIGHT}\"/></svg>"
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_their_labels() {
        let svg = bars(
            "Takings <a>",
            &[
                Bar {
                    label: "1 & 2".into(),
                    value: 50,
                },
                Bar {
                    label: "x".into(),
                    value: 100,
                },
                Bar {
                    label: "y".into(),
                    value: 0,
                },
                Bar {
                    label: "tiny".into(),
                    value: 1,
                },
                Bar {
                    label: "huge".into(),
                    value: i64::MAX,
                },
            ],
        );
        assert!(svg.contains("aria-label=\"Takings &lt;a&gt;\""));
        assert!(svg.contains("<title>1 &amp; 2</title>"));
        assert!(svg.contains("height=\"100\"><title>huge"));
        // Zero draws nothing; one next to the largest still shows.
        assert!(svg.contains("height=\"0\"><title>y"));
        assert!(svg.contains("height=\"1\"><title>tiny"));
        assert!(bars("none", &[]).starts_with("<svg"));
    }
}
