//! Property and mutation tests of the Cobertura parser: random reports agree with a naive
//! model, and thousands of mutated reports never make it panic.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use xtask::coverage::cobertura::{Counts, ParseOptions, parse};

/// xorshift64*: small, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A random report and the totals a naive per-(file, line) model gives for it.
fn random_report(rng: &mut Rng) -> (String, Counts, Counts) {
    let mut model: HashMap<(String, u32), (bool, u32, u32)> = HashMap::new();
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<coverage><packages><package name=\"p\"><classes>\n");
    for _ in 0..rng.below(6) {
        let file = ["src/a.rs", "src/b.rs", "lib/c.py"][rng.below(3)];
        let spelled = match rng.below(3) {
            0 => file.to_owned(),
            1 => file.replace('/', "\\"),
            _ => format!("./{file}"),
        };
        xml.push_str(&format!("<class name=\"k\" filename=\"{spelled}\">"));
        if rng.below(2) == 0 {
            // Method copies: never counted, even for lines the class does not list.
            xml.push_str("<methods><method name=\"m\"><lines>");
            for _ in 0..rng.below(4) {
                xml.push_str(&format!("<line number=\"{}\" hits=\"{}\"/>", rng.below(300), rng.below(3)));
            }
            xml.push_str("</lines></method></methods>");
        }
        xml.push_str("<lines>\n");
        for _ in 0..rng.below(40) {
            let line = [rng.below(70), rng.below(5000), rng.below(u32::MAX as usize)][rng.below(3)] as u32;
            let hits = [0, 1, 7][rng.below(3)];
            let slot = model.entry((file.to_owned(), line)).or_insert((false, 0, 0));
            slot.0 |= hits > 0;
            if rng.below(3) == 0 {
                let total = 1 + rng.below(4) as u32;
                let covered = rng.below(total as usize + 1) as u32;
                slot.1 = slot.1.max(covered);
                slot.2 = slot.2.max(total);
                xml.push_str(&format!(
                    "  <line number=\"{line}\" hits=\"{hits}\" branch=\"true\" condition-coverage=\"x% ({covered}/{total})\"/>\n"
                ));
            } else {
                xml.push_str(&format!("  <line number=\"{line}\" hits=\"{hits}\" branch=\"false\"/>\n"));
            }
        }
        xml.push_str("</lines></class>\n");
    }
    xml.push_str("</classes></package></packages></coverage>\n");
    let lines = Counts { covered: model.values().filter(|v| v.0).count() as u64, valid: model.len() as u64 };
    let branches = Counts {
        covered: model.values().map(|v| u64::from(v.1.min(v.2))).sum(),
        valid: model.values().map(|v| u64::from(v.2)).sum(),
    };
    (xml, lines, branches)
}

#[test]
fn random_reports_agree_with_a_naive_model() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..3_000 {
        let (xml, lines, branches) = random_report(&mut rng);
        let report =
            parse(xml.as_bytes(), ParseOptions { branches: true }).unwrap_or_else(|e| panic!("case {i}: {e}\n{xml}"));
        assert_eq!(report.totals(), (lines, branches), "case {i}:\n{xml}");
        let names: Vec<_> = report.files.iter().map(|f| f.name.clone()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "case {i}: one row per file, sorted");
    }
}

const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</class>",
    "<class filename=\"z\">",
    "<line number=\"1\" hits=\"1\"/>",
    "<lines>",
    "</lines>",
    "<methods>",
    "</methods>",
    "\"",
    "&",
    "&amp;",
    "&#0;",
    "&#xFFFFFFFF;",
    "&lol;",
    "<!ENTITY a \"b\">",
    "<!DOCTYPE x [",
    "]>",
    "<![CDATA[",
    "]]>",
    "<?pi?>",
    "<!--",
    "-->",
    "-1",
    "99999999999999999999999",
    "4294967296",
    "\u{0}",
    "\u{FEFF}",
    "\\",
    "condition-coverage=\"(3/2)\"",
    "branch=\"true\"",
    "\u{e9}",
    "\u{1F680}",
    "\r\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 => {
                if let Some(b) = data.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(128)).min(data.len());
                let copy = data[at..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, copy);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            4 => data.truncate(at),
            _ => {
                if let Some(b) = data.get_mut(at) {
                    let alphabet = b"<>/\"=&; 0-9abz\n";
                    *b = alphabet[rng.below(alphabet.len())];
                }
            }
        }
    }
    data
}

#[test]
fn mutated_reports_never_panic() {
    let producers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/producers");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&producers)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .filter_map(|p| std::fs::read(p).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..8 {
        seeds.push(random_report(&mut rng).0.into_bytes());
    }
    let mut outcomes = BTreeMap::<&str, usize>::new();
    for i in 0..20_000 {
        let seed = &seeds[i % seeds.len()];
        let input = mutate(&mut rng, seed);
        for branches in [false, true] {
            let result = catch_unwind(AssertUnwindSafe(|| parse(input.as_slice(), ParseOptions { branches })));
            match result {
                Err(_) => {
                    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-panic-{i}.xml"));
                    std::fs::write(&keep, &input).unwrap();
                    panic!("parser panicked on mutation {i}; input kept at {}", keep.display());
                }
                Ok(Ok(report)) => {
                    let (lines, b) = report.totals();
                    assert!(lines.covered <= lines.valid && b.covered <= b.valid, "mutation {i}");
                    *outcomes.entry("parsed").or_default() += 1;
                }
                Ok(Err(e)) => {
                    assert!(e.offset <= input.len() as u64, "mutation {i}: offset {} past the end", e.offset);
                    assert!(!e.message.is_empty());
                    *outcomes.entry("refused").or_default() += 1;
                }
            }
        }
    }
    // Both paths must be exercised, or the mutations are too weak (or too strong) to mean much.
    assert!(outcomes["parsed"] > 1_000 && outcomes["refused"] > 1_000, "{outcomes:?}");
}
