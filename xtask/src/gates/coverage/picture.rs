//! The coverage badge and trend chart, as SVG written by hand, and their figures as Markdown
//! for the step summary (which shows no local image). The badge is shields.io's "flat" style,
//! `coverage | 87%` in the grade band's colour; the chart is the total over the last runs, with
//! the threshold as a dashed line. Both read without colour: every figure is also text, the
//! threshold is dashed, and a run below it is a hollow point. Percentages are rounded down,
//! as everywhere in the gate.

use std::fmt::Write as _;

use crate::coverage::cobertura::Counts;
use crate::coverage::grade::{self, Band, Percent, floor_hundredths, percent_text};

/// Shields' colours, from the lowest band to the highest: red, orange, yellow-green, green,
/// bright green.
pub const PALETTE: [&str; 5] = ["#e05d44", "#fe7d37", "#a4a61d", "#97ca00", "#44cc11"];

/// The colour of the band `counts` fall in: the lowest band red, the highest bright green,
/// those between spread over [`PALETTE`] in order (the default five bands take one colour
/// each).
pub fn band_colour(bands: &[Band], counts: Counts) -> &'static str {
    let band = grade::band(bands, counts);
    let index = bands.iter().position(|b| std::ptr::eq(b, band)).unwrap_or(0);
    let rank = bands.len() - 1 - index;
    match bands.len() {
        0 | 1 => PALETTE[3],
        n => PALETTE[rank * (PALETTE.len() - 1) / (n - 1)],
    }
}

/// The whole percentage, rounded down: 89.99% is `89%`.
pub fn whole_percent(counts: Counts) -> String {
    format!("{}%", floor_hundredths(counts) / 100)
}

/// A point of the chart: one run.
pub struct Point<'a> {
    pub commit: &'a str,
    pub date: &'a str,
    pub counts: Counts,
}

impl Point<'_> {
    fn short(&self) -> &str {
        self.commit.get(..7).unwrap_or(self.commit)
    }

    fn value(&self) -> f64 {
        floor_hundredths(self.counts) as f64 / 100.0
    }
}

/// `coverage | 87%`, 20 pixels high, its width following the text.
pub fn badge(counts: Counts, bands: &[Band], noun: &str) -> String {
    let band = grade::band(bands, counts);
    let (label, value) = ("coverage", whole_percent(counts));
    let colour = band_colour(bands, counts);
    let (lw, vw) = (text_width(label) + 10.0, text_width(&value) + 10.0);
    let width = lw + vw;
    let title =
        format!("coverage: {value} of {noun} ({}% exactly; {} {})", percent_text(counts), band.emoji, band.label);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" viewBox="0 0 {width} 20" role="img" aria-label="coverage: {value}">
<title>{title}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect id="value" x="{lw}" width="{vw}" height="20" fill="{colour}"/><rect width="{width}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{label}</text><text x="{lx}" y="14">{label}</text>
<text x="{vx}" y="15" fill="#010101" fill-opacity=".3">{value}</text><text x="{vx}" y="14">{value}</text>
</g>
</svg>
"##,
        title = escape(&title),
        lx = lw / 2.0,
        vx = lw + vw / 2.0,
    );
    s
}

/// Verdana at 11 pixels, near enough: shields measures the text the same way.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            '0'..='9' => 7.0,
            '%' => 12.0,
            'i' | 'l' | 'j' | '.' | ':' | ',' | ' ' => 3.5,
            'r' | 'f' | 't' => 4.5,
            'm' | 'w' => 10.0,
            c if c.is_uppercase() => 7.5,
            _ => 6.5,
        })
        .sum()
}

/// The chart's size and the plot's margins, in pixels.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 270.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 64.0;
/// A commit's label needs this much room on the x axis.
const LABEL_ROOM: f64 = 52.0;

/// The y axis: whole tens around the figures and the threshold, within 0–100.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub low: f64,
    pub high: f64,
}

impl Scale {
    pub fn of(values: impl Iterator<Item = f64>, threshold: f64) -> Scale {
        let (min, max) = values.fold((threshold, threshold), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let low = ((min - 2.0) / 10.0).floor().max(0.0) * 10.0;
        let high = (((max + 2.0) / 10.0).ceil() * 10.0).min(100.0);
        if high > low { Scale { low, high } } else { Scale { low: (high - 10.0).max(0.0), high: high.max(10.0) } }
    }

    /// The y pixel of a percentage.
    pub fn y(&self, percent: f64) -> f64 {
        TOP + (self.high - percent) / (self.high - self.low) * (HEIGHT - TOP - BOTTOM)
    }
}

/// The x pixel of point `i` of `n`.
fn x(i: usize, n: usize) -> f64 {
    let (from, to) = (LEFT + 16.0, WIDTH - RIGHT - 16.0);
    if n <= 1 { (from + to) / 2.0 } else { from + i as f64 * (to - from) / (n - 1) as f64 }
}

/// The total over `points` (oldest first), the threshold as a dashed line, the axes labelled,
/// each point's commit, date and figure in its `<title>` (shown on hover).
pub fn trend(points: &[Point<'_>], threshold: Percent, noun: &str) -> String {
    let limit: f64 = threshold.to_string().parse().unwrap_or(0.0);
    let scale = Scale::of(points.iter().map(Point::value), limit);
    let n = points.len();
    let (plot_left, plot_right, plot_bottom) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM);
    let title = match points.last() {
        Some(last) => format!(
            "Coverage of {noun}: {}% at {} (the last {} {}; threshold {threshold}%)",
            percent_text(last.counts),
            last.short(),
            n,
            if n == 1 { "run" } else { "runs" }
        ),
        None => format!("Coverage of {noun}: no run yet (threshold {threshold}%)"),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<title id="title">{}</title>
<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>
<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#24292f">{}</text>"##,
        escape(&title),
        escape(&title),
    );
    // Grid and y ticks, every 10 points.
    let mut tick = scale.low;
    while tick <= scale.high + 1e-9 {
        let y = scale.y(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{plot_left}" y1="{y:.1}" x2="{plot_right}" y2="{y:.1}" stroke="#d0d7de" stroke-width="1"/><text x="{}" y="{:.1}" text-anchor="end" fill="#24292f">{tick}%</text>"##,
            plot_left - 6.0,
            y + 4.0
        );
        tick += 10.0;
    }
    // The axes and their labels.
    let _ = writeln!(
        s,
        r##"<g stroke="#24292f" stroke-width="1"><line x1="{plot_left}" y1="{TOP}" x2="{plot_left}" y2="{plot_bottom}"/><line x1="{plot_left}" y1="{plot_bottom}" x2="{plot_right}" y2="{plot_bottom}"/></g>
<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" fill="#24292f">coverage of {} (%)</text>
<text x="{:.1}" y="{}" text-anchor="middle" fill="#24292f">the last {n} {}, oldest first (commit)</text>"##,
        (TOP + plot_bottom) / 2.0,
        escape(noun),
        (plot_left + plot_right) / 2.0,
        HEIGHT - 12.0,
        if n == 1 { "run" } else { "runs" },
    );
    // The threshold: a dashed line, labelled.
    let ty = scale.y(limit);
    let _ = writeln!(
        s,
        r##"<line id="threshold" x1="{plot_left}" y1="{ty:.1}" x2="{plot_right}" y2="{ty:.1}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#cf222e">threshold {threshold}%</text>"##,
        plot_left + 4.0,
        ty - 4.0
    );
    // The commits under the axis: as many as fit, the last one always.
    let every = ((n as f64 * LABEL_ROOM) / (plot_right - plot_left)).ceil().max(1.0) as usize;
    for (i, p) in points.iter().enumerate() {
        if (n - 1 - i).is_multiple_of(every) {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10" fill="#57606a">{}</text>"##,
                x(i, n),
                plot_bottom + 16.0,
                escape(p.short())
            );
        }
    }
    // The line, then the points over it: filled at or above the threshold, hollow below it.
    if n > 1 {
        let coords: Vec<String> =
            points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i, n), scale.y(p.value()))).collect();
        let _ = writeln!(
            s,
            r##"<polyline id="total" points="{}" fill="none" stroke="#0969da" stroke-width="2"/>"##,
            coords.join(" ")
        );
    }
    for (i, p) in points.iter().enumerate() {
        let met = threshold.reached_by(p.counts);
        let fill = if met { "#0969da" } else { "#fff" };
        let tip = format!(
            "{} · {} · {}% ({} / {} {noun}){}",
            p.short(),
            p.date,
            percent_text(p.counts),
            grade::thousands(p.counts.covered),
            grade::thousands(p.counts.valid),
            if met { "" } else { ", below the threshold" }
        );
        let _ = writeln!(
            s,
            r##"<circle class="run" cx="{:.1}" cy="{:.1}" r="4" fill="{fill}" stroke="#0969da" stroke-width="2"><title>{}</title></circle>"##,
            x(i, n),
            scale.y(p.value()),
            escape(&tip)
        );
    }
    if let Some(last) = points.last() {
        let (lx, ly) = (x(n - 1, n), scale.y(last.value()));
        let _ = writeln!(
            s,
            r##"<text id="last" x="{:.1}" y="{:.1}" text-anchor="end" font-weight="bold" fill="#24292f">{}%</text>"##,
            lx - 8.0,
            ly - 8.0,
            percent_text(last.counts)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{plot_left}" y="{}" font-size="10" fill="#57606a">● at or above the threshold   ○ below it   - - - the threshold</text>"##,
        plot_bottom + 34.0
    );
    s.push_str("</svg>\n");
    s
}

/// `▁▃▅█`: each run's figure as a block of eight heights over the chart's scale.
pub fn sparkline(points: &[Point<'_>], threshold: Percent) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let limit: f64 = threshold.to_string().parse().unwrap_or(0.0);
    let scale = Scale::of(points.iter().map(Point::value), limit);
    points
        .iter()
        .map(|p| {
            let share = (p.value() - scale.low) / (scale.high - scale.low);
            BLOCKS[((share * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// The step summary's part: the badge's figure, the trend as a sparkline and, folded, a table
/// of the runs (newest first); the summary shows no local image, so the figures are text.
pub fn markdown(points: &[Point<'_>], threshold: Percent, bands: &[Band], noun: &str, files: &str) -> String {
    let Some(last) = points.last() else { return String::new() };
    let band = grade::band(bands, last.counts);
    let mut out = format!("\n#### Coverage trend: {} {} of {noun}\n\n", band.emoji, whole_percent(last.counts));
    let change = points.len().checked_sub(2).map(|i| {
        let (was, now) = (floor_hundredths(points[i].counts) as i64, floor_hundredths(last.counts) as i64);
        change_text(now - was)
    });
    let _ = writeln!(
        out,
        "`{}` over the last {} (oldest first; threshold {threshold}%){}.\n",
        sparkline(points, threshold),
        if points.len() == 1 { "run".to_owned() } else { format!("{} runs", points.len()) },
        change.map(|c| format!(", {c} since the run before")).unwrap_or_default()
    );
    out.push_str(
        "<details><summary>The runs</summary>\n\n| Commit | Date | Coverage | Change |\n| --- | --- | ---: | ---: |\n",
    );
    for (i, p) in points.iter().enumerate().rev() {
        let change = i.checked_sub(1).map_or_else(
            || "".to_owned(),
            |j| change_text(floor_hundredths(p.counts) as i64 - floor_hundredths(points[j].counts) as i64),
        );
        let below = if threshold.reached_by(p.counts) { "" } else { " ❌" };
        let _ = writeln!(
            out,
            "| `{}` | {} | {}%{below} | {change} |",
            p.short().replace('`', ""),
            p.date.get(..10).unwrap_or(p.date),
            percent_text(p.counts)
        );
    }
    let _ = writeln!(out, "\n</details>\n\nThe badge and the chart: {files}.");
    out
}

/// `+0.40`, `−1.25`, `±0` points, from hundredths.
fn change_text(hundredths: i64) -> String {
    let sign = match hundredths.signum() {
        1 => "+",
        -1 => "−",
        _ => "±",
    };
    let h = hundredths.unsigned_abs();
    format!("{sign}{}.{:02}", h / 100, h % 100)
}

/// Text for XML: `&`, `<`, `>` and quotes escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quick_xml::events::{BytesStart, Event};

    use super::*;
    use crate::coverage::grade::default_bands;

    fn c(covered: u64, valid: u64) -> Counts {
        Counts { covered, valid }
    }

    /// An element of a parsed SVG: its name, attributes and the text directly inside it.
    #[derive(Debug)]
    struct Element {
        name: String,
        attrs: BTreeMap<String, String>,
        text: String,
    }

    impl Element {
        fn attr(&self, key: &str) -> &str {
            self.attrs.get(key).map_or_else(|| panic!("<{}> has no {key}: {self:?}", self.name), String::as_str)
        }

        fn number(&self, key: &str) -> f64 {
            self.attr(key).parse().unwrap_or_else(|_| panic!("{key} is not a number: {self:?}"))
        }
    }

    /// Parses the SVG as XML, failing on anything that is not well-formed: one root `<svg>`,
    /// every element closed in order, attributes unique and their values and the text properly
    /// escaped.
    fn parse(svg: &str) -> Vec<Element> {
        fn element(e: &BytesStart<'_>) -> Element {
            let mut attrs = BTreeMap::new();
            for a in e.attributes().with_checks(true) {
                let a = a.expect("a well-formed attribute");
                let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("an escaped value");
                assert!(attrs.insert(a.key.as_ref().to_owned(), value.into_owned()).is_none(), "a repeated attribute");
            }
            Element { name: e.name().as_ref().to_owned(), attrs, text: String::new() }
        }
        let mut reader = quick_xml::Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let (mut all, mut open, mut roots) = (Vec::new(), Vec::<usize>::new(), 0);
        loop {
            match reader.read_event().unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}")) {
                Event::Start(e) => {
                    roots += usize::from(open.is_empty());
                    open.push(all.len());
                    all.push(element(&e));
                }
                Event::Empty(e) => {
                    roots += usize::from(open.is_empty());
                    all.push(element(&e));
                }
                Event::End(_) => drop(open.pop()),
                Event::Text(t) => {
                    let text = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                    match open.last() {
                        Some(&i) => all[i].text.push_str(&text),
                        None => assert!(text.trim().is_empty(), "text outside the root: {text:?}"),
                    }
                }
                Event::GeneralRef(r) => {
                    let name: &str = r.as_ref();
                    let text = quick_xml::escape::resolve_predefined_entity(name)
                        .unwrap_or_else(|| panic!("&{name}; is not one of XML's own entities"));
                    let &i = open.last().expect("a reference inside an element");
                    all[i].text.push_str(text);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(open.is_empty() && roots == 1, "one root, every element closed: {svg}");
        assert_eq!(all[0].name, "svg");
        assert_eq!(all[0].attr("xmlns"), "http://www.w3.org/2000/svg");
        all
    }

    fn find<'a>(elements: &'a [Element], name: &str, id: &str) -> &'a Element {
        elements
            .iter()
            .find(|e| e.name == name && e.attrs.get("id").map(String::as_str) == Some(id))
            .unwrap_or_else(|| panic!("no <{name} id={id:?}>"))
    }

    fn runs(figures: &[u64]) -> Vec<(String, u64)> {
        figures.iter().enumerate().map(|(i, f)| (format!("{i:x}abcdef0123456789"), *f)).collect()
    }

    fn points(runs: &[(String, u64)]) -> Vec<Point<'_>> {
        runs.iter().map(|(commit, f)| Point { commit, date: "2025-06-01T12:00:00Z", counts: c(*f, 10_000) }).collect()
    }

    #[test]
    fn the_badge_is_well_formed_and_rounds_down() {
        let svg = badge(c(8_999, 10_000), &default_bands(), "lines");
        let elements = parse(&svg);
        let texts: Vec<&str> = elements.iter().filter(|e| e.name == "text").map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["coverage", "coverage", "89%", "89%"], "89.99% is 89%, never 90%");
        assert_eq!(all_titles(&elements), ["coverage: 89% of lines (89.99% exactly; 🌟 High)"]);
        assert_eq!(all_titles(&elements).len(), 1);
        // The value's box holds its text.
        let value = find(&elements, "rect", "value");
        let width = elements[0].number("width");
        assert_eq!(value.number("x") + value.number("width"), width);
        assert!(value.number("width") >= 4.0 * 7.0, "{svg}");
    }

    fn all_titles(elements: &[Element]) -> Vec<&str> {
        elements.iter().filter(|e| e.name == "title").map(|e| e.text.as_str()).collect()
    }

    #[test]
    fn the_badge_takes_the_colour_of_its_band() {
        let bands = default_bands();
        for (covered, colour, band) in [
            (4_999, "#e05d44", "❌"),
            (5_000, "#fe7d37", "⚠️"),
            (6_999, "#fe7d37", "⚠️"),
            (7_000, "#a4a61d", "✅"),
            (8_000, "#97ca00", "🌟"),
            (8_999, "#97ca00", "🌟"),
            (9_000, "#44cc11", "🚀"),
            (10_000, "#44cc11", "🚀"),
        ] {
            let svg = badge(c(covered, 10_000), &bands, "lines");
            let elements = parse(&svg);
            assert_eq!(find(&elements, "rect", "value").attr("fill"), colour, "{covered}");
            assert!(all_titles(&elements)[0].contains(band), "{covered}: {svg}");
        }
        // Two bands of the user's: the low one red, the high one bright green.
        let two: Vec<Band> = bands.iter().filter(|b| ["🚀", "❌"].contains(&b.emoji.as_str())).cloned().collect();
        assert_eq!(band_colour(&two, c(1, 2)), PALETTE[0]);
        assert_eq!(band_colour(&two, c(95, 100)), PALETTE[4]);
    }

    #[test]
    fn a_trend_of_one_run_is_a_point_in_the_middle() {
        let runs = runs(&[8_712]);
        let svg = trend(&points(&runs), Percent::whole(70), "lines");
        let elements = parse(&svg);
        let circles: Vec<&Element> = elements.iter().filter(|e| e.name == "circle").collect();
        assert_eq!(circles.len(), 1);
        assert_eq!(circles[0].number("cx"), (LEFT + WIDTH - RIGHT) / 2.0);
        assert!(!elements.iter().any(|e| e.name == "polyline"), "no line through one point");
        assert_eq!(circles[0].text, "", "{svg}");
        let tip = elements.iter().find(|e| e.name == "title" && e.text.starts_with("0abcdef")).unwrap();
        assert_eq!(tip.text, "0abcdef · 2025-06-01T12:00:00Z · 87.12% (8,712 / 10,000 lines)");
        assert_eq!(find(&elements, "text", "last").text, "87.12%");
        assert_eq!(
            find(&elements, "title", "title").text,
            "Coverage of lines: 87.12% at 0abcdef (the last 1 run; threshold 70%)"
        );
        // Both axes say what they are.
        let texts: Vec<&str> = elements.iter().filter(|e| e.name == "text").map(|e| e.text.as_str()).collect();
        assert!(texts.contains(&"coverage of lines (%)") && texts.contains(&"the last 1 run, oldest first (commit)"));
        assert!(texts.contains(&"70%") && texts.contains(&"90%") && texts.contains(&"threshold 70%"), "{texts:?}");
    }

    #[test]
    fn a_trend_of_many_runs_draws_each_and_labels_what_fits() {
        let figures: Vec<u64> = (0..30).map(|i| 6_000 + i * 100).collect();
        let runs = runs(&figures);
        let svg = trend(&points(&runs), Percent::whole(70), "branches");
        let elements = parse(&svg);
        let circles: Vec<&Element> = elements.iter().filter(|e| e.name == "circle").collect();
        assert_eq!(circles.len(), 30);
        let line = find(&elements, "polyline", "total").attr("points").split(' ').count();
        assert_eq!(line, 30);
        // Oldest first, left to right; higher coverage higher up (smaller y).
        assert!(circles.windows(2).all(|w| w[0].number("cx") < w[1].number("cx")));
        assert!(circles.windows(2).all(|w| w[0].number("cy") > w[1].number("cy")));
        // Below the threshold: hollow; at or above it: filled.
        assert_eq!(circles.iter().filter(|c| c.attr("fill") == "#fff").count(), 10, "60.00% to 69.00%");
        assert!(elements.iter().any(|e| e.name == "title" && e.text.ends_with("branches), below the threshold")));
        // Commit labels spaced so they do not overlap, the newest always labelled.
        let labels: Vec<&Element> = elements
            .iter()
            .filter(|e| e.name == "text" && e.attrs.get("font-size").is_some_and(|s| s == "10"))
            .collect();
        let labels: Vec<&&Element> = labels.iter().filter(|e| e.text.len() == 7).collect();
        assert!(labels.len() >= 5 && labels.len() < 30, "{}", labels.len());
        assert!(labels.windows(2).all(|w| w[1].number("x") - w[0].number("x") >= LABEL_ROOM));
        assert_eq!(labels.last().unwrap().text, "1dabcde", "the 30th run");
    }

    #[test]
    fn the_threshold_line_is_drawn_at_its_value() {
        // 80% and 60% either side of a 70% threshold: the line is half-way between them.
        let two = runs(&[8_000, 6_000]);
        let elements = parse(&trend(&points(&two), Percent::whole(70), "lines"));
        let line = find(&elements, "line", "threshold");
        assert_eq!(line.number("y1"), line.number("y2"));
        assert_eq!(line.attr("stroke-dasharray"), "6 4", "dashed, so it reads without colour");
        let ys: Vec<f64> = elements.iter().filter(|e| e.name == "circle").map(|e| e.number("cy")).collect();
        assert!((line.number("y1") - (ys[0] + ys[1]) / 2.0).abs() <= 0.1, "{ys:?} {line:?}");
        // 72.5%: a quarter of the way from 80% down to 70%; and the scale reaches it when the
        // runs are all far above.
        let two = runs(&[8_000, 7_000]);
        let elements = parse(&trend(&points(&two), "72.5".parse().unwrap(), "lines"));
        let y = find(&elements, "line", "threshold").number("y1");
        let ys: Vec<f64> = elements.iter().filter(|e| e.name == "circle").map(|e| e.number("cy")).collect();
        assert!((y - (ys[0] + (ys[1] - ys[0]) * 0.75)).abs() <= 0.1, "{ys:?} {y}");
        let scale = Scale::of([99.0, 98.5].into_iter(), 50.0);
        assert_eq!(scale, Scale { low: 40.0, high: 100.0 });
        assert_eq!(Scale::of([0.0].into_iter(), 0.0), Scale { low: 0.0, high: 10.0 });
        assert_eq!(Scale::of([100.0].into_iter(), 100.0), Scale { low: 90.0, high: 100.0 });
    }

    #[test]
    fn text_from_the_history_is_escaped() {
        let runs = vec![("<&\"'>".to_owned(), 5_000)];
        let elements = parse(&trend(&points(&runs), Percent::whole(70), "lines"));
        assert!(elements.iter().any(|e| e.name == "title" && e.text.starts_with("<&\"'> · ")));
    }

    #[test]
    fn the_step_summary_gives_the_figures_as_text() {
        let runs = runs(&[7_000, 7_040, 6_990]);
        let md = markdown(&points(&runs), Percent::whole(70), &default_bands(), "lines", "`a.svg` and `b.svg`");
        assert!(md.starts_with("\n#### Coverage trend: ⚠️ 69% of lines\n\n"), "{md}");
        assert!(
            md.contains("`▅▅▄` over the last 3 runs (oldest first; threshold 70%), −0.50 since the run before."),
            "{md}"
        );
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(
            rows,
            [
                "| `2abcdef` | 2025-06-01 | 69.90% ❌ | −0.50 |",
                "| `1abcdef` | 2025-06-01 | 70.40% | +0.40 |",
                "| `0abcdef` | 2025-06-01 | 70.00% |  |",
            ]
        );
        assert!(md.contains("The badge and the chart: `a.svg` and `b.svg`."), "{md}");
    }
}
