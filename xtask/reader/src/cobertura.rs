//! Streaming Cobertura reader: bytes in, per-file line tables out.
//!
//! Counting rules (docs/quality-gates.md): totals are recomputed from the `<line>`
//! elements of each `<class>`, de-duplicated by (normalised filename, line number),
//! a line being covered when any copy has `hits > 0`; the copies under `<methods>` are
//! ignored; `\` and `/` name the same file. The root `lines-covered`/`lines-valid`
//! attributes are only a fallback for reports that have no `<line>` elements.
//!
//! Memory stays bounded by the number of distinct lines, stored as bitsets (two bits a
//! line), never by the size of the file. The bitsets are kept per file ([`LineTable`]) so
//! that patch coverage can ask about single lines; `<sources><source>` texts are kept too.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

/// What to collect besides line coverage.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Keep branch counts (`condition-coverage="50% (1/2)"`, LCOV `BRDA:`): the totals, and
    /// per line in [`FileCoverage::branch_lines`] (which [`crate::merge`] and
    /// [`crate::write`] need). Off, branch data is skipped and costs no memory.
    pub branches: bool,
}

/// A covered/coverable pair of counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub covered: u64,
    pub valid: u64,
}

/// One source file after merging all of its `<class>` elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCoverage {
    /// The filename as the report gives it, with `\` turned into `/`.
    pub name: String,
    pub lines: Counts,
    pub branches: Counts,
    /// Which line numbers the report lists, and which of them are covered (`hits > 0` in
    /// any copy), after the same de-duplication as `lines`.
    pub line_table: LineTable,
    /// Branch counts per line, sorted by line, one entry a line (the highest covered and
    /// total counts seen); empty unless [`ParseOptions::branches`]. They sum to `branches`.
    pub branch_lines: Vec<BranchLine>,
}

/// The branch outcomes of one line: `covered` of `total` were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchLine {
    pub line: u32,
    pub covered: u32,
    pub total: u32,
}

/// The listed and covered line numbers of one file: a bitset per block of 64 line numbers,
/// blocks sorted, so memory grows with the distinct lines listed, not with their numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineTable {
    /// (line number / 64, bits), sorted by block; `covered` is a subset of `present`.
    pub(crate) chunks: Vec<(u32, Chunk)>,
}

impl LineTable {
    /// `None` when the report does not list `line` (not coverable), else whether it is covered.
    pub fn state(&self, line: u32) -> Option<bool> {
        let i = self.chunks.binary_search_by_key(&(line >> 6), |&(key, _)| key).ok()?;
        let chunk = self.chunks[i].1;
        let bit = 1u64 << (line & 63);
        (chunk.present & bit != 0).then_some(chunk.covered & bit != 0)
    }

    /// Covered and listed lines: the same numbers as [`FileCoverage::lines`].
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for (_, c) in &self.chunks {
            counts.valid += u64::from(c.present.count_ones());
            counts.covered += u64::from(c.covered.count_ones());
        }
        counts
    }

    /// Every listed line with whether it is covered, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        self.chunks.iter().flat_map(|&(key, c)| {
            let mut bits = c.present;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let at = bits.trailing_zeros();
                bits &= bits - 1;
                Some(((key << 6) | at, c.covered & (1u64 << at) != 0))
            })
        })
    }

    /// Marks `lines` covered where the table lists them (a line it does not list stays
    /// unlisted: covering never makes a line coverable).
    pub fn cover(&mut self, lines: impl IntoIterator<Item = u32>) {
        for line in lines {
            if let Ok(i) = self.chunks.binary_search_by_key(&(line >> 6), |&(key, _)| key) {
                let bit = 1u64 << (line & 63);
                let chunk = &mut self.chunks[i].1;
                if chunk.present & bit != 0 {
                    chunk.covered |= bit;
                }
            }
        }
    }

    /// Adds `other`'s lines: a line is listed when either table lists it, covered when either
    /// covers it (the union of two runs' coverage of one file).
    pub fn union(&mut self, other: &LineTable) {
        if other.chunks.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.chunks.len().max(other.chunks.len()));
        let (mut a, mut b) = (self.chunks.iter().peekable(), other.chunks.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&(ka, ca)), Some(&&(kb, cb))) if ka == kb => {
                    a.next();
                    b.next();
                    (ka, Chunk { present: ca.present | cb.present, covered: ca.covered | cb.covered })
                }
                (Some(&&x), Some(&&(kb, _))) if x.0 < kb => {
                    a.next();
                    x
                }
                (_, Some(&&y)) => {
                    b.next();
                    y
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        self.chunks = merged;
    }

    pub(crate) fn from_chunks(chunks: BTreeMap<u32, Chunk>) -> LineTable {
        let chunks = chunks
            .into_iter()
            .map(|(key, c)| (key, Chunk { present: c.present, covered: c.covered & c.present }))
            .filter(|(_, c)| c.present != 0)
            .collect();
        LineTable { chunks }
    }
}

/// The totals a producer wrote on the root `<coverage>` element, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootAttributes {
    pub lines: Option<Counts>,
    pub branches: Option<Counts>,
    /// `line-rate` / `branch-rate`, kept as written (a decimal string).
    pub line_rate: Option<String>,
    pub branch_rate: Option<String>,
}

/// A parsed report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Files sorted by name.
    pub files: Vec<FileCoverage>,
    pub root: RootAttributes,
    /// The `<sources><source>` texts in report order, trimmed and `normalise`d; empty ones left out.
    pub sources: Vec<String>,
    /// How many `<line>` elements were read (duplicates included, `<methods>` excluded).
    pub line_elements: u64,
    /// How many of them carried branch information.
    pub branch_elements: u64,
}

impl Report {
    /// Totals over all files.
    pub fn totals(&self) -> (Counts, Counts) {
        let mut lines = Counts::default();
        let mut branches = Counts::default();
        for f in &self.files {
            lines.covered += f.lines.covered;
            lines.valid += f.lines.valid;
            branches.covered += f.branches.covered;
            branches.valid += f.branches.valid;
        }
        (lines, branches)
    }
}

/// The sum of per-line branch counts.
pub fn branch_counts(lines: &[BranchLine]) -> Counts {
    let mut counts = Counts::default();
    for b in lines {
        counts.covered += u64::from(b.covered);
        counts.valid += u64::from(b.total);
    }
    counts
}

/// A problem with the input, located by byte offset (the caller turns it into line:column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (byte {})", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

pub(crate) fn err<T>(offset: u64, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { offset, message: message.into() })
}

/// `parse` over a buffered file. Not generic, so the parser is compiled (and optimised) here,
/// in this crate, rather than in the caller's.
pub fn parse_file(input: std::io::BufReader<std::fs::File>, options: ParseOptions) -> Result<Report, ParseError> {
    parse(input, options)
}

/// Reads a Cobertura report from `input`.
pub fn parse<R: BufRead>(mut input: R, options: ParseOptions) -> Result<Report, ParseError> {
    sniff(&mut input)?;
    let mut reader = quick_xml::Reader::from_reader(input);
    let config = reader.config_mut();
    config.trim_text(true);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut acc = Accumulator::new(options);
    let mut buf = Vec::with_capacity(4096);
    // Depth of open elements; where the `<methods>` and `<class>` elements opened.
    let mut depth: usize = 0;
    let mut methods_depth: Option<usize> = None;
    let mut class_depth: Option<usize> = None;
    // Where `<sources>` opened; the text of the `<source>` being read and where it opened.
    let mut sources_depth: Option<usize> = None;
    let mut source: Option<(usize, String)> = None;
    let mut seen_root = false;

    loop {
        let at = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => return err(reader.error_position(), format!("malformed XML: {e}")),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                // White space before the tag was skipped: point at its `<`.
                let tag_len = e.name().as_ref().len() + e.attributes_raw().len() + if empty { 3 } else { 2 };
                let at = reader.buffer_position().saturating_sub(tag_len as u64);
                let name = e.local_name();
                let name = name.as_ref();
                if !seen_root {
                    if name != "coverage" {
                        return err(at, root_hint(name));
                    }
                    seen_root = true;
                    acc.root = root_attributes(e, at)?;
                } else if depth == 0 {
                    return err(at, "content after the end of the <coverage> element");
                } else if methods_depth.is_some() {
                    // Copies of the class's lines, per method: never counted.
                } else if name == "methods" {
                    if !empty {
                        methods_depth = Some(depth);
                    }
                } else if name == "class" {
                    if class_depth.is_some() {
                        return err(at, "<class> nested inside another <class>");
                    }
                    let filename = class_filename(e, at)?;
                    acc.enter_file(&filename);
                    if !empty {
                        class_depth = Some(depth);
                    }
                } else if name == "line" && class_depth.is_some() {
                    acc.line(e, at)?;
                } else if name == "sources" && depth == 1 {
                    if !empty {
                        sources_depth = Some(depth);
                    }
                } else if name == "source" && sources_depth == Some(depth - 1) && source.is_none() && !empty {
                    // Kept untrimmed until its end: white space next to a reference is content.
                    source = Some((depth, String::new()));
                    reader.config_mut().trim_text(false);
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                // quick-xml has already checked the end name matches.
                depth -= 1;
                if methods_depth == Some(depth) {
                    methods_depth = None;
                }
                if class_depth == Some(depth) {
                    class_depth = None;
                }
                if sources_depth == Some(depth) {
                    sources_depth = None;
                }
                if let Some((_, text)) = source.take_if(|(at, _)| *at == depth) {
                    reader.config_mut().trim_text(true);
                    let text = normalise(text.trim());
                    if !text.is_empty() {
                        acc.sources.push(text);
                    }
                }
            }
            Event::DocType(ref d) => {
                // An external DTD (cargo-llvm-cov names one) is never fetched; an internal
                // subset could declare entities, which are never expanded: refuse it.
                if d.to_ascii_uppercase().contains("<!ENTITY") {
                    let at = reader.buffer_position().saturating_sub(d.len() as u64 + 11);
                    return err(
                        at,
                        "entity declarations are not allowed in a coverage report (they are never expanded)",
                    );
                }
            }
            Event::Text(ref t) => {
                if depth == 0 && !t.trim().is_empty() {
                    return err(at, "text outside the root element: not an XML coverage report");
                }
                if let Some((_, text)) = &mut source {
                    text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::CData(ref t) => {
                if let Some((_, text)) = &mut source {
                    text.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(ref r) => {
                if depth == 0 {
                    return err(at, "text outside the root element: not an XML coverage report");
                }
                let name: &str = r.as_ref();
                let at = reader.buffer_position().saturating_sub(name.len() as u64 + 2);
                if !matches!(name, "lt" | "gt" | "amp" | "apos" | "quot") && !name.starts_with('#') {
                    return err(at, format!("reference to an undeclared entity &{name};"));
                }
                if let Some((_, text)) = &mut source {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => text.push(c),
                        Ok(None) => text.push_str(quick_xml::escape::resolve_predefined_entity(name).unwrap_or("")),
                        Err(e) => return err(at, format!("bad character reference &{name};: {e}")),
                    }
                }
            }
            Event::Eof => {
                let at = reader.buffer_position();
                if !seen_root {
                    return err(at, "no <coverage> element: the file is not a Cobertura report");
                }
                if depth > 0 {
                    return err(at, "unexpected end of file: the report is truncated (elements left open)");
                }
                break;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    Ok(acc.finish())
}

/// Fails early, with a hint, on input that is plainly not XML (LCOV, JSON, empty).
fn sniff<R: BufRead>(input: &mut R) -> Result<(), ParseError> {
    let head = input.fill_buf().map_err(|e| ParseError { offset: 0, message: format!("read error: {e}") })?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return if head.is_empty() { err(0, "the file is empty") } else { err(0, "the file holds only white space") };
    };
    let rest = &head[start..];
    let hint = if rest.starts_with(b"<") {
        return Ok(());
    } else if rest.starts_with(b"{") || rest.starts_with(b"[") {
        "this looks like JSON, not Cobertura XML (cargo llvm-cov: --cobertura; coverage.py: `coverage xml`)"
    } else if [&b"TN:"[..], b"SF:", b"DA:"].iter().any(|p| rest.starts_with(p)) {
        "this looks like an LCOV tracefile, not Cobertura XML (cargo llvm-cov: --cobertura; grcov: -t cobertura)"
    } else {
        "not an XML document (a Cobertura report starts with `<`)"
    };
    err(start as u64, hint)
}

fn root_hint(name: &str) -> String {
    match name {
        "report" => "the root element is <report>: this looks like a JaCoCo report, not Cobertura".into(),
        "CoverageSession" => {
            "the root element is <CoverageSession>: this looks like an OpenCover report, not Cobertura".into()
        }
        _ => format!("the root element is <{name}>, not <coverage>: not a Cobertura report"),
    }
}

fn root_attributes(e: &BytesStart<'_>, at: u64) -> Result<RootAttributes, ParseError> {
    let mut lines = (None, None);
    let mut branches = (None, None);
    let mut root = RootAttributes::default();
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|e| ParseError { offset: at, message: format!("malformed attribute: {e}") })?;
        let value = attr.value.as_bytes();
        match attr.key.as_ref() {
            "lines-covered" => lines.0 = Some(count(value, at, "lines-covered")?),
            "lines-valid" => lines.1 = Some(count(value, at, "lines-valid")?),
            "branches-covered" => branches.0 = Some(count(value, at, "branches-covered")?),
            "branches-valid" => branches.1 = Some(count(value, at, "branches-valid")?),
            "line-rate" => root.line_rate = Some(String::from_utf8_lossy(value).into_owned()),
            "branch-rate" => root.branch_rate = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }
    root.lines = pair(lines, at, "lines")?;
    root.branches = pair(branches, at, "branches")?;
    Ok(root)
}

fn pair((covered, valid): (Option<u64>, Option<u64>), at: u64, what: &str) -> Result<Option<Counts>, ParseError> {
    match (covered, valid) {
        (Some(covered), Some(valid)) if covered > valid => {
            err(at, format!("<coverage> says {what}-covered={covered} is more than {what}-valid={valid}"))
        }
        (Some(covered), Some(valid)) => Ok(Some(Counts { covered, valid })),
        _ => Ok(None),
    }
}

fn class_filename(e: &BytesStart<'_>, at: u64) -> Result<String, ParseError> {
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|e| ParseError { offset: at, message: format!("malformed attribute: {e}") })?;
        if attr.key.as_ref() == "filename" {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| ParseError { offset: at, message: format!("bad `filename` attribute: {e}") })?;
            return Ok(normalise(&value));
        }
    }
    err(at, "<class> element has no `filename` attribute")
}

/// `\` and `/` are the same separator; a leading `./` is noise.
pub fn normalise(name: &str) -> String {
    let name = name.replace('\\', "/");
    match name.strip_prefix("./") {
        Some(rest) => rest.to_owned(),
        None => name,
    }
}

/// Parses a non-negative decimal integer attribute.
fn count(value: &[u8], at: u64, attr: &str) -> Result<u64, ParseError> {
    let mut n: u64 = 0;
    if value.is_empty() {
        return err(at, format!("`{attr}` is empty"));
    }
    for &b in value {
        match b {
            b'0'..=b'9' => {
                n = match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))) {
                    Some(n) => n,
                    None => return err(at, format!("`{attr}` is too large: {}", String::from_utf8_lossy(value))),
                }
            }
            b'-' => return err(at, format!("`{attr}` is negative: {}", String::from_utf8_lossy(value))),
            _ => return err(at, format!("`{attr}` is not a whole number: {:?}", String::from_utf8_lossy(value))),
        }
    }
    Ok(n)
}

/// `condition-coverage="50% (1/2)"` → (1, 2).
fn condition_coverage(value: &[u8], at: u64) -> Result<(u32, u32), ParseError> {
    let bad = || ParseError {
        offset: at,
        message: format!("`condition-coverage` is not of the form \"50% (1/2)\": {:?}", String::from_utf8_lossy(value)),
    };
    let open = value.iter().position(|&b| b == b'(').ok_or_else(bad)?;
    let close = value.iter().rposition(|&b| b == b')').ok_or_else(bad)?;
    let inner = value.get(open + 1..close).ok_or_else(bad)?;
    let slash = inner.iter().position(|&b| b == b'/').ok_or_else(bad)?;
    let covered = count(&inner[..slash], at, "condition-coverage")?;
    let total = count(&inner[slash + 1..], at, "condition-coverage")?;
    if covered > total {
        return Err(bad());
    }
    let (Ok(covered), Ok(total)) = (u32::try_from(covered), u32::try_from(total)) else {
        return Err(bad());
    };
    Ok((covered, total))
}

/// Calls `take` for each `name="value"` (or `'value'`) pair of a start tag's raw attribute
/// text. `None` when the text needs the general parser: a reference (`&…;`) in a value,
/// or anything that is not plain attribute syntax.
fn simple_attributes(
    mut raw: &[u8],
    take: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ParseError>,
) -> Option<Result<(), ParseError>> {
    // XML white space is space, tab, CR and LF.
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    loop {
        while let [b, rest @ ..] = raw
            && space(*b)
        {
            raw = rest;
        }
        if raw.is_empty() {
            return Some(Ok(()));
        }
        let eq = raw.iter().position(|&b| b == b'=' || space(b))?;
        let (name, mut rest) = raw.split_at(eq);
        while let [b, tail @ ..] = rest
            && space(*b)
        {
            rest = tail;
        }
        let [b'=', tail @ ..] = rest else { return None };
        rest = tail;
        while let [b, tail @ ..] = rest
            && space(*b)
        {
            rest = tail;
        }
        let [quote @ (b'"' | b'\''), tail @ ..] = rest else { return None };
        let mut len = 0;
        loop {
            match *tail.get(len)? {
                b if b == *quote => break,
                b'&' | b'<' => return None,
                _ => len += 1,
            }
        }
        let (value, after) = (&tail[..len], &tail[len + 1..]);
        if name.is_empty() || after.first().is_some_and(|&b| !space(b)) {
            return None;
        }
        if let Err(e) = take(name, value) {
            return Some(Err(e));
        }
        raw = after;
    }
}

/// Bits for 64 consecutive line numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) present: u64,
    pub(crate) covered: u64,
}

#[derive(Default)]
struct FileLines {
    chunks: BTreeMap<u32, Chunk>,
    /// Branches per line: the highest covered and total counts seen.
    branches: BTreeMap<u32, (u32, u32)>,
}

/// Collects lines by (normalised filename, line number) with the counting rules of the module
/// docs; shared by the Cobertura and LCOV readers.
pub(crate) struct Accumulator {
    options: ParseOptions,
    pub(crate) root: RootAttributes,
    pub(crate) sources: Vec<String>,
    names: HashMap<String, usize>,
    files: Vec<(String, FileLines)>,
    /// The file the current `<class>` belongs to, and the chunk being filled (flushed on
    /// a change of chunk or file, so sequential lines never touch the map).
    current: usize,
    chunk_key: u32,
    chunk: Chunk,
    pub(crate) line_elements: u64,
    pub(crate) branch_elements: u64,
}

impl Accumulator {
    pub(crate) fn new(options: ParseOptions) -> Self {
        Accumulator {
            options,
            root: RootAttributes::default(),
            sources: Vec::new(),
            names: HashMap::new(),
            files: Vec::new(),
            current: usize::MAX,
            chunk_key: 0,
            chunk: Chunk::default(),
            line_elements: 0,
            branch_elements: 0,
        }
    }

    fn flush(&mut self) {
        if self.chunk.present != 0 {
            let (_, file) = &mut self.files[self.current];
            let slot = file.chunks.entry(self.chunk_key).or_default();
            slot.present |= self.chunk.present;
            slot.covered |= self.chunk.covered;
            self.chunk = Chunk::default();
        }
    }

    /// Makes `name` (already `normalise`d) the file that the next lines belong to.
    pub(crate) fn enter_file(&mut self, name: &str) {
        self.flush();
        self.current = match self.names.get(name) {
            Some(&i) => i,
            None => {
                self.files.push((name.to_owned(), FileLines::default()));
                self.names.insert(name.to_owned(), self.files.len() - 1);
                self.files.len() - 1
            }
        };
    }

    fn line(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), ParseError> {
        let mut number = None;
        let mut hits = None;
        let mut branch = false;
        let mut conditions = None;
        let branches = self.options.branches;
        let mut take = |name: &[u8], value: &[u8]| -> Result<(), ParseError> {
            match name {
                b"number" => number = Some(count(value, at, "number")?),
                b"hits" => hits = Some(count(value, at, "hits")?),
                b"branch" if branches => branch = value == b"true",
                b"condition-coverage" if branches => conditions = Some(condition_coverage(value, at)?),
                _ => {}
            }
            Ok(())
        };
        // The hot path: plain `name="value"` pairs. Anything else (references, odd syntax)
        // goes through quick-xml's attribute parser, which also words the errors.
        if let Some(result) = simple_attributes(e.attributes_raw().as_bytes(), &mut take) {
            result?;
        } else {
            for attr in e.attributes().with_checks(false) {
                let attr = attr.map_err(|e| ParseError { offset: at, message: format!("malformed attribute: {e}") })?;
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| ParseError { offset: at, message: format!("bad attribute value: {e}") })?;
                take(attr.key.as_ref().as_bytes(), value.as_bytes())?;
            }
        }
        let Some(number) = number else { return err(at, "<line> element has no `number` attribute") };
        let Some(hits) = hits else { return err(at, "<line> element has no `hits` attribute") };
        let Ok(number) = u32::try_from(number) else {
            return err(at, format!("line number {number} is out of range"));
        };
        self.add_line(number, hits > 0);
        if let (true, Some((covered, total))) = (branch, conditions) {
            self.branch_elements += 1;
            self.add_branches(number, covered, total);
        }
        Ok(())
    }

    /// One line record of the current file.
    #[inline]
    pub(crate) fn add_line(&mut self, number: u32, covered: bool) {
        self.line_elements += 1;
        let key = number >> 6;
        if key != self.chunk_key {
            self.flush();
            self.chunk_key = key;
        }
        let bit = 1u64 << (number & 63);
        self.chunk.present |= bit;
        if covered {
            self.chunk.covered |= bit;
        }
    }

    /// Branch counts of a line of the current file (the caller counts `branch_elements`):
    /// the highest covered and total counts seen win.
    pub(crate) fn add_branches(&mut self, number: u32, covered: u32, total: u32) {
        let (_, file) = &mut self.files[self.current];
        let slot = file.branches.entry(number).or_default();
        slot.0 = slot.0.max(covered);
        slot.1 = slot.1.max(total);
    }

    pub(crate) fn finish(mut self) -> Report {
        self.flush();
        let mut files: Vec<FileCoverage> = self
            .files
            .into_iter()
            .map(|(name, f)| {
                let line_table = LineTable::from_chunks(f.chunks);
                let lines = line_table.counts();
                let branch_lines: Vec<BranchLine> = f
                    .branches
                    .into_iter()
                    .map(|(line, (covered, total))| BranchLine { line, covered: covered.min(total), total })
                    .collect();
                let branches = branch_counts(&branch_lines);
                FileCoverage { name, lines, branches, line_table, branch_lines }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Report {
            files,
            root: self.root,
            sources: self.sources,
            line_elements: self.line_elements,
            branch_elements: self.branch_elements,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Report, ParseError> {
        parse(s.as_bytes(), ParseOptions { branches: true })
    }

    fn wrap(classes: &str) -> String {
        format!(
            "<?xml version=\"1.0\" ?>\n<coverage><packages><package name=\"p\"><classes>{classes}</classes></package></packages></coverage>"
        )
    }

    /// A table listing `listed` lines, of which `covered` are covered.
    fn table(listed: &[u32], covered: &[u32]) -> LineTable {
        let mut chunks: BTreeMap<u32, Chunk> = BTreeMap::new();
        for &l in listed {
            chunks.entry(l >> 6).or_default().present |= 1 << (l & 63);
        }
        for &l in covered {
            chunks.entry(l >> 6).or_default().covered |= 1 << (l & 63);
        }
        LineTable::from_chunks(chunks)
    }

    #[test]
    fn the_union_of_two_tables_lists_either_s_lines_covered_where_either_covers() {
        let a = table(&[1, 2, 3, 70, 500], &[1, 70]);
        let b = table(&[2, 3, 4, 200, 500, 9000], &[3, 200, 500]);
        let mut u = a.clone();
        u.union(&b);
        assert_eq!(u, table(&[1, 2, 3, 4, 70, 200, 500, 9000], &[1, 3, 70, 200, 500]));
        let mut v = b.clone();
        v.union(&a);
        assert_eq!(v, u, "the union does not depend on the order");
        let mut w = u.clone();
        w.union(&LineTable::default());
        assert_eq!(w, u);
        let mut e = LineTable::default();
        e.union(&a);
        assert_eq!(e, a);
    }

    #[test]
    fn duplicate_lines_count_once_and_keep_the_covered_copy() {
        let xml = wrap(
            r#"<class filename="a.rs"><lines><line number="1" hits="0"/><line number="2" hits="0"/></lines></class>
               <class filename="a.rs"><lines><line number="1" hits="4"/></lines></class>"#,
        );
        let r = parse_str(&xml).unwrap();
        assert_eq!(r.totals().0, Counts { covered: 1, valid: 2 });
        assert_eq!(r.line_elements, 3);
    }

    #[test]
    fn lines_under_methods_are_not_counted() {
        let xml = wrap(
            r#"<class filename="a.rs"><methods><method name="f"><lines><line number="9" hits="1"/></lines></method></methods>
               <lines><line number="1" hits="0"/></lines></class>"#,
        );
        assert_eq!(parse_str(&xml).unwrap().totals().0, Counts { covered: 0, valid: 1 });
    }

    #[test]
    fn windows_and_unix_separators_name_one_file() {
        let xml = wrap(
            r#"<class filename="src\lib.rs"><lines><line number="1" hits="1"/></lines></class>
               <class filename="./src/lib.rs"><lines><line number="1" hits="0"/><line number="2" hits="0"/></lines></class>"#,
        );
        let r = parse_str(&xml).unwrap();
        assert_eq!(r.files.len(), 1);
        assert_eq!(r.files[0].name, "src/lib.rs");
        assert_eq!(r.files[0].lines, Counts { covered: 1, valid: 2 });
    }

    #[test]
    fn branches_take_the_highest_counts_per_line() {
        let xml = wrap(
            r#"<class filename="a.py"><lines>
                 <line number="3" hits="1" branch="true" condition-coverage="50% (1/2)"/>
                 <line number="3" hits="1" branch="true" condition-coverage="100% (2/2)"/>
                 <line number="7" hits="0" branch="true" condition-coverage="0% (0/4)"/>
               </lines></class>"#,
        );
        assert_eq!(parse_str(&xml).unwrap().totals().1, Counts { covered: 2, valid: 6 });
    }

    #[test]
    fn line_numbers_far_apart_and_out_of_order_are_counted_exactly() {
        let xml = wrap(
            r#"<class filename="a"><lines><line number="4000000000" hits="1"/><line number="0" hits="0"/>
               <line number="63" hits="1"/><line number="64" hits="0"/><line number="63" hits="0"/></lines></class>"#,
        );
        assert_eq!(parse_str(&xml).unwrap().totals().0, Counts { covered: 2, valid: 4 });
    }

    #[test]
    fn bad_hits_are_refused_with_the_reason() {
        for (hits, reason) in
            [("-1", "negative"), ("x", "not a whole number"), ("", "empty"), ("99999999999999999999999", "too large")]
        {
            let xml = wrap(&format!(r#"<class filename="a"><lines><line number="1" hits="{hits}"/></lines></class>"#));
            let e = parse_str(&xml).unwrap_err();
            assert!(e.message.contains(reason), "{hits}: {e}");
        }
    }

    #[test]
    fn error_offset_points_at_the_offending_element() {
        let xml = wrap(r#"<class filename="a"><lines><line hits="1"/></lines></class>"#);
        let e = parse_str(&xml).unwrap_err();
        assert_eq!(&xml[e.offset as usize..e.offset as usize + 5], "<line");
        assert!(e.message.contains("`number`"));
    }

    #[test]
    fn non_xml_inputs_are_named() {
        assert!(parse_str("").unwrap_err().message.contains("empty"));
        assert!(parse_str("TN:\nSF:src/lib.rs\nDA:1,1\nend_of_record\n").unwrap_err().message.contains("LCOV"));
        assert!(parse_str("{\"totals\": {}}").unwrap_err().message.contains("JSON"));
        assert!(parse_str("<report name=\"x\"/>").unwrap_err().message.contains("JaCoCo"));
        let opencover = parse_str("<CoverageSession><Summary/></CoverageSession>").unwrap_err();
        assert!(opencover.message.contains("OpenCover"), "{opencover}");
    }

    #[test]
    fn a_parse_error_shows_its_message_and_byte_offset() {
        let xml = "<coverage>\n<packages></package>\n</coverage>";
        let e = parse_str(xml).unwrap_err();
        // The offset is where the bad closing tag starts; the caller turns it into line:column.
        assert!(xml[e.offset as usize..].starts_with("</package>"), "{e}");
        assert_eq!(e.to_string(), format!("{} (byte 21)", e.message));
        assert!(e.message.starts_with("malformed XML"), "{e}");
    }

    #[test]
    fn entity_declarations_are_refused_and_external_dtds_ignored() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE coverage [<!ENTITY a "aaaa">]><coverage>&a;</coverage>"#;
        assert!(parse_str(bomb).unwrap_err().message.contains("entity declarations"));
        let external = r#"<?xml version="1.0"?><!DOCTYPE coverage SYSTEM "https://example.invalid/coverage-04.dtd"><coverage lines-covered="1" lines-valid="2"/>"#;
        assert_eq!(parse_str(external).unwrap().root.lines, Some(Counts { covered: 1, valid: 2 }));
        let undeclared = r#"<coverage><sources><source>&xxe;</source></sources></coverage>"#;
        assert!(parse_str(undeclared).unwrap_err().message.contains("undeclared entity"));
    }

    #[test]
    fn fast_attribute_path_agrees_with_quick_xml() {
        let mut seen = Vec::new();
        let mut take = |n: &[u8], v: &[u8]| {
            seen.push((String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()));
            Ok(())
        };
        assert!(simple_attributes(b" number = '3'\thits=\"0\" ", &mut take).unwrap().is_ok());
        assert_eq!(seen, [("number".to_owned(), "3".to_owned()), ("hits".to_owned(), "0".to_owned())]);
        let mut ignore = |_: &[u8], _: &[u8]| Ok(());
        for odd in [&b"hits=\"&#49;\""[..], b"hits=1", b"=\"1\"", b"hits=\"1\"number=\"2\"", b"hits=\"1"] {
            assert!(simple_attributes(odd, &mut ignore).is_none(), "{}", String::from_utf8_lossy(odd));
        }
        // Both paths give the same answer on a character reference.
        let xml = wrap(r#"<class filename="a"><lines><line number="&#50;" hits="&#49;"/></lines></class>"#);
        assert_eq!(parse_str(&xml).unwrap().totals().0, Counts { covered: 1, valid: 1 });
    }

    #[test]
    fn line_tables_answer_per_line_with_the_dedup_rules_of_the_totals() {
        let xml = wrap(
            r#"<class filename="a.rs"><methods><method><lines><line number="50" hits="9"/></lines></method></methods>
               <lines><line number="1" hits="0"/><line number="2" hits="3"/><line number="64" hits="0"/></lines></class>
               <class filename="b.rs"><lines><line number="7" hits="1"/></lines></class>
               <class filename=".\a.rs"><lines><line number="1" hits="1"/><line number="4000000000" hits="0"/></lines></class>"#,
        );
        let r = parse_str(&xml).unwrap();
        let a = &r.files[0];
        assert_eq!(a.name, "a.rs");
        let t = &a.line_table;
        assert_eq!(
            [0, 1, 2, 3, 50, 63, 64, 65, 4_000_000_000, u32::MAX].map(|n| t.state(n)),
            [None, Some(true), Some(true), None, None, None, Some(false), None, Some(false), None]
        );
        assert_eq!(t.counts(), a.lines);
        assert_eq!(a.lines, Counts { covered: 2, valid: 4 });
        assert_eq!(t.iter().collect::<Vec<_>>(), [(1, true), (2, true), (64, false), (4_000_000_000, false)]);
        assert_eq!(r.files[1].line_table.iter().collect::<Vec<_>>(), [(7, true)]);
        assert_eq!(LineTable::default().state(1), None);
    }

    #[test]
    fn sources_are_kept_in_order_trimmed_and_normalised() {
        let xml = r#"<coverage><sources>
              <source>
                 /home/ci/build/app
              </source>
              <source>C:\work\app\</source>
              <source>  </source><source/>
              <source>/srv/a &amp; b/x&#233;<![CDATA[<y>]]></source>
            </sources>
            <packages><package><classes><class filename="a"><lines><line number="1" hits="1"/></lines></class></classes></package></packages>
            <source>/not/in/sources</source></coverage>"#;
        let r = parse_str(xml).unwrap();
        assert_eq!(r.sources, ["/home/ci/build/app", "C:/work/app/", "/srv/a & b/x\u{e9}<y>"]);
        assert_eq!(r.totals().0, Counts { covered: 1, valid: 1 });
        assert!(parse_str("<coverage/>").unwrap().sources.is_empty());
    }

    #[test]
    fn truncated_report_is_refused() {
        let xml = wrap(r#"<class filename="a"><lines><line number="1" hits="1"/></lines></class>"#);
        let cut = &xml[..xml.len() - 20];
        assert!(parse_str(cut).is_err());
    }
}
